"""Sparse regression on the q-ary Fourier basis from any set of scored variants.

``fit(variants, scores, q)`` chooses the large Fourier coefficients of a real function on
Z_q^n from M (variant, score) pairs: random variants, a q-SFT design, or a measured library.
It is a Lasso on complex Fourier coefficients (docs/qsft.md): the modulus |F[k]| is
penalised, so every real effect costs the same whatever its phase, and the fit stays real.

Candidates are grouped by the sites they touch: a site-set block holds every frequency
supported exactly on its sites, all order-1 and order-2 blocks to start with; higher orders
are added only above supported lower-order site sets (hierarchically), or as single
frequencies given by the caller (e.g. those a peeling decoder found). The penalty is chosen
by K-fold cross-validation on the data themselves; the cross-validated R^2 is reported,
never a test-set number. The solver is plmscope's C++ block coordinate descent
(``_core.fourier_lasso_path``): it works on per-cell sums, so 10^7 answers x 16,436
order <= 2 terms fit without an M x K design matrix.
"""
from __future__ import annotations

import itertools
import math
import numbers
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .. import _core
from .fft import check_nthreads, check_q
from .sparse import SparseFourier, as_variants

# A site-set block is tabulated over q^s cells; larger ones are asked for as frequencies.
_MAX_BLOCK_CELLS = 1 << 16
# All orders are tried together when they hold at most this many coefficients.
_MAX_FULL = 1 << 14
# from this many distinct variants on, the penalty is chosen on one held-out fold (see fit)
HOLDOUT_FROM = 200_000
# the all-orders round is tried only with at most this many candidates per answer
_FULL_PER_ANSWER = 4


@dataclass
class Fit:
    """Result of :func:`fit`: the transform and what was chosen, and why."""

    transform: SparseFourier
    cv_r2: float                     # cross-validated R^2 at the chosen penalty
    lam: float                       # penalty of the final fit (the loss is mean squared
                                     # error / 2): the folds' best, times sqrt((K-1)/K)
    lambdas: np.ndarray              # the path that was cross-validated
    cv_r2_path: np.ndarray           # cross-validated R^2 along it (nan: path stopped early)
    folds: int
    num_answers: int                 # scored rows given
    num_variants: int                # distinct variants (duplicates averaged)
    duplicates: int                  # rows that repeated an earlier variant
    candidates_by_order: dict        # order -> candidate coefficients in the chosen model
    support_by_order: dict           # order -> nonzero coefficients (k and -k both counted)
    rounds: list                     # one dict per hierarchical round (order, candidates, cv_r2)
    timings: dict
    noise_floor: float = 0.0         # |F| below it (3 standard errors) is not shown to be real
    penalty_by_order: dict = field(default_factory=dict)  # order -> penalty weight used
    adaptive: bool = False           # the folds chose the adaptive refit (see fit)
    relax: float = 1.0               # final penalty on the chosen support = relax * lam
                                     # (tried below HOLDOUT_FROM variants; 1 = plain Lasso)
    lasso_cv_r2: float = float("nan")  # cross-validated R^2 of the plain Lasso (relax = 1)
    config: dict = field(default_factory=dict)

    def predict(self, x, nthreads: int = 0) -> np.ndarray:
        return self.transform.evaluate(x, nthreads=nthreads)

    def summary(self) -> dict:
        """JSON-able account of the fit."""
        return {
            "num_coefficients": len(self.transform), "cv_r2": self.cv_r2,
            "lambda": self.lam, "relax": self.relax, "lasso_cv_r2": self.lasso_cv_r2,
            "penalty_by_order": {str(k): float(v) for k, v in self.penalty_by_order.items()},
            "adaptive": self.adaptive,
            "folds": self.folds, "num_answers": self.num_answers,
            "num_variants": self.num_variants, "duplicates": self.duplicates,
            "candidates_by_order": {str(k): int(v) for k, v in self.candidates_by_order.items()},
            "support_by_order": {str(k): int(v) for k, v in self.support_by_order.items()},
            "rounds": self.rounds, "timings": dict(self.timings),
            "noise_floor": self.noise_floor,
            "cv_r2_path": [None if not math.isfinite(v) else float(v) for v in self.cv_r2_path],
            "lambdas": [float(v) for v in self.lambdas], **{f"config_{k}": v for k, v in
                                                              self.config.items()},
        }


# -- candidate blocks ------------------------------------------------------------------------

