"""q-SFT: recover the sparse q-ary Fourier transform of an expensive black-box function."""
from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import special

from ... import _core
from ..._memory import require_memory
from ..._checks import check_int as _check_int, check_nthreads, check_q
from ..sparse import SparseFourier
from . import design, transform as _transform
from .refine import bin_energy, complete_low_orders, conjugate_closure, refit, symmetrize
from .ask import ask_batches

_GIB = 1024**3


# -- planning ------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueryPlan:
    """What a q-SFT run costs before it runs."""

    q: int
    n: int
    b: int
    num_subsample: int
    delays: str
    num_repeat: int
    num_delays: int          # P
    num_bins: int            # q^b per group
    num_samples: int         # C q^b P design points (the paper's query count)
    memory_bytes: int        # peak working memory of design, transform and decoder

    def __str__(self) -> str:
        return (f"q-SFT plan: {self.num_samples:,} queries = {self.num_subsample} subsamples x "
                f"{self.q}^{self.b} = {self.num_bins:,} bins x {self.num_delays} delays "
                f"({self.delays}, {self.num_repeat} repeat(s)); at most {self.num_samples:,} "
                f"oracle calls: {DEDUP_NOTE}; ~{self.memory_bytes / _GIB:.2f} GiB of memory")


# Why and how recover de-duplicates (the plan printout says it).
DEDUP_NOTE = ("points that coincide are asked once, found from the design's structure (two "
              "groups always share the P points l = 0; other coincidences are solved for "
              "from the matrices, not sorted out of all points), asked in design order")


def plan(q: int, n: int, b: int, num_subsample: int = 3, delays: str = "nso",
         num_repeat: int = 1) -> QueryPlan:
    """Number of queries and memory of a q-SFT run with these arguments (nothing runs)."""
    q = check_q(q)
    if q > 256:
        raise ValueError(f"q must be <= 256, got q={q}")
    n = _check_int("n", n, 1)
    b = _check_int("b", b, 1)
    if b > n:
        raise ValueError(f"b={b} must be <= n={n}: there are only n sites to subsample")
    num_subsample = _check_int("num_subsample", num_subsample, 1)
    num_repeat = _check_int("num_repeat", num_repeat, 1)
    if delays not in design.DELAY_KINDS:
        raise ValueError(f"delays must be one of {design.DELAY_KINDS}, got delays={delays!r}")
    if delays == "identity" and num_repeat != 1:
        raise ValueError(f"identity delays have no repeats; got num_repeat={num_repeat} "
                         "(use delays='nso' for repeated noise-robust delays)")
    P = num_repeat * (n + 1)
    bins = q**b
    samples = num_subsample * bins * P
    # points (n bytes), codes + answers (16), bins twice (32), transform scratch (16) per sample
    memory = samples * (n + 64)
    return QueryPlan(q, n, b, num_subsample, delays, num_repeat, P, bins, samples, memory)


# -- the result ----------------------------------------------------------------------------

@dataclass
class Recovery:
    """Result of :func:`recover`."""

    transform: SparseFourier
    num_queries: int                 # distinct variants the oracle answered
    num_samples: int                 # design points C q^b P
    timings: dict                    # seconds: design, dedup, oracle, transform, decode, refine
    noise_sd: float                  # per-query noise standard deviation used
    noise_threshold: float           # bin energy below which a bin counts as empty
    singletons_per_round: list       # singletons accepted in each peeling round
    bins_left: int                   # bins still above the noise threshold at the end
    residual_energy: float           # sum |U|^2 left in the bins at the end
    plan: QueryPlan = None
    config: dict = field(default_factory=dict)
    decoder: str = "peel"            # the decoder that produced `transform`
    stages: np.ndarray = None        # per coefficient: the decoding stage that produced it
    fit: object = None               # the regression Fit (decoder "regress"), else None
    dedup: str = "structure"         # duplicates solved from the matrices, or "sort"

    def summary(self) -> dict:
        return {
            "num_coefficients": len(self.transform), "num_queries": self.num_queries,
            "num_samples": self.num_samples, "noise_sd": self.noise_sd,
            "noise_threshold": self.noise_threshold, "bins_left": self.bins_left,
            "residual_energy": self.residual_energy,
            "singletons_per_round": list(map(int, self.singletons_per_round)),
            "timings": dict(self.timings), "decoder": self.decoder, "dedup": self.dedup,
            "cv_r2": None if self.fit is None else self.fit.cv_r2,
            **{f"config_{k}": v for k, v in self.config.items()},
        }


