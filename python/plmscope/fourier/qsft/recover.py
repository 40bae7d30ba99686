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
from ..._checks import check_int as _check_int, check_nthreads
from ..sparse import SparseFourier
from .ask import ask_batches
from . import transform as _transform
from .design import Design, QueryPlan, make_design, plan
from .refine import bin_energy, conjugate_closure, refit, symmetrize

__all__ = ["recover", "Recovery", "QueryPlan", "plan", "query_variants", "DECODERS",
           "STAGES", "resolve_decoder", "design_bins"]

# What produced a coefficient (Recovery.stages, the `stage` column of interactions.csv):
# "mean" the average answer (k = 0); "peel" the first peeling pass; "refit" a peeling pass
# over the bins that the least-squares refit of the earlier terms left; "regress" the
# regression decoder alone; "regress+peel" the regression decoder, on a term peeling found
# too. A mirror -k added for a real function takes the stage of its k.
STAGES = ("mean", "peel", "refit", "regress", "regress+peel")


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
    stages: np.ndarray = None        # per coefficient: the decoding stage (STAGES) that produced it
    fit: object = None               # the regression Fit (decoder "regress"), else None
    design: Design = None            # the design that was asked

    @property
    def dedup(self) -> str | None:
        """How the design's coinciding points were found ("structure" or "sort")."""
        return None if self.design is None else self.design.dedup

    def summary(self) -> dict:
        return {
            "num_coefficients": len(self.transform), "num_queries": self.num_queries,
            "num_samples": self.num_samples, "noise_sd": self.noise_sd,
            "noise_threshold": self.noise_threshold, "bins_left": self.bins_left,
            "residual_energy": self.residual_energy,
            "singletons_per_round": list(map(int, self.singletons_per_round)),
            "timings": dict(self.timings), "decoder": self.decoder,
            "dedup": self.dedup,
            "cv_r2": None if self.fit is None else self.fit.cv_r2,
            **{f"config_{k}": v for k, v in self.config.items()},
        }


# -- thresholds ----------------------------------------------------------------------------


def check_noise_sd(noise_sd):
    """noise_sd as given ("auto" or a finite number >= 0), else ValueError naming it."""
    if isinstance(noise_sd, str):
        if noise_sd != "auto":
            raise ValueError(f"noise_sd must be 'auto' or a number >= 0, got {noise_sd!r}")
    elif not (isinstance(noise_sd, numbers.Real) and noise_sd >= 0 and math.isfinite(noise_sd)):
        raise ValueError(f"noise_sd must be 'auto' or a finite number >= 0, got {noise_sd!r}")
    return noise_sd


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
    if check_noise_sd(noise_sd) == "auto":
        nu2 = float(np.quantile(power, 0.25)) / (special.gammaincinv(P, 0.25) / P)
    else:
        nu2 = float(noise_sd) ** 2 / q**b
    nu2 = max(nu2, floor)
    return math.sqrt(nu2 * q**b), nu2


# -- recovery: Design -> Answers -> Bins -> Decode -------------------------------------------