@dataclass(frozen=True)
class _Block:
    sites: tuple                     # site set (empty: the intercept) ...
    freq: tuple | None = None        # ... or one frequency k (then sites holds its support)
    given: bool = False              # a frequency the caller gave (e.g. peeled)

    def cells(self, q: int) -> int:
        return q if self.freq is not None else q ** len(self.sites)

    def coefficients(self, q: int) -> int:
        if self.freq is not None:
            return 1 if q == 2 else 2
        return (q - 1) ** len(self.sites)

    def spec(self, q: int, n: int, weight: float):
        if self.freq is not None:
            mask = np.zeros(q, np.uint8)
            mask[[1, q - 1]] = 1
            return (None, np.asarray(self.freq, np.uint8), mask, weight)
        s = len(self.sites)
        if s == 0:
            return ([], None, np.ones(1, np.uint8), 0.0)
        grid = np.indices((q,) * s).reshape(s, -1)
        mask = np.all(grid != 0, axis=0).astype(np.uint8)
        return (list(self.sites), None, mask, weight)

    def frequencies(self, q: int, n: int, cell_freqs: np.ndarray) -> np.ndarray:
        """Frequencies k in Z_q^n of cell frequencies (flat indices into the block's grid)."""
        out = np.zeros((cell_freqs.size, n), np.uint8)
        if self.freq is not None:
            k = np.asarray(self.freq, np.int64)
            return ((cell_freqs[:, None] * k[None, :]) % q).astype(np.uint8)
        s = len(self.sites)
        digits = np.array(np.unravel_index(cell_freqs, (q,) * s)).T if s else np.zeros((cell_freqs.size, 0))
        out[:, list(self.sites)] = digits
        return out


def _site_blocks(n: int, order: int, q: int):
    return [b for c in itertools.combinations(range(n), order) for b in _blocks_on(tuple(c), q, n)]


def _blocks_on(sites: tuple, q: int, n: int) -> list:
    """The candidates supported exactly on `sites`: one table over the q^s cells, or, where
    that table would be mostly empty frequencies (q = 2 at high order: 1 coefficient, 2^s
    cells), one block per conjugate pair, each over q cells."""
    s = len(sites)
    cells, coefficients = q ** s, (q - 1) ** s
    if cells <= max(64, 4 * coefficients):
        return [_Block(sites)]
    pure = np.array(list(itertools.product(range(1, q), repeat=s)), np.int64)
    out, seen = [], set()
    for digits in pure:
        neg = tuple(int(v) for v in (-digits) % q)
        key = min(tuple(int(v) for v in digits), neg)
        if key in seen:
            continue
        seen.add(key)
        full = dict(zip(sites, key))
        out.append(_Block(sites, tuple(full.get(i, 0) for i in range(n))))
    return out


def _frequency_blocks(extra, q: int, n: int, covered: set) -> list:
    """One block per conjugate pair {k, -k} of the extra frequencies not already covered."""
    out, seen = [], set()
    for k in np.asarray(extra, np.int64).reshape(-1, n):
        support = tuple(int(i) for i in np.flatnonzero(k))
        if not support or support in covered:
            continue
        key = min(tuple(k), tuple((-k) % q))
        if key in seen:
            continue
        seen.add(key)
        out.append(_Block(support, tuple(int(v) for v in key), given=True))
    return out


def _grow(blocks_supported: list, order: int, n: int, q: int) -> list:
    """Site sets of size `order` all of whose (order - 1)-subsets are supported."""
    supported = set(blocks_supported)
    if not supported:
        return []
    candidates = set()
    for S in supported:
        for extra in range(n):
            if extra in S:
                continue
            T = tuple(sorted(S + (extra,)))
            if T in candidates:
                continue
            if all(tuple(sub) in supported for sub in itertools.combinations(T, order - 1)):
                candidates.add(T)
    return [b for T in sorted(candidates) for b in _blocks_on(T, q, n)]


# -- validation ------------------------------------------------------------------------------

