"""Budgets that stop themselves: ask an oracle in rounds of growing size, refit after each
round, and stop once the cross-validated R^2 no longer gains.

A model query is the whole cost of an interactions run, and how many a landscape needs is
not known beforehand: a smooth one is explained by a few thousand answers, a rugged one
needs far more. :func:`ask_in_rounds` finds out from the answers themselves. Round r asks
new variants (the cumulative count doubles every round) and fits the sparse Fourier
transform to every answer so far (:func:`plmscope.fourier.fit`); once the R^2 that the fit
cross-validates on its own answers gains less than ``tolerance`` from one round to the next,
more queries are not buying a better model and the rounds stop.

Designs (docs/qsft.md):

- ``"random"``: distinct variants drawn uniformly from Z_q^n, never one asked before; the
  first round asks ``start`` of them. The fit's cross-validated R^2 measures how well it
  predicts variants it was not given, so it decides when to stop.
- ``"qsft"``: a q-SFT design that grows by subsampling groups (q^b x P points each; group c
  drawn from the seed and c, the delays shared: :func:`plmscope.fourier.qsft.nested_design`);
  round r's design holds 2^(r-1) groups and is decoded as ``recover(decoder="regress")``
  decodes it: the regression over every answer with the peeled terms as candidates, so
  high-order terms that peeling finds are kept.
  Folds of a structured design share its aliasing, so their R^2 overstates how well the fit
  predicts elsewhere (on the demo's planted landscape: 0.995 against 0.90 on random
  variants); the rounds stop on the R^2 of ``validation`` random variants instead, asked
  once and never fitted.

Every round's variants follow from the seed and the round's number alone, and its answers
are saved batch by batch under ``store/round-NN`` when a store is given (and, at the end,
every answer the fit used in ``store/answers.npz``): an interrupted run
resumes without asking anything again, and a rerun gives the same rounds.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..folders import atomic_target, write_text
from .fft import check_nthreads, check_q
from .qsft import ask_batches, nested_design, plan, recover
from .qsft.design import codes_fit, decode_codes, variant_codes
from .regress import Fit, fit

DESIGNS = ("random", "qsft")
ROUNDS_FORMAT = "plmscope.rounds/1"
_STREAM = 0x726F756E64  # "round": keeps round draws apart from every other stream of a seed


@dataclass
class Round:
    """One round: what it asked and what the fit to every answer so far achieved."""

    index: int           # 1, 2, ...
    new_queries: int     # distinct variants first asked in this round
    queries: int         # distinct variants asked in rounds 1..index
    cv_r2: float         # the fit's cross-validated R^2 on those answers
    validation_r2: float | None  # R^2 on the validation variants (qsft design), else None
    gain: float | None   # the stopping R^2 (validation, else cv) minus the previous round's
    num_coefficients: int
    seconds_asking: float
    seconds_fitting: float


@dataclass
class RoundsResult:
    """What :func:`ask_in_rounds` asked and fitted, and why it stopped."""

    fit: Fit                 # the last round's fit (every answer of the rounds)
    variants: np.ndarray     # (m, n) uint8 the rounds asked, in asking order
    scores: np.ndarray       # their answers
    rounds: list = field(default_factory=list)
    stopped: str = ""        # "tolerance", "max_queries", "max_rounds" or "exhausted"
    config: dict = field(default_factory=dict)
    validation_x: np.ndarray = None  # (v, n) the validation variants (qsft design; v may be 0)
    validation_y: np.ndarray = None

    @property
    def num_queries(self) -> int:
        """Distinct variants asked: the rounds' and the validation set's."""
        extra = 0 if self.validation_x is None else self.validation_x.shape[0]
        return int(self.variants.shape[0] + extra)

    def summary(self) -> dict:
        return {"format": ROUNDS_FORMAT, **self.config, "stopped": self.stopped,
                "num_queries": self.num_queries,
                "num_validation": 0 if self.validation_x is None else int(self.validation_x.shape[0]),
                "rounds": [asdict(r) for r in self.rounds]}


def check_design(design: str) -> str:
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {', '.join(DESIGNS)}, got {design!r}")
    return design


def default_start(q: int, n: int) -> int:
    """First round of a random design: one answer per candidate term of order <= 2 (at
    least 100). Fewer leave the pairs undetermined, and a round that cannot yet see them
    gains little, which would stop the rounds before the pairs (and the higher orders built
    on them) are found: on the demo's planted landscape, starting at 1,910 stopped at 3,820
    queries with 20 of 24 terms."""
    import math

    terms = 1 + n * (q - 1) + math.comb(n, 2) * (q - 1) ** 2
    return max(100, min(terms, q ** n // 4 if q ** n < 2 ** 62 else terms))


def ask_in_rounds(oracle: Callable, q: int, n: int, *, design: str = "random",
                  tolerance: float = 0.005, start: int | None = None,
                  max_queries: int | None = None, max_rounds: int = 30,
                  b: int | None = None, delays: str = "nso", num_repeat: int = 1,
                  max_order: int | None = None, validation: int | None = None,
                  seed: int = 0, store=None,
                  batch_size: int = 10_000, executor=None, progress: bool | None = None,
                  nthreads: int = 0, log: Callable[[str], None] | None = None,
                  on_round: Callable[[Round], None] | None = None) -> RoundsResult:
    """Ask `oracle` over Z_q^n in rounds until the fitted transform stops improving.

    Parameters
    ----------
    oracle : callable
        (m, n) uint8 variants -> m float scores.
    design : "random" or "qsft"
        How each round chooses its variants (module docstring).
    tolerance : float
        Stop once a round raises the cross-validated R^2 by less than this (after at least
        two rounds).
    start : int or None
        Random design: variants of the first round (default :func:`default_start`).
    max_queries : int or None
        Never ask more distinct variants than this (the round that would pass it is cut).
    max_rounds : int
        Safety stop.
    b, delays, num_repeat : q-SFT design: subsampling dimension (required), delay kind and
        repeats of each group (see :func:`plmscope.fourier.qsft.plan`).
    validation : int or None
        Random variants asked once to decide when a structured design stops (default 1,000
        for "qsft", none for "random", whose cross-validation is unbiased).
    max_order, nthreads : passed to :func:`plmscope.fourier.fit`.
    seed : int
        Fixes every round's variants and every fit.
    store : path or None
        Folder for the answers (``round-NN`` per round) and ``rounds.json``; resumable.
    batch_size, executor, progress : how the oracle is asked (see
        :func:`plmscope.fourier.qsft.ask_batches`).
    log : callable or None
        Receives one line per round.
    on_round : callable or None
        Called with each finished :class:`Round`.
    """
    q = check_q(q)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got n={n!r}")
    n = int(n)
    design = check_design(design)
    if not (isinstance(tolerance, (int, float)) and np.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite number >= 0 (an R^2 gain), got {tolerance!r}")
    nthreads = check_nthreads(nthreads)
    total = float(q) ** n
    if start is None:
        start = default_start(q, n)
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 10:
        raise ValueError(f"start must be an integer >= 10 (variants in the first round), "
                         f"got {start!r}")
    if max_queries is not None and (isinstance(max_queries, bool) or
                                    not isinstance(max_queries, (int, np.integer))
                                    or max_queries < 10):
        raise ValueError(f"max_queries must be an integer >= 10 or None, got {max_queries!r}")
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, (int, np.integer)) or max_rounds < 1:
        raise ValueError(f"max_rounds must be an integer >= 1, got {max_rounds!r}")
    if design == "qsft":
        if b is None or isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 1 <= b <= n:
            raise ValueError(f"the qsft design needs b, an integer in [1, n={n}], got b={b!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if validation is None:
        validation = 1000 if design == "qsft" else 0
    if isinstance(validation, bool) or not isinstance(validation, (int, np.integer)) or validation < 0:
        raise ValueError(f"validation must be an integer >= 0 (random variants), got {validation!r}")
    say = log or (lambda _msg: None)
    folder = Path(store) if store is not None else None
    config = {"design": design, "q": q, "n": n, "tolerance": float(tolerance),
              "start": int(start) if design == "random" else None,
              "b": None if design == "random" else int(b),
              "delays": None if design == "random" else delays,
              "num_repeat": None if design == "random" else int(num_repeat),
              "max_queries": None if max_queries is None else int(max_queries),
              "max_rounds": int(max_rounds), "max_order": max_order,
              "validation": int(validation), "seed": int(seed)}

    asked = np.zeros((0, n), np.uint8)
    scores = np.zeros(0)
    seen = _Seen(q, n)
    # the validation variants first (round 0 of the stream), so no round asks them again
    val_count = min(int(validation), int(min(total, 2**62)) // 10)
    # the validation variants count against max_queries too
    cap = None if max_queries is None else int(max_queries) - val_count
    if cap is not None and cap < 1:
        raise ValueError(f"max_queries={max_queries} leaves no query for the rounds after "
                         f"{val_count} validation variants: raise it or lower validation")
    val_x = _fresh_random(q, n, val_count, seed, 0, seen)
    val_y = np.zeros(0)
    if val_x.shape[0]:
        val_y = ask_batches(oracle, val_x, batch_size,
                            None if folder is None else folder / "validation",
                            {"purpose": "validation variants of a self-stopping budget",
                             **config}, executor, progress, "validation")
        seen.add(val_x)
    rounds: list[Round] = []
    stopped, result_fit = "max_rounds", None
    for r in range(1, int(max_rounds) + 1):
        if design == "random":
            want = min(int(start) << (r - 1), int(min(total, 2**62)))
            new = _fresh_random(q, n, want - asked.shape[0], seed, r, seen)
        else:
            the_design = _round_design(q, n, int(b), delays, int(num_repeat), seed, r, nthreads)
            new = the_design.variants[seen.new(the_design.variants)]
        whole = True  # the round asks all of its design (a qsft round cut short cannot be binned)
        if cap is not None and asked.shape[0] + new.shape[0] > cap:
            new = new[: max(0, cap - asked.shape[0])]
            whole = False
        if new.shape[0] == 0:
            stopped = "max_queries" if cap is not None and asked.shape[0] >= cap else "exhausted"
            break
        t0 = time.perf_counter()
        answers = ask_batches(oracle, new, batch_size,
                              None if folder is None else folder / f"round-{r:02d}",
                              {"purpose": f"round {r} of a self-stopping budget", **config,
                               "round": r}, executor, progress, f"round {r}")
        t_ask = time.perf_counter() - t0
        seen.add(new)
        asked = np.vstack([asked, new])
        scores = np.concatenate([scores, answers])
        t0 = time.perf_counter()
        if design == "random" or not whole:
            result_fit = fit(asked, scores, q, max_order=max_order, seed=int(seed),
                             nthreads=nthreads)
        else:
            # a design point that is also a validation variant (only likely in tiny spaces)
            # is answered from the validation set: the bins need every point
            known = _Lookup(np.vstack([asked, val_x]), np.concatenate([scores, val_y]))
            result_fit = recover(known, design=the_design, decoder="regress", nthreads=nthreads,
                                 progress=False).fit
        val_r2 = _r2(val_y, result_fit.predict(val_x, nthreads=nthreads)) if val_y.size > 1 else None
        score = result_fit.cv_r2 if val_r2 is None else val_r2
        gain = None if not rounds else score - _stopping_r2(rounds[-1])
        rnd = Round(r, int(new.shape[0]), int(asked.shape[0]), float(result_fit.cv_r2),
                    val_r2, None if gain is None else float(gain), len(result_fit.transform),
                    t_ask, time.perf_counter() - t0)
        rounds.append(rnd)
        say(f"round {r}: {rnd.new_queries:,} new queries, {rnd.queries:,} in all; "
            + (f"cross-validated R^2 {rnd.cv_r2:.4f}" if val_r2 is None else
               f"R^2 {val_r2:.4f} on {val_y.size:,} validation variants")
            + ("" if gain is None else f" ({gain:+.4f})"))
        if on_round is not None:
            on_round(rnd)
        if folder is not None:
            partial = RoundsResult(result_fit, asked, scores, rounds, "running", config, val_x, val_y)
            write_text(folder / "rounds.json", json.dumps(partial.summary(), indent=2))
        if gain is not None and gain < tolerance:
            stopped = "tolerance"
            break
        if asked.shape[0] + val_x.shape[0] >= total:
            stopped = "exhausted"
            break
        if cap is not None and asked.shape[0] >= cap:
            stopped = "max_queries"
            break
    if result_fit is None:
        raise ValueError("no round could ask anything: max_queries is below the first round")
    out = RoundsResult(result_fit, asked, scores, rounds, stopped, config, val_x, val_y)
    if folder is not None:
        # what the fit saw, in one file (a refit with other settings needs no oracle)
        with atomic_target(folder / "answers.npz") as tmp:
            np.savez(tmp, x=asked, y=scores, validation_x=val_x, validation_y=val_y)
        write_text(folder / "rounds.json", json.dumps(out.summary(), indent=2))
    say(f"stopped after {len(rounds)} round(s), {out.num_queries:,} queries: " + {
        "tolerance": f"the last round gained less than {tolerance} R^2",
        "max_queries": "max_queries reached", "max_rounds": "max_rounds reached",
        "exhausted": "every variant asked"}[stopped])
    return out


def _stopping_r2(rnd: Round) -> float:
    return rnd.cv_r2 if rnd.validation_r2 is None else rnd.validation_r2


def _r2(y: np.ndarray, yhat: np.ndarray) -> float | None:
    sst = float(np.sum((y - y.mean()) ** 2))
    return None if sst == 0 else 1.0 - float(np.sum((y - yhat) ** 2)) / sst


# -- drawing rounds --------------------------------------------------------------------------

class _Seen:
    """Variants asked so far, as flat codes where q^n fits in int64, else as bytes."""

    def __init__(self, q: int, n: int):
        self.q, self.n = q, n
        self.codes = np.zeros(0, np.int64) if codes_fit(q, n) else None
        self.rows: set[bytes] = set()

    def add(self, variants: np.ndarray) -> None:
        if self.codes is not None:
            self.codes = np.union1d(self.codes, variant_codes(variants, self.q))
        else:
            self.rows.update(row.tobytes() for row in variants)

    def new(self, variants: np.ndarray) -> np.ndarray:
        """Mask of the rows not seen before and not repeated earlier in `variants`."""
        if self.codes is not None:
            codes = variant_codes(variants, self.q)
            old = np.isin(codes, self.codes, assume_unique=False)
            _, first = np.unique(codes, return_index=True)
            once = np.zeros(codes.size, bool)
            once[first] = True
            return ~old & once
        keep, local = np.zeros(len(variants), bool), set()
        for i, row in enumerate(variants):
            key = row.tobytes()
            if key not in self.rows and key not in local:
                local.add(key)
                keep[i] = True
        return keep


def _round_rng(seed: int, r: int) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAM, r])


def _fresh_random(q: int, n: int, count: int, seed: int, r: int, seen: _Seen) -> np.ndarray:
    """`count` distinct variants never seen, uniform over the rest of Z_q^n (fewer only when
    fewer remain)."""
    if count <= 0:
        return np.zeros((0, n), np.uint8)
    rng = _round_rng(seed, r)
    if seen.codes is not None:
        total = q**n
        count = min(count, total - seen.codes.size)
        if total <= 4 * (count + seen.codes.size) + 1024:
            pool = np.setdiff1d(np.arange(total, dtype=np.int64), seen.codes, assume_unique=True)
            return decode_codes(rng.choice(pool, size=count, replace=False), q, n)
    out = np.zeros((0, n), np.uint8)
    while out.shape[0] < count:
        draw = rng.integers(0, q, size=(2 * (count - out.shape[0]) + 16, n)).astype(np.uint8)
        merged = np.vstack([out, draw])
        keep = seen.new(merged)
        out = merged[keep][:count]
    return out


def _round_design(q: int, n: int, b: int, delays: str, num_repeat: int, seed: int, r: int,
                  nthreads: int):
    """Round r's q-SFT design: the nested design with 2^(r-1) groups."""
    return nested_design(plan(q, n, b, 1 << (r - 1), delays, num_repeat), seed, nthreads)


class _Lookup:
    """An oracle that answers from answers already asked (the rounds ask the real oracle
    first, through their store; recover then reads them back)."""

    def __init__(self, variants: np.ndarray, scores: np.ndarray):
        self.keys = {row.tobytes(): i for i, row in enumerate(variants)}
        self.scores = scores

    def __call__(self, x) -> np.ndarray:
        return self.scores[[self.keys[row.tobytes()] for row in np.asarray(x, np.uint8)]]


def load_rounds(path: str | os.PathLike) -> dict | None:
    """rounds.json of a run folder (None when the run did not ask in rounds)."""
    file = Path(path) / "rounds.json"
    if not file.exists():
        return None
    return json.loads(file.read_text())