# -- thresholds ----------------------------------------------------------------------------


def bin_noise_variance(bins: np.ndarray, noise_sd, q: int, b: int) -> tuple[float, float]:
    """(per-query noise sd, per-bin-entry noise variance nu^2).

    With white noise of variance sigma^2 on f, every bin entry carries complex noise of
    variance nu^2 = sigma^2 / q^b. "auto" estimates it from the bins themselves: in a
    sparse spectrum most bins hold no coefficient, and an empty bin's mean power over the P
    delays is nu^2 Gamma(P, 1/P). The lower quartile of the bins' power divided by that
    distribution's lower quartile estimates nu^2 as long as a quarter of the bins are empty
    (with fewer empty bins, b is too small for the spectrum: pass noise_sd).
    """
    P = bins.shape[-1]
    power = bin_energy(bins) / P
    if not np.isfinite(power).all():
        raise ValueError(
            "the oracle's scores are too large in magnitude for q-SFT in float64: their bin "
            "energies (squared sums of scores) overflow, so no coefficient could be told from "
            "noise; rescale the scores (e.g. divide them by a power of ten) and recover again")
    floor = 1e-20 * float(power.mean()) + 1e-300
    if isinstance(noise_sd, str):
        if noise_sd != "auto":
            raise ValueError(f"noise_sd must be 'auto' or a number >= 0, got {noise_sd!r}")
        nu2 = float(np.quantile(power, 0.25)) / (special.gammaincinv(P, 0.25) / P)
    else:
        if not (isinstance(noise_sd, numbers.Real) and noise_sd >= 0 and math.isfinite(noise_sd)):
            raise ValueError(f"noise_sd must be 'auto' or a finite number >= 0, got {noise_sd!r}")
        nu2 = float(noise_sd) ** 2 / q**b
    nu2 = max(nu2, floor)
    return math.sqrt(nu2 * q**b), nu2


# -- recovery ------------------------------------------------------------------------------