def _check_int(name, value, low, high=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < low \
            or (high is not None and value > high):
        bound = f">= {low}" + (f" and <= {high}" if high is not None else "")
        raise ValueError(f"{name} must be an integer {bound}, got {name}={value!r}")
    return int(value)


def _prepare(variants, scores, q, weights):
    if isinstance(variants, np.ndarray) and variants.ndim == 2:
        n = variants.shape[1]
    else:
        variants = np.asarray(variants)
        if variants.ndim != 2:
            raise ValueError(f"variants must be a 2-D (M, n) array, got shape {variants.shape}")
        n = variants.shape[1]
    x = as_variants(variants, q, n, "variants")
    y = np.asarray(scores, dtype=np.float64).reshape(-1) if np.ndim(scores) else None
    if y is None or y.shape[0] != x.shape[0]:
        raise ValueError(f"scores must have one value per variant: {x.shape[0]} variants, "
                         f"got {np.size(scores)} scores")
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise ValueError(f"scores[{bad[0]}] = {y[bad[0]]} is not finite ({bad.size} non-finite "
                         "scores): drop or re-score those variants")
    if weights is None:
        w = np.ones_like(y)
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.shape != y.shape or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("weights must be finite, >= 0 and one per variant")
    if n == 0 or x.shape[0] == 0:
        raise ValueError(f"need at least one site and one scored variant, got variants of "
                         f"shape {x.shape}")
    if q ** n < 2 ** 63:
        # one int64 per variant sorts like the rows (most significant site first), and far
        # faster than numpy's row-wise unique
        place = np.array([q ** (n - 1 - i) for i in range(n)], np.int64)
        _, first, inverse = np.unique(x.astype(np.int64) @ place, return_index=True,
                                      return_inverse=True)
        uniq = x[first]
    else:
        uniq, inverse = np.unique(x, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    wsum = np.bincount(inverse, weights=w, minlength=uniq.shape[0])
    ysum = np.bincount(inverse, weights=w * y, minlength=uniq.shape[0])
    keep = wsum > 0
    yu = np.divide(ysum, wsum, out=np.zeros_like(ysum), where=keep)
    duplicates = int(x.shape[0] - uniq.shape[0])
    return (np.ascontiguousarray(uniq[keep]), yu[keep], wsum[keep], n, duplicates)


def _order_weights(penalty_by_order, n: int) -> dict:
    """Penalty weight of each order 1..n (lambda x weight per |F[k]|; 0 = unpenalised)."""
    if isinstance(penalty_by_order, str):
        if penalty_by_order == "uniform":
            return {s: 1.0 for s in range(1, n + 1)}
        if penalty_by_order != "graded":
            raise ValueError(f"penalty_by_order must be 'graded', 'uniform' or a mapping "
                             f"order -> weight, got penalty_by_order={penalty_by_order!r}")
        # Orders 1 and 2 as in a plain Lasso; above, the candidates of an order grow in
        # number while ever fewer of them are real, so a term needs more evidence to enter.
        # On the 30 shared ESM2 q = 2 landscapes (bench/bench_efficiency.py) this raised the
        # 10th-percentile R^2 at 435 queries from 0.73 to 0.78; lighter main-effect
        # penalties helped the GB1 surrogate but let null main effects in (every one at
        # weight 0), and steeper growth ((s / 2)^2) lost on q = 2.
        return {s: max(1.0, s / 2) for s in range(1, n + 1)}
    try:
        given = {int(k): float(v) for k, v in dict(penalty_by_order).items()}
    except (TypeError, ValueError):
        raise ValueError(f"penalty_by_order must be 'graded', 'uniform' or a mapping order -> "
                         f"weight, got penalty_by_order={penalty_by_order!r}") from None
    bad = {k: v for k, v in given.items() if not (1 <= k <= n) or not (math.isfinite(v) and v >= 0)}
    if bad:
        raise ValueError(f"penalty_by_order needs orders in [1, n={n}] with finite weights "
                         f">= 0, got {bad}")
    return {s: given.get(s, 1.0) for s in range(1, n + 1)}


def _weight(block, state) -> float:
    s = len(block.sites)
    # A frequency a decoder found already has evidence of its own: it is penalised like a
    # pair, not like one of the many candidates of its order.
    return 0.0 if not s else 1.0 if block.given else state["weights"][s]


def _spec(block, state, weight=None):
    """The solver's spec of a block at its order's weight, or at `weight` (not the mean)."""
    return block.spec(state["q"], state["n"],
                      _weight(block, state) if weight is None or not block.sites else weight)


# -- the fit ---------------------------------------------------------------------------------

def fit(variants, scores, q: int, *, max_order: int | None = None, frequencies=None,
        folds: int | None = None, seed: int = 0, nthreads: int = 0, weights=None,
        num_lambdas: int = 20, lambda_ratio: float | None = None,
        max_coefficients: int = 2_000_000, tol: float = 1e-5,
        penalty_by_order="graded", adaptive: bool = True) -> Fit:
    """Sparse q-ary Fourier transform of a function from scored variants.

    Parameters
    ----------
    variants : (M, n) integers in [0, q)
        Variants in plmscope's encoding (docs/conventions.md).
    scores : (M,) finite floats
        Their scores. Repeated variants are averaged (weighted by count), and counted in
        ``Fit.duplicates``.
    q : int
        Alphabet size.
    max_order : int or None
        Highest interaction order considered (None: grow hierarchically as far as the
        cross-validated R^2 improves). Orders 1 and 2 are always candidates where they fit in
        ``max_coefficients``; an order above 2 is added only for site sets whose every
        subset one order lower is in the model.
    frequencies : (K, n) integers or None
        Extra candidate frequencies of any order (with their mirrors), e.g. a peeling
        decoder's support: kept if the data support them.
    folds : int or None
        Cross-validation folds (>= 2) for choosing the penalty; the reported ``cv_r2`` is
        the pooled out-of-fold R^2 at the chosen penalty. None: 5, or 3 from 100,000
        distinct variants on (where every fold already holds tens of thousands). From
        200,000 distinct variants on only the first fold is held out and fitted (a
        validation split of a third: its R^2 is within about 0.002 of the pooled one).
    seed : int
        Seeds the fold assignment: the same data and seed give the same fit.
    nthreads : int
        Threads (0 = all cores): folds run side by side, the final fit splits samples.
    weights : (M,) floats >= 0 or None
        Per-variant weights of the squared error (e.g. inverse measurement variances).
    num_lambdas, lambda_ratio : path of penalties from the smallest that keeps every term
        out, down to lambda_ratio times it (default 1e-3 with more answers than candidates,
        else 1e-2); a fold's path stops early once its held-out error has risen for 4 points.
    penalty_by_order : "graded", "uniform" or a mapping order -> weight >= 0
        Each coefficient of order s is penalised by lambda x weight(s). "graded" (default):
        weight(s) = max(1, s / 2) (1 for orders 1 and 2, 1.5 for 3, 2 for 4, ...).
        "uniform": the plain Lasso (every weight 1). Orders a mapping leaves out get
        weight 1. ``Fit.penalty_by_order``
        says what was used.
    adaptive : bool
        After the Lasso, refit with each site-set block's penalty divided by the norm of its
        coefficients there (an adaptive Lasso over site sets; empty blocks stay out), each
        fold weighted by its own Lasso fit; kept only if the held-out folds prefer it
        (``Fit.adaptive``). Real interactions crowd on few site sets: their blocks are
        then barely shrunk while the many blocks holding only noise are held out.

    The penalty shrinks every kept coefficient by about lambda. Below HOLDOUT_FROM variants
    the chosen support is refitted at relax * lambda for relax in RELAX (a relaxed Lasso),
    with relax chosen on the same held-out folds (``Fit.relax``; ``Fit.lasso_cv_r2`` is the
    plain Lasso's R^2). The final fit on all answers starts from the folds' mean solution.
    """
    t_start = time.perf_counter()
    q = check_q(q)
    if q > 256:
        raise ValueError(f"q must be <= 256 (sites are stored as bytes), got q={q}")
    nthreads = check_nthreads(nthreads)
    if folds is not None:
        folds = _check_int("folds", folds, 2)
    num_lambdas = _check_int("num_lambdas", num_lambdas, 1)
    seed = _check_int("seed", seed, 0)
    if not isinstance(adaptive, (bool, np.bool_)):
        raise ValueError(f"adaptive must be True or False, got adaptive={adaptive!r}")
    x, y, w, n, duplicates = _prepare(variants, scores, q, weights)
    if max_order is not None:
        max_order = _check_int("max_order", max_order, 0)
        if max_order > n:
            raise ValueError(f"max_order={max_order} is larger than the number of sites n={n}")
    top = n if max_order is None else max_order
    M = x.shape[0]
    weights_by_order = _order_weights(penalty_by_order, n)
    if folds is None:
        folds = 5 if M < 100_000 else 3
    if M < 2 * folds:
        raise ValueError(f"{M} distinct scored variants are too few for {folds}-fold "
                         f"cross-validation: need at least {2 * folds} (or lower folds=)")
    if lambda_ratio is not None and not (0 < lambda_ratio < 1):
        raise ValueError(f"lambda_ratio must be in (0, 1), got {lambda_ratio!r}")
    timings = {}

    blocks = [_Block(())]
    budget = max_coefficients
    for order in (1, 2):
        if order > top:
            break
        new = _site_blocks(n, order, q)
        size = sum(b.coefficients(q) for b in new)
        if size > budget or (new and new[0].cells(q) > _MAX_BLOCK_CELLS):
            if order == 1:
                raise ValueError(f"the {size:,} order-1 candidates exceed max_coefficients="
                                 f"{max_coefficients:,}")
            break
        blocks += new
        budget -= size
    covered = {b.sites for b in blocks}
    extra = []
    if frequencies is not None:
        extra_f = as_variants(frequencies, q, n, "frequencies")
        if max_order is not None:
            extra_f = extra_f[np.count_nonzero(extra_f, axis=1) <= max_order]
        extra = _frequency_blocks(extra_f, q, n, covered)

    rng = np.random.default_rng(seed)
    fold_of = rng.permutation(M) % folds
    # With a few hundred thousand variants one held-out fold already estimates the R^2 to
    # about +-0.002 (its standard error shrinks as 1/sqrt(held-out)); fitting every fold would
    # multiply the time for no visible change in the chosen penalty.
    evaluated = list(range(folds)) if M < HOLDOUT_FROM else [0]
    state = dict(x=x, y=y, w=w, q=q, n=n, folds=folds, fold_of=fold_of, nthreads=nthreads,
                 evaluated=evaluated, weights=weights_by_order,
                 num_lambdas=num_lambdas, lambda_ratio=lambda_ratio, tol=tol,
                 unit_weights=bool(np.all(w == 1)))

    t0 = time.perf_counter()
    best = _cross_validate(blocks + extra, state)
    rounds = [{"order": max(len(b.sites) for b in blocks), "candidates": best["candidates"],
               "cv_r2": best["cv_r2"]}]
    order = rounds[0]["order"]
    while order < top:
        order += 1
        # where a new block is cheap (q = 2: one coefficient) any supported parent will do;
        # large tables (q = 20: 6,859 coefficients a triple) grow only above real terms
        parents = best["supported_blocks"] if q ** order <= 64 else best["strong_blocks"]
        supported = [blk.sites for blk in parents if len(blk.sites) == order - 1]
        new = [b for b in _grow(supported, order, n, q) if b.sites not in covered]
        if not new or new[0].cells(q) > _MAX_BLOCK_CELLS:
            break
        size = sum(b.coefficients(q) for b in new)
        if size > min(budget, 4 * M):
            # more terms than four per answer: the data cannot choose among them
            rounds.append({"order": order, "candidates": size, "cv_r2": None,
                           "skipped": f"{size:,} candidates exceed the budget of "
                                      f"{min(budget, 4 * M):,}"})
            break
        budget -= size
        blocks = blocks + new
        covered |= {b.sites for b in new}
        extra = [e for e in extra if e.sites not in covered]
        trial = _cross_validate(blocks + extra, state)
        rounds.append({"order": order, "candidates": trial["candidates"],
                       "cv_r2": trial["cv_r2"]})
        if not trial["cv_r2"] > best["cv_r2"]:
            break
        best = trial
    # Every site set up to `top` at once, where that is small: real landscapes can carry
    # high-order terms whose lower-order subsets are weak, which the hierarchy never reaches.
    everything = sum(math.comb(n, s) * (q - 1) ** s for s in range(1, top + 1))
    largest = max(len(b.sites) for b in blocks)
    if largest < top and everything <= min(max_coefficients, _MAX_FULL, _FULL_PER_ANSWER * M):
        full = [b for s in range(top + 1) for b in ([_Block(())] if s == 0 else _site_blocks(n, s, q))]
        rest = [e for e in extra if len(e.sites) > top]
        trial = _cross_validate(full + rest, state)
        rounds.append({"order": top, "candidates": trial["candidates"], "cv_r2": trial["cv_r2"],
                       "all_orders": True})
        if trial["cv_r2"] > best["cv_r2"]:
            best = trial
    timings["cross_validation"] = time.perf_counter() - t0 - best["final_fit"]
    timings["final_fit"] = best["final_fit"]
    t0 = time.perf_counter()
    lasso_cv = best["cv_r2"]
    if adaptive:
        best = _adapt(best, state)
    timings["adaptive"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    # With hundreds of thousands of answers the penalty is ~1e-2 of the effects, and on the
    # GB1 surrogate the folds chose no relaxation at 10^5 and 10^6: skip its cost there.
    if M < HOLDOUT_FROM:
        best = _relax(best, state)
    timings["relax"] = time.perf_counter() - t0

    chosen = best["blocks"]
    transform = _transform(chosen, best["coefficients"], q, n)
    timings["total"] = time.perf_counter() - t_start

    orders = transform.orders()
    support = {int(o): int(np.sum(orders == o)) for o in np.unique(orders) if o > 0}
    cand = {}
    for b in chosen:
        o = len(b.sites)
        if o:
            cand[o] = cand.get(o, 0) + b.coefficients(q)
    return Fit(
        transform=transform, cv_r2=float(best["cv_r2"]), lam=float(best["lam"]),
        lambdas=best["lambdas"], cv_r2_path=best["cv_r2_path"], folds=folds,
        num_answers=int(np.asarray(scores).size), num_variants=M, duplicates=duplicates,
        candidates_by_order=dict(sorted(cand.items())), support_by_order=support,
        rounds=rounds, timings=timings, noise_floor=float(best["noise_floor"]),
        relax=float(best["relax"]), lasso_cv_r2=float(lasso_cv),
        penalty_by_order=weights_by_order, adaptive=bool(best.get("adaptive", False)),
        config={"q": q, "n": n, "max_order": max_order, "folds": folds,
                "folds_evaluated": len(evaluated), "seed": seed,
                "num_lambdas": num_lambdas, "extra_frequencies": len(extra)},
    )


def _path(blocks, state, x, y, w, lambdas, xv, nthreads, max_active=-1, yv=None, wv=None,
          start=None, specs=None, **options):
    """The solver's path over `blocks` at their orders' weights (or over `specs`)."""
    if specs is None:
        specs = [_spec(b, state) for b in blocks]
    if state["unit_weights"]:  # the solver's passes skip reading weights that are all 1
        w = wv = None
    return _core.fourier_lasso_path(x, y, w, state["q"], specs,
                                    np.ascontiguousarray(lambdas, np.float64),
                                    xv, yv, wv, tol=state["tol"], max_active=max_active,
                                    nthreads=nthreads, start=start, **options)


def _held_out_sse(res, yte, wte, num_lambdas) -> np.ndarray:
    """Weighted squared error on the held-out answers per penalty (inf where the path
    stopped early)."""
    err = np.full(num_lambdas, np.inf)
    pred = res["predictions"]
    err[: pred.shape[0]] = ((pred - yte[None, :]) ** 2) @ wte
    return err


def _r2_path(sse, sst) -> np.ndarray:
    r2 = 1 - sse / sst if sst > 0 else np.where(np.isfinite(sse), 1.0, -np.inf)
    return np.where(np.isfinite(r2), r2, np.nan)


def _noise_floor(sse, held_weight, w) -> float:
    """3 standard errors of one coefficient's estimate, sigma from the held-out error."""
    sigma = math.sqrt(sse / held_weight) if np.isfinite(sse) else 0.0
    return 3 * sigma / math.sqrt(w.sum())


def _scatter(flat, specs, offsets, like) -> np.ndarray:
    """A restricted solution (one run of cells per spec) back in the layout of `like`."""
    coef, at = np.zeros_like(like), 0
    for sp, o in zip(specs, offsets):
        c = len(sp[2])
        coef[o: o + c] = flat[at: at + c]
        at += c
    return coef


def _lambda_floor(state) -> float:
    """Penalties below it only fit rounding errors (1e-9 of the scores' spread)."""
    if "lambda_floor" not in state:
        y, w = state["y"], state["w"]  # every weight > 0 (see _prepare)
        spread = math.sqrt(np.average((y - np.average(y, weights=w)) ** 2, weights=w))
        state["lambda_floor"] = 1e-9 * spread if spread > 0 else np.finfo(float).tiny
    return state["lambda_floor"]


def _fold_threads(state) -> tuple[int, int]:
    """(folds fitted side by side, threads within each fold)."""
    total = state["nthreads"] or _cores()
    workers = max(1, min(len(state["evaluated"]), total))
    return workers, max(1, total // workers)


def _split(state, k: int) -> tuple:
    """(x, y, w of the training answers, x, y, w of the held-out ones) of fold k, contiguous;
    made once per fit and shared by every round of growth and by the relaxation."""
    splits = state.setdefault("splits", {})
    if k not in splits:
        x, y, w = state["x"], state["y"], state["w"]
        train = state["fold_of"] != k
        splits[k] = tuple(np.ascontiguousarray(a) for a in
                          (x[train], y[train], w[train], x[~train], y[~train], w[~train]))
    return splits[k]


def _cross_validate(blocks, state) -> dict:
    """Lasso path over `blocks`, K-fold cross-validated; the best point and its support."""
    x, y, w, q, n = state["x"], state["y"], state["w"], state["q"], state["n"]
    fold_of, nthreads = state["fold_of"], state["nthreads"]
    candidates = sum(b.coefficients(q) for b in blocks if b.sites)
    lmax = _path(blocks, state, x, y, w, np.zeros(0), np.zeros((0, n), np.uint8),
                 nthreads)["lambda_max"]
    ratio = state["lambda_ratio"] or (1e-3 if x.shape[0] > candidates else 1e-2)
    L = state["num_lambdas"]
    # Noiseless data that the unpenalised part (the mean, orders given weight 0) explains
    # leave lambda_max at rounding level: a path below it would only fit rounding errors.
    floor = _lambda_floor(state)
    lambdas = lmax * np.logspace(0, math.log10(ratio), L) if lmax > floor else np.array([floor])

    workers, inner = _fold_threads(state)

    def one_fold(k):
        xtr, ytr, wtr, xte, yte, wte = _split(state, k)
        res = _path(blocks, state, xtr, ytr, wtr, lambdas, xte, inner,
                    max_active=int(ytr.size), yv=yte, wv=wte)
        return _held_out_sse(res, yte, wte, len(lambdas)), res["coefficients"]

    evaluated = state["evaluated"]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        per_fold = list(pool.map(one_fold, evaluated))
    sse = np.sum([err for err, _ in per_fold], axis=0)
    held = np.isin(fold_of, evaluated)
    mean = np.average(y[held], weights=w[held])
    sst = float(np.sum(w[held] * (y[held] - mean) ** 2))
    r2 = _r2_path(sse, sst)
    index = int(np.nanargmax(r2)) if np.any(np.isfinite(r2)) else 0
    # The fit at the chosen penalty on all data (also drives hierarchical growth), started
    # from the folds' mean there: the same convex problem as the path's end, reached in a few
    # sweeps instead of a whole path.
    # The folds chose the penalty for their training share of the answers; the Lasso's best
    # penalty falls as 1/sqrt(answers) (it tracks the noise of a coefficient's estimate), so
    # the fit on every answer uses it scaled by sqrt(share).
    t0 = time.perf_counter()
    lam = float(lambdas[index]) * math.sqrt(1 - 1 / state["folds"])
    start = np.mean([c[index] for _, c in per_fold if c.shape[0] > index], axis=0) \
        if all(c.shape[0] > index for _, c in per_fold) else None
    if start is None:
        res = _path(blocks, state, x, y, w, np.append(lambdas[: index + 1], lam),
                    np.zeros((0, n), np.uint8), nthreads)
    else:
        res = _path(blocks, state, x, y, w, [lam], np.zeros((0, n), np.uint8), nthreads,
                    start=start)
    coef = res["coefficients"][-1].copy()
    # The noise of one coefficient's estimate (3 standard errors, sigma from the
    # cross-validated error): smaller terms help prediction a little but are not shown to be
    # interactions. Reports flag them; hierarchical growth starts only above it.
    held_weight = float(w[held].sum())
    floor = _noise_floor(sse[index], held_weight, w)
    supported, strong = [], []
    for b, _, part in _parts(blocks, coef, q):
        magnitude = np.abs(part)
        if np.any(magnitude > 0):
            supported.append(b)
        if np.any(magnitude >= floor):
            strong.append(b)
    return {"blocks": blocks, "lambdas": lambdas, "cv_r2_path": r2, "index": index, "lam": lam,
            "fold_coefficients": [c[index] for _, c in per_fold], "sst": sst, "relax": 1.0,
            "held_weight": held_weight,
            "cv_r2": float(r2[index]) if np.isfinite(r2[index]) else -math.inf,
            "candidates": candidates, "supported_blocks": supported, "coefficients": coef,
            "strong_blocks": strong,
            "noise_floor": floor,
            "final_fit": time.perf_counter() - t0}


def _parts(blocks, coef, q):
    """(block, offset, its coefficients) for each block of the flat coefficient layout."""
    offset = 0
    for b in blocks:
        c = b.cells(q)
        yield b, offset, coef[offset: offset + c]
        offset += c


def _block_norms(blocks, coef, q) -> np.ndarray:
    return np.array([np.linalg.norm(part) for _, _, part in _parts(blocks, coef, q)])


def _adaptive_weights(blocks, coef, state) -> np.ndarray:
    """Per-block penalty weights order_weight / ||F_block|| (an adaptive Lasso over site
    sets), scaled so their median over the kept penalised blocks is the order weight's;
    inf where the block is empty."""
    norms = _block_norms(blocks, coef, state["q"])
    base = np.array([_weight(b, state) for b in blocks])
    kept = (norms > 0) & (base > 0)
    if not np.any(kept):
        return None
    ref = float(np.median(norms[kept]))
    out = np.where(base > 0, np.inf, 0.0)
    out[kept] = base[kept] * ref / norms[kept]
    return out


def _adapt(best, state) -> dict:
    """Refits with block weights from the chosen fit (each fold from its own coefficients,
    so the held-out R^2 stays honest); kept if the folds prefer it."""
    x, y, w, q, n = state["x"], state["y"], state["w"], state["q"], state["n"]
    blocks, nthreads = best["blocks"], state["nthreads"]
    full = _adaptive_weights(blocks, best["coefficients"], state)
    fold_w = [_adaptive_weights(blocks, c, state) for c in best["fold_coefficients"]]
    if full is None or any(f is None for f in fold_w):
        return best

    offsets = np.concatenate([[0], np.cumsum([b.cells(q) for b in blocks])])

    def restricted(weights):
        """Specs and offsets of the blocks a weight vector keeps (finite weights)."""
        keep = [i for i, b in enumerate(blocks) if not b.sites or np.isfinite(weights[i])]
        return [_spec(blocks[i], state, float(weights[i])) for i in keep], offsets[keep]

    specs_full, offsets_full = restricted(full)
    lmax = _path(None, state, x, y, w, np.zeros(0), np.zeros((0, n), np.uint8), nthreads,
                 specs=specs_full)["lambda_max"]
    if not lmax > _lambda_floor(state):
        return best
    lambdas = lmax * np.logspace(0, -3, state["num_lambdas"])
    workers, inner = _fold_threads(state)

    def one_fold(args):
        k, weights = args
        xtr, ytr, wtr, xte, yte, wte = _split(state, k)
        specs, offs = restricted(weights)
        res = _path(None, state, xtr, ytr, wtr, lambdas, xte, inner, max_active=int(ytr.size),
                    yv=yte, wv=wte, specs=specs)
        return _held_out_sse(res, yte, wte, len(lambdas)), specs, offs, res["coefficients"]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        per_fold = list(pool.map(one_fold, zip(state["evaluated"], fold_w)))
    sse = np.sum([f[0] for f in per_fold], axis=0)
    r2 = _r2_path(sse, best["sst"])
    if not np.any(np.isfinite(r2)):
        return best
    index = int(np.nanargmax(r2))
    if not r2[index] > best["cv_r2"]:
        return best
    lam = float(lambdas[index]) * math.sqrt(1 - 1 / state["folds"])
    res = _path(None, state, x, y, w, np.append(lambdas[: index + 1], lam),
                np.zeros((0, n), np.uint8), nthreads, specs=specs_full)
    like = best["coefficients"]
    return {**best, "coefficients": _scatter(res["coefficients"][-1], specs_full, offsets_full,
                                             like),
            "cv_r2": float(r2[index]), "lam": lam, "lambdas": lambdas, "cv_r2_path": r2,
            "index": index, "adaptive": True,
            "fold_coefficients": [_scatter(c[index], sp, offs, like)
                                  for _, sp, offs, c in per_fold],
            "block_weights": full, "fold_block_weights": dict(zip(state["evaluated"], fold_w)),
            "noise_floor": _noise_floor(sse[index], best["held_weight"], w)}


# Penalty factors tried on the chosen support. The Lasso shrinks every kept coefficient by
# about lambda; refitting the support at a fraction of it (a relaxed Lasso) removes most of
# that bias, and the held-out folds say how much of it to remove (1: none).
RELAX = (1.0, 0.5, 0.25, 0.1, 0.0)


def _support_specs(blocks, coef, state, block_weights=None):
    """Specs of the blocks with support in coef, each masked to its nonzero cells, and
    their offsets into the full coefficient layout."""
    specs, offsets = [], []
    for i, (b, offset, part) in enumerate(_parts(blocks, coef, state["q"])):
        spec = _spec(b, state, None if block_weights is None else float(block_weights[i]))
        if not b.sites:
            specs.append(spec)
            offsets.append(offset)
        elif np.any(part != 0):
            mask = (part != 0).astype(np.uint8)
            specs.append((spec[0], spec[1], mask, spec[3]))
            offsets.append(offset)
    return specs, offsets


def _restricted_path(blocks, coef, state, x, y, w, lambdas, xv, nthreads, yv=None, wv=None,
                     block_weights=None):
    specs, offsets = _support_specs(blocks, coef, state, block_weights)
    start = np.concatenate([coef[o: o + len(sp[2])] for sp, o in zip(specs, offsets)])
    res = _path(None, state, x, y, w, lambdas, xv, nthreads, yv=yv, wv=wv, start=start,
                specs=specs, patience=len(lambdas) + 1)
    return res, specs, offsets


def _relax(best, state) -> dict:
    """Chooses the relaxed penalty on the held-out folds and refits the support with it."""
    x, y, w, n = state["x"], state["y"], state["w"], state["n"]
    nthreads, blocks = state["nthreads"], best["blocks"]
    lam = float(best["lambdas"][best["index"]])  # the folds' penalty (final: best["lam"])
    if not lam > 0 or not math.isfinite(best["cv_r2"]):
        return best
    factors = np.array(RELAX)
    workers, inner = _fold_threads(state)

    def one_fold(args):
        k, coef = args
        xtr, ytr, wtr, xte, yte, wte = _split(state, k)
        res, _, _ = _restricted_path(blocks, coef, state, xtr, ytr, wtr, lam * factors, xte,
                                     inner, yv=yte, wv=wte,
                                     block_weights=best.get("fold_block_weights", {}).get(k))
        return _held_out_sse(res, yte, wte, len(factors))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        sse = np.sum(list(pool.map(one_fold, zip(state["evaluated"],
                                                 best["fold_coefficients"]))), axis=0)
    r2 = 1 - sse / best["sst"] if best["sst"] > 0 else np.zeros_like(sse)
    pick = int(np.argmax(r2))
    if pick == 0 or not r2[pick] > best["cv_r2"]:
        return best
    res, specs, offsets = _restricted_path(blocks, best["coefficients"], state, x, y, w,
                                           [best["lam"] * factors[pick]],
                                           np.zeros((0, n), np.uint8), nthreads,
                                           block_weights=best.get("block_weights"))
    coef = _scatter(res["coefficients"][-1], specs, offsets, best["coefficients"])
    return {**best, "coefficients": coef, "cv_r2": float(r2[pick]),
            "relax": float(factors[pick]),
            "noise_floor": _noise_floor(sse[pick], best["held_weight"], w)}


def _transform(blocks, coef, q, n) -> SparseFourier:
    freqs, vals = [], []
    for b, _, part in _parts(blocks, coef, q):
        nz = np.flatnonzero(part)
        if nz.size:
            freqs.append(b.frequencies(q, n, nz))
            vals.append(part[nz])
    if not freqs:
        return SparseFourier(np.zeros((1, n), np.uint8), np.zeros(1, complex), q)
    # a frequency that is its own mirror appears twice in its block (cell frequencies 1 and
    # q - 1 both map to it): its coefficients add
    freqs, inverse = np.unique(np.vstack(freqs), axis=0, return_inverse=True)
    values = np.zeros(freqs.shape[0], complex)
    np.add.at(values, inverse.reshape(-1), np.concatenate(vals))
    return SparseFourier(freqs, values, q)


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