def recover(oracle: Callable, q: int | None = None, n: int | None = None, b: int | None = None,
            num_subsample: int | None = None, delays: str | None = None,
            num_repeat: int | None = None, noise_sd="auto", refine: bool = True,
            seed: int | None = None, store=None, nthreads: int = 0, batch_size: int = 10_000,
            executor=None, progress: bool | None = None, max_rounds: int = 100,
            false_alarm: float = 0.1, decoder: str = "auto", design: Design | None = None
            ) -> Recovery:
    """Recover the large Fourier coefficients of ``oracle`` on Z_q^n with q-SFT.

    Parameters
    ----------
    oracle : callable
        Takes an (m, n) uint8 array of variants, returns m floats. Called in batches of
        ``batch_size`` and never twice for the same variant.
    q, n, b : int
        Alphabet size, number of sites, subsampling dimension (q^b bins per group).
    num_subsample : int
        Number C of subsampling groups (default 3).
    delays : {"nso", "identity"}
        Delay design (default "nso"); ``num_repeat`` (default 1) random NSO blocks of n + 1
        delays each.
    noise_sd : "auto" or float
        Standard deviation of the per-query noise; "auto" estimates it from the bins.
    refine : bool
        Peeling decoder only: least-squares refit of the found coefficients on all queries
        made (no oracle calls), then another peeling pass on what the refit leaves.
    seed : int
        Seeds the design (default 0); the same arguments give the same queries and result.
    design : plmscope.fourier.qsft.design.Design or None
        A design already built (:func:`plmscope.fourier.qsft.design.make_design`), used as
        is; q, n, b, num_subsample, delays, num_repeat and seed may then be left out, and
        any given must be the design's.
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

    ``Recovery.stages`` names the stage (:data:`STAGES`) that produced each coefficient.
    """
    if not callable(oracle):
        raise ValueError(f"oracle must be callable (variants -> scores), got {type(oracle).__name__}")
    given = {k: v for k, v in dict(q=q, n=n, b=b, num_subsample=num_subsample, delays=delays,
                                   num_repeat=num_repeat, seed=seed).items() if v is not None}
    nthreads = check_nthreads(nthreads)
    batch_size = _check_int("batch_size", batch_size, 1)
    if not 0 < false_alarm:
        raise ValueError(f"false_alarm must be > 0, got {false_alarm!r}")
    if design is None:
        missing = [k for k in ("q", "n", "b") if k not in given]
        if missing:
            raise ValueError(f"recover needs {', '.join(missing)} (or a design=)")
        design = make_design(plan(q, n, b, 3 if num_subsample is None else num_subsample,
                                  "nso" if delays is None else delays,
                                  1 if num_repeat is None else num_repeat),
                             0 if seed is None else seed, nthreads)
    else:
        design.check(**given)
    the_plan = design.plan
    decoder = resolve_decoder(decoder, the_plan.num_samples)
    check_noise_sd(noise_sd)  # before any query, not after the oracle has answered them all
    timings = dict(design.timings)

    t0 = time.perf_counter()
    answers = ask_batches(oracle, design.variants, batch_size, store, design.arguments(),
                          executor, progress)
    timings["oracle"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    bins, mean = design_bins(design, answers, nthreads)
    timings["transform"] = time.perf_counter() - t0

    peeled = peel_stages(design, bins, noise_sd, refine and decoder == "peel", max_rounds,
                         false_alarm, nthreads, timings)
    freqs, values, stages = peeled.merged_with_mean(mean)
    transform = SparseFourier(freqs, values, the_plan.q)
    the_fit = None
    if decoder == "regress":
        from ..regress import fit

        t0 = time.perf_counter()
        the_fit = fit(design.variants, answers, the_plan.q,
                      frequencies=freqs[np.any(freqs != 0, axis=1)], seed=design.seed,
                      nthreads=nthreads)
        timings["regress"] = time.perf_counter() - t0
        transform = the_fit.transform
        stages = regress_stages(transform, freqs)
    config = {**design.arguments(), "refine": bool(refine),
              "noise_sd": noise_sd if isinstance(noise_sd, str) else float(noise_sd),
              "decoder": decoder}
    return Recovery(
        transform=transform, num_queries=design.num_queries,
        num_samples=the_plan.num_samples, timings=timings, noise_sd=peeled.noise_sd,
        noise_threshold=peeled.zeroton, singletons_per_round=peeled.rounds,
        bins_left=peeled.bins_left, residual_energy=peeled.residual_energy,
        plan=the_plan, config=config, decoder=decoder, stages=stages, fit=the_fit,
        design=design,
    )


def design_bins(design: Design, answers: np.ndarray, nthreads: int = 0):
    """((C, q^b, P) complex bins of the answers minus their mean, that mean): the q-ary FFT
    of every coset of the design. Removing the mean changes only F[0]; it is added back."""
    p = design.plan
    mean = float(answers.mean()) if answers.size else 0.0
    # gather, mean removal and FFT in one threaded pass, written in the decoder's layout
    bins = _transform.bins(answers, design.inverse, mean, p.num_subsample, p.num_delays, p.q,
                           p.b, nthreads)
    return bins, mean


@dataclass
class Peeled:
    """What the peeling stages found: coefficients, the stage of each, and the bins' account."""

    frequencies: np.ndarray
    values: np.ndarray
    stages: list
    rounds: list                 # singletons accepted in each peeling round, all passes
    noise_sd: float
    zeroton: float
    bins_left: int
    residual_energy: float

    def merged_with_mean(self, mean: float):
        """(frequencies, values, stages) with the mean at k = 0 added."""
        n = self.frequencies.shape[1]
        freqs, values = _merge(self.frequencies, self.values, np.zeros((1, n), np.uint8),
                               np.array([mean], complex))
        stages = np.array(list(self.stages) + ["mean"] * (len(freqs) - len(self.stages)),
                          dtype=object)
        stages[~freqs.any(axis=1)] = "mean"  # a k = 0 that peeling met holds the mean too
        return freqs, values, stages


def peel_stages(design: Design, bins: np.ndarray, noise_sd, refine: bool, max_rounds: int,
                false_alarm: float, nthreads: int, timings: dict) -> Peeled:
    """The "peel" stage, then with `refine` up to three "refit" stages (a least-squares refit
    of every term found so far, then peeling what it leaves). `bins` end as the residual."""
    p = design.plan
    q, C, P = p.q, p.num_subsample, p.num_delays
    t0 = time.perf_counter()
    sd, nu2 = bin_noise_variance(bins, noise_sd, q, p.b)
    alpha = min(0.5, false_alarm / (C * p.num_bins))
    # Gamma(P, 1) upper quantiles (scipy.special: no frozen-distribution overhead)
    zeroton = float(nu2 * special.gammainccinv(P, alpha))
    singleton = nu2 * special.gammainccinv(P - 1, 1e-6)

    def peel():
        return _core.peel(bins, design.matrices, design.delays, q, p.num_repeat, zeroton,
                          singleton, max_rounds, nthreads)

    result = peel()
    freqs, values = result["frequencies"], result["values"]
    stages = ["peel"] * len(freqs)
    rounds = list(result["singletons_per_round"])
    bins_left, residual = int(result["bins_left"]), float(result["residual_energy"])
    timings["decode"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if refine:
        for _ in range(3):
            freqs, values, mirrored = conjugate_closure(freqs, values, q)
            stages += [stages[i] for i in mirrored]
            values = values + refit(bins, freqs, design.matrices, design.delays, q)
            again = peel()
            rounds += list(again["singletons_per_round"])
            if again["values"].size == 0:
                break
            freqs, values = _merge(freqs, values, again["frequencies"], again["values"])
            stages += ["refit"] * (len(freqs) - len(stages))
        values = symmetrize(freqs, values, q)
        energy = bin_energy(bins)
        bins_left, residual = int(np.sum(energy > zeroton)), float(energy.sum())
    timings["refine"] = time.perf_counter() - t0
    return Peeled(freqs, values, stages, rounds, sd, zeroton, bins_left, residual)


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


def query_variants(q: int, n: int, b: int, num_subsample: int = 3, delays: str = "nso",
                   num_repeat: int = 1, seed: int = 0, nthreads: int = 0) -> np.ndarray:
    """The distinct variants :func:`recover` asks with these arguments, in its asking order
    ((m, n) uint8), without asking anything (the ``variants`` of their design)."""
    return make_design(plan(q, n, b, num_subsample, delays, num_repeat), seed, nthreads).variants


def _merge(freqs, values, more_freqs, more_values):
    """Union of two coefficient lists, new frequencies appended in order; values of a
    repeated frequency are added."""
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