def recover(oracle: Callable, q: int, n: int, b: int, num_subsample: int = 3,
            delays: str = "nso", num_repeat: int = 1, noise_sd="auto", refine: bool = True,
            seed: int = 0, store=None, nthreads: int = 0, batch_size: int = 10_000,
            executor=None, progress: bool | None = None, max_rounds: int = 100,
            false_alarm: float = 0.1, decoder: str = "auto") -> Recovery:
    """Recover the large Fourier coefficients of ``oracle`` on Z_q^n with q-SFT.

    Parameters
    ----------
    oracle : callable
        Takes an (m, n) uint8 array of variants, returns m floats. Called in batches of
        ``batch_size`` and never twice for the same variant.
    q, n, b : int
        Alphabet size, number of sites, subsampling dimension (q^b bins per group).
    num_subsample : int
        Number C of subsampling groups.
    delays : {"nso", "identity"}
        Delay design; ``num_repeat`` random NSO blocks of n + 1 delays each.
    noise_sd : "auto" or float
        Standard deviation of the per-query noise; "auto" estimates it from the bins.
    refine : bool
        Least-squares refit of the found coefficients on all queries made (no oracle calls),
        then one more peeling pass on what is left.
    seed : int
        Seeds the design; the same arguments give the same queries and the same result.
    store : path or None
        Folder where answered batches are saved before the next is asked; a killed run
        restarted with the same arguments re-asks nothing.
    nthreads : int
        Threads for transforms and decoding (0 = all cores).
    executor : object with ``run(oracle, tasks, on_result)`` or None (local)
        Where the oracle batches run (e.g. a Ray cluster); answers come back through
        ``on_result`` and go to the same store.
    false_alarm : float
        Expected number of empty bins, over all groups, mistaken for a coefficient.
    decoder : {"auto", "regress", "peel"}
        "peel": the q-SFT peeling decoder alone (with ``refine``), as in the paper.
        "regress": a cross-validated sparse regression (:func:`plmscope.fourier.fit`) over
        every answer of the design, with all order <= 2 terms and the peeled frequencies as
        candidates, so high-order terms that peeling finds are kept. "auto" (default) is
        "regress" up to AUTO_REGRESS_MAX_SAMPLES design points, where it predicts better at
        equal queries (bench/bench_efficiency.py), and "peel" above.
    """
    if not callable(oracle):
        raise ValueError(f"oracle must be callable (variants -> scores), got {type(oracle).__name__}")
    the_plan = plan(q, n, b, num_subsample, delays, num_repeat)
    q, n, b = the_plan.q, the_plan.n, the_plan.b
    nthreads = check_nthreads(nthreads)
    batch_size = _check_int("batch_size", batch_size, 1)
    if not 0 < false_alarm:
        raise ValueError(f"false_alarm must be > 0, got {false_alarm!r}")
    decoder = resolve_decoder(decoder, the_plan.num_samples)
    if the_plan.num_bins > 2**40:
        raise ValueError(f"q^b = {q}^{b} = {the_plan.num_bins:.3g} bins per subsample is too many; "
                         "choose a smaller b")
    require_memory(the_plan.memory_bytes,
                   f"q-SFT with q^b = {q}^{b} = {the_plan.num_bins:,} bins per subsample "
                   f"({the_plan.num_samples:,} queries)")
    timings = {}

    matrices, delay_rows, unique, inverse, dedup = _design(the_plan, seed, nthreads, timings)

    t0 = time.perf_counter()
    answers = ask_batches(oracle, unique, batch_size, store, {
        "q": q, "n": n, "b": b, "num_subsample": num_subsample, "delays": delays,
        "num_repeat": num_repeat, "seed": seed}, executor, progress)
    timings["oracle"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    mean = float(answers.mean()) if answers.size else 0.0  # only F[0] changes; added back at the end
    bins = _transform.bins(answers, inverse, mean, num_subsample, the_plan.num_delays, q, b,
                           nthreads)
    del inverse
    timings["transform"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    sd, nu2 = bin_noise_variance(bins, noise_sd, q, b)
    P = the_plan.num_delays
    total_bins = num_subsample * the_plan.num_bins
    alpha = min(0.5, false_alarm / total_bins)
    # Gamma(P, 1) upper quantiles (scipy.special: no frozen-distribution overhead)
    zeroton = nu2 * special.gammainccinv(P, alpha)
    singleton = nu2 * special.gammainccinv(P - 1, 1e-6)
    result = _core.peel(bins, matrices, delay_rows, q, num_repeat, zeroton, singleton,
                        max_rounds, nthreads)
    freqs, values = result["frequencies"], result["values"]
    rounds = list(result["singletons_per_round"])
    timings["decode"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if refine and decoder == "peel":
        for _ in range(3):
            freqs, values = conjugate_closure(freqs, values, q)
            values = values + refit(bins, freqs, matrices, delay_rows, q)
            again = _core.peel(bins, matrices, delay_rows, q, num_repeat, zeroton, singleton,
                               max_rounds, nthreads)
            rounds += list(again["singletons_per_round"])
            if again["values"].size == 0:
                break
            freqs, values = _merge(freqs, values, again["frequencies"], again["values"])
        freqs, values = complete_low_orders(bins, freqs, values, matrices, delay_rows, q,
                                            zeroton, nu2)
        values = symmetrize(freqs, values, q)
        energy = bin_energy(bins)
        result = {"bins_left": int(np.sum(energy > zeroton)), "residual_energy": float(energy.sum())}
    timings["refine"] = time.perf_counter() - t0

    freqs, values = _merge(freqs, values, np.zeros((1, n), np.uint8), np.array([mean], complex))
    transform = SparseFourier(freqs, values, q)
    stages = np.array(["peel"] * len(transform), dtype=object)
    stages[-1] = "mean"
    the_fit = None
    if decoder == "regress":
        from ..regress import fit

        t0 = time.perf_counter()
        # in code order, as before the design order was the asking order: the folds are
        # drawn over rows, so the fit stays the same whatever order the oracle was asked in
        order = np.argsort(design.variant_codes(unique, q)) if design.codes_fit(q, n) else \
            np.lexsort(unique.T[::-1])
        unique, answers = unique[order], answers[order]
        the_fit = fit(unique, answers, q, frequencies=freqs[np.any(freqs != 0, axis=1)],
                      seed=seed, nthreads=nthreads)
        timings["regress"] = time.perf_counter() - t0
        transform = the_fit.transform
        stages = regress_stages(transform, freqs)
    config = {"q": q, "n": n, "b": b, "num_subsample": num_subsample, "delays": delays,
              "num_repeat": num_repeat, "seed": seed, "refine": bool(refine),
              "noise_sd": noise_sd if isinstance(noise_sd, str) else float(noise_sd),
              "decoder": decoder}
    return Recovery(
        transform=transform, num_queries=int(unique.shape[0]),
        num_samples=the_plan.num_samples, timings=timings, noise_sd=sd,
        noise_threshold=float(zeroton), singletons_per_round=rounds,
        bins_left=int(result["bins_left"]), residual_energy=float(result["residual_energy"]),
        plan=the_plan, config=config, decoder=decoder, stages=stages, fit=the_fit, dedup=dedup,
    )


DECODERS = ("auto", "regress", "peel")


# "auto" regresses up to this many design points: below it the regression decoder predicts
# better at equal queries (bench/bench_efficiency.py); above it peeling has resolved what a
# design of that size can resolve, and the fit would cost minutes more.
AUTO_REGRESS_MAX_SAMPLES = 1_000_000


def resolve_decoder(decoder: str, num_samples: int = 0) -> str:
    """The decoder that `decoder` names for a design of `num_samples` points."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, got decoder={decoder!r}")
    if decoder == "auto":
        return "regress" if num_samples <= AUTO_REGRESS_MAX_SAMPLES else "peel"
    return decoder


def regress_stages(transform: SparseFourier, peeled: np.ndarray) -> np.ndarray:
    """Stage of each regression coefficient: "regress+peel" where peeling found it too."""
    seen = {row.tobytes() for row in np.asarray(peeled, np.uint8)}
    return np.array(["mean" if not row.any() else
                     "regress+peel" if row.tobytes() in seen else "regress"
                     for row in transform.frequencies], dtype=object)


def _design(the_plan: QueryPlan, seed: int, nthreads: int, timings: dict | None = None):
    """(matrices, delays, distinct variants in asking order, inverse index of every point,
    how duplicates were found). The asking order is the design order (group, delay, l)
    with later copies left out: the duplicates are solved for from the matrices (see
    :func:`design.structural_duplicates`), which costs a small fraction of sorting every
    point, and the answers arrive in the order the transform reads them. Where the
    structure cannot be used (no invertible b x b minor, or whole rows coincide) the points
    are sorted to find the same duplicates: the asking order is the design order either way."""
    q, n, b = the_plan.q, the_plan.n, the_plan.b
    seed = _check_int("seed", seed, 0)  # numpy's own error would not name it
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    matrices = design.subsampling_matrices(rng, q, n, b, the_plan.num_subsample)
    delay_rows = design.delay_rows(rng, q, n, the_plan.delays, the_plan.num_repeat)
    points, _ = design.query_points(matrices, delay_rows, q, False, nthreads)
    t1 = time.perf_counter()
    unique, inverse, _, how = design.design_order_variants(points, matrices, delay_rows, q,
                                                           nthreads)
    if timings is not None:
        timings["design"] = t1 - t0
        timings["dedup"] = time.perf_counter() - t1
    return matrices, delay_rows, unique, inverse, how


def query_variants(q: int, n: int, b: int, num_subsample: int = 3, delays: str = "nso",
                   num_repeat: int = 1, seed: int = 0, nthreads: int = 0) -> np.ndarray:
    """The distinct variants :func:`recover` asks with these arguments, in its asking order
    ((m, n) uint8), without asking anything: e.g. to keep a held-out set out of the design."""
    the_plan = plan(q, n, b, num_subsample, delays, num_repeat)
    return _design(the_plan, seed, check_nthreads(nthreads))[2]


def _merge(freqs, values, more_freqs, more_values):
    """Union of two coefficient lists; values of a repeated frequency are added."""
    index = {row.tobytes(): i for i, row in enumerate(freqs)}
    values = values.copy()
    new_f, new_v = [], []
    for row, v in zip(more_freqs, more_values):
        i = index.get(row.tobytes())
        if i is None:
            index[row.tobytes()] = len(freqs) + len(new_f)
            new_f.append(row)
            new_v.append(v)
        else:
            values[i] += v
    if new_f:
        freqs = np.vstack([freqs, np.array(new_f, dtype=np.uint8)])
        values = np.concatenate([values, np.array(new_v, dtype=np.complex128)])
    return freqs, values
