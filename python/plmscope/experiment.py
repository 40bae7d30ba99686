"""The interactions experiment of the paper as one resumable call: q-SFT of an oracle, R^2
on held-out variants, and a report, all kept in a run folder (:mod:`plmscope.run_folder`).

The run is Design -> Answers -> Bins -> Decode -> Result: one
:class:`~plmscope.fourier.qsft.Design` is built from the arguments and handed to the
held-out draw (which avoids its variants), to :func:`plmscope.fourier.qsft.recover` and to
the report (its digest). The folder holds ``run.json`` (the configuration), ``design.npz``
(the design; a resumed run checks that the arguments still build it), ``queries/`` (the
q-SFT answers, batch by batch), ``test/`` (the held-out answers), and, once finished,
``transform.npz`` (with the stage of each coefficient), ``test.npz``, the tables, figures,
``report.html`` and ``summary.json`` (written last: its presence means the run is complete).

Held-out variants: ``test`` variants drawn uniformly at random from Z_q^n with their own
random stream (seeded from ``seed``), without repeats and never one of the q-SFT query
points, so R^2 measures prediction on variants the recovery never saw. When fewer than
``test`` variants are left outside the design (tiny landscapes), all of them are used.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import folders
from .fourier import SparseFourier, SurrogateOracle, qsft
from .fourier.qsft import design
from .report.tables import SiteLabels, num_effects, top_mutations
from .run_folder import (RunFolder, ask_stored, read_json, release_oracle, run_files, versions,
                         write_json)

SUMMARY_FORMAT = "plmscope.interactions/1"
_TEST_STREAM = 0x7E57  # the held-out draw's own stream, independent of the design's


# -- oracle descriptions ----------------------------------------------------------------------

def transform_digest(transform: SparseFourier) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(transform.frequencies).tobytes())
    h.update(np.ascontiguousarray(transform.values).tobytes())
    h.update(str(transform.q).encode())
    return h.hexdigest()[:16]


def describe_oracle(oracle) -> dict:
    """What identifies an oracle's answers, for the run configuration: a surrogate by its
    transform and noise, a model oracle by its model, precision, scorer and landscape (not
    its device or batch size, so a run may resume elsewhere; a LazyOracle by its spec's model
    name, backend and dtype, as it is not loaded here), anything else by type only
    (pass ``oracle_info`` to :func:`run_interactions` to say more)."""
    if isinstance(oracle, SurrogateOracle):
        return {"kind": "surrogate", "transform": transform_digest(oracle.transform),
                "noise_sd": oracle.noise_sd, "noise_seed": oracle.seed}
    models = sys.modules.get("plmscope.models")
    if models is not None and isinstance(oracle, models.Oracle):
        m = oracle.model
        return {"kind": "model", "model": m.source or m.name, "backend": m.backend,
                "precision": str(m.precision), "scorer": oracle.scorer,
                **oracle.landscape.to_dict()}
    distributed = sys.modules.get("plmscope.distributed")
    if distributed is not None and isinstance(oracle, distributed.LazyOracle) \
            and models is not None and isinstance(oracle.spec, models.OracleSpec):
        spec = oracle.spec  # the model is not loaded here: its name and requested precision
        return {"kind": "model", "model": spec.model, "backend": spec.backend,
                "dtype": spec.dtype, "scorer": spec.scorer, **spec.landscape().to_dict()}
    return {"kind": type(oracle).__name__}


# -- the held-out set ----------------------------------------------------------

def held_out_variants(q: int, n: int, count: int, seed: int, exclude: np.ndarray) -> np.ndarray:
    """Up to `count` distinct variants drawn uniformly from Z_q^n minus `exclude` ((m, n)
    uint8), in draw order; fewer only when fewer remain."""
    rng = np.random.default_rng([int(seed), _TEST_STREAM])
    if count <= 0:
        return np.zeros((0, n), np.uint8)
    if design.codes_fit(q, n):
        total = q**n
        excluded = np.unique(design.variant_codes(exclude, q)) if exclude.size else np.zeros(0, np.int64)
        available = total - excluded.size
        count = min(count, available)
        if total <= 4 * (count + excluded.size) + 1024:
            pool = np.setdiff1d(np.arange(total, dtype=np.int64), excluded, assume_unique=True)
            codes = rng.choice(pool, size=count, replace=False)
        else:
            codes = np.zeros(0, np.int64)
            while codes.size < count:
                draw = rng.integers(0, total, size=2 * (count - codes.size) + 16, dtype=np.int64)
                pos = np.searchsorted(excluded, draw)
                hit = (pos < excluded.size) & (excluded[np.minimum(pos, excluded.size - 1)] == draw)
                merged = np.concatenate([codes, draw[~hit]])
                _, first = np.unique(merged, return_index=True)
                codes = merged[np.sort(first)][:count]
        return design.decode_codes(codes, q, n)
    # q^n beyond int64: the chance of meeting a design point or a repeat is nil, but check
    seen = {row.tobytes() for row in exclude}
    out = []
    while len(out) < count:
        for row in rng.integers(0, q, size=(count, n)).astype(np.uint8):
            key = row.tobytes()
            if key not in seen:
                seen.add(key)
                out.append(row)
                if len(out) == count:
                    break
    return np.array(out, dtype=np.uint8)


def r_squared(y: np.ndarray, yhat: np.ndarray) -> float:
    """1 - SSE / SST (DESIGN.md); nan for fewer than two values or constant y."""
    y = np.asarray(y, dtype=np.float64)
    if y.size < 2:
        return float("nan")
    sst = float(np.sum((y - y.mean()) ** 2))
    if sst == 0:
        return float("nan")
    return 1.0 - float(np.sum((y - np.asarray(yhat)) ** 2)) / sst


# -- the experiment ---------------------------------------------------------------------------

@dataclass
class InteractionsResult:
    """What :func:`run_interactions` found; ``summary`` is what summary.json holds."""

    transform: SparseFourier
    summary: dict
    folder: Path | None = None
    recovery: object = None        # the q-SFT Recovery (None when read from a finished folder)
    test_x: np.ndarray = None
    test_y: np.ndarray = None
    test_yhat: np.ndarray = None
    already_finished: bool = False
    files: list = field(default_factory=list)
    stages: np.ndarray = None      # the decoding stage of each coefficient of `transform`

    @property
    def r2(self) -> float | None:
        return self.summary["test"]["r2"]


def interactions_config(oracle_info: dict, the_plan: qsft.QueryPlan, noise_sd, seed: int,
                        test: int, batch_size: int, labels: SiteLabels,
                        decoder: str = "auto") -> dict:
    """The run.json of an interactions run: everything that changes its numbers."""
    return {"kind": "interactions", "oracle": oracle_info, **the_plan.arguments(),
            "noise_sd": noise_sd, "seed": seed, "test": test, "batch_size": batch_size,
            "sites": labels.to_dict(),
            "decoder": qsft.resolve_decoder(decoder, the_plan.num_samples)}


def keep_design(path: Path, the_design: qsft.Design) -> None:
    """Save `the_design` at `path`, or, when a resumed run saved one there, ValueError unless
    the arguments still build the same design (same digest)."""
    if not path.exists():
        the_design.save(path)
        return
    saved = folders.read_npz(path, "q-SFT design of the run")
    digest = str(saved["digest"]) if "digest" in saved else None
    if digest != the_design.digest:
        raise ValueError(
            f"{path} holds the design the run was started with (digest {str(digest)[:12]}), but "
            f"these arguments build another one (digest {the_design.digest[:12]}), e.g. after a "
            "plmscope upgrade changed how designs are drawn; finish the run with the version "
            "that started it, or choose a new --out folder")


def run_interactions(oracle: Callable, q: int, n: int, b: int, *, num_subsample: int = 2,
                     num_repeat: int = 2, delays: str = "nso", noise_sd="auto", seed: int = 0,
                     test: int = 10_000, out: str | os.PathLike | None = None,
                     labels: SiteLabels | None = None, oracle_info: dict | None = None,
                     title: str | None = None, extra_tests: dict | None = None,
                     batch_size: int = 10_000, reference_order: int = 2, report: bool = True,
                     progress: bool | None = None, nthreads: int = 0,
                     log: Callable[[str], None] | None = None,
                     note: str | None = None,
                     truth: SparseFourier | None = None,
                     executor=None, decoder: str = "auto", view=None,
                     design: qsft.Design | None = None, budget: str | None = None,
                     round_design: str = "random", tolerance: float = 0.005,
                     start: int | None = None, max_queries: int | None = None,
                     validation: int | None = None) -> InteractionsResult:
    """Recover the interactions of `oracle` over Z_q^n with q-SFT and measure them.

    Parameters
    ----------
    oracle : callable
        (m, n) uint8 variants -> m float scores (a :class:`plmscope.models.Oracle`, a
        :class:`plmscope.fourier.SurrogateOracle`, or any function).
    q, n, b, num_subsample, num_repeat, delays, noise_sd, seed, batch_size, nthreads, decoder :
        As :func:`plmscope.fourier.qsft.recover` (defaults: the paper's C = 2, NSO, 2 repeats;
        the regression decoder).
    test : int
        Held-out variants for R^2 (see the module docstring); 0 skips it.
    out : path or None
        Run folder: resumable, refused when it holds another configuration, and returned
        as is (no recomputation) when finished.
    labels : SiteLabels or None
        Site numbers and residues for the tables and figures (default 1..n, no residues).
    oracle_info : dict or None
        What identifies the oracle (kept in run.json so another oracle's folder is refused);
        derived automatically for a SurrogateOracle.
    extra_tests : {name: (x, y)} or None
        More held-out sets with known scores (e.g. a file's real model queries); R^2 on
        each goes into the summary.
    reference_order : int
        Highest order of the wild-type-reference mutation effects tabulated.
    report : bool
        Write tables, figures and report.html into `out`.
    log : callable or None
        Receives one-line status messages.
    note : str or None
        A line shown at the top of the report (e.g. that the landscape is synthetic).
    truth : SparseFourier or None
        The known transform of a planted landscape: the report then compares coefficient by
        coefficient (truth.csv) and the summary counts found, missed and spurious ones.
    executor : object with ``run(oracle, tasks, on_result)`` or None (in this process)
        Where the oracle is asked, for the q-SFT queries and the held-out set alike: e.g. a
        :class:`plmscope.distributed.RayExecutor`, with a
        :class:`plmscope.distributed.LazyOracle` so this process never loads the model. Not
        part of the configuration: a run may resume on another executor, with the same result.
    view : plmscope.report.tables.ViewSpec or None
        A background view of the transform for the report (effects_<view>.csv and its
        section); not part of the configuration.
    design : plmscope.fourier.qsft.Design or None
        The run's design, when the caller built it already (the command line does, to check
        the memory before loading a model); its arguments must be the ones given here.
        None: built here from them.
    budget : None or "auto"
        "auto": no fixed design; ask in rounds of growing size until the fit stops gaining
        (:func:`plmscope.fourier.ask_in_rounds`, answers under ``rounds/``, the rounds in
        ``rounds.json`` and the report's R^2-against-queries figure). The decoder is then the
        regression; ``num_subsample`` and ``noise_sd`` are not used.
    round_design, tolerance, start, max_queries, validation :
        The rounds' design ("random", or "qsft" groups of dimension ``b`` with ``delays`` and
        ``num_repeat``), the R^2 gain below which they stop, the first random round's size,
        a cap on queries and the validation variants of a qsft design (see
        :func:`plmscope.fourier.ask_in_rounds`).
    """
    if budget is not None:
        if budget != "auto":
            raise ValueError(f"budget must be None (a fixed q-SFT design) or 'auto', got {budget!r}")
        return _run_in_rounds(oracle, q, n, b, num_repeat=num_repeat, delays=delays, seed=seed,
                              test=test, out=out, labels=labels, oracle_info=oracle_info,
                              title=title, extra_tests=extra_tests, batch_size=batch_size,
                              reference_order=reference_order, report=report,
                              progress=progress, nthreads=nthreads, log=log, note=note,
                              truth=truth, executor=executor, view=view,
                              round_design=round_design, tolerance=tolerance, start=start,
                              max_queries=max_queries, validation=validation)
    the_design = design
    say = log or (lambda _msg: None)
    if the_design is None:
        the_plan = qsft.plan(q, n, b, num_subsample, delays, num_repeat)
    else:
        the_design.check(q=q, n=n, b=b, num_subsample=num_subsample, delays=delays,
                         num_repeat=num_repeat, seed=seed)
        the_plan = the_design.plan
    labels, test, info = _checked_inputs(oracle, n, labels, test, oracle_info)
    config = interactions_config(info, the_plan, noise_sd, seed, test, batch_size, labels,
                                 decoder)
    with _opened(out, config) as (folder, finished):
        if finished:
            return load_interactions(folder.path, report=report)
        t_start = time.perf_counter()
        if the_design is None:
            the_design = qsft.make_design(the_plan, seed, nthreads)
        if folder is not None:
            keep_design(folder.path / "design.npz", the_design)
        t0 = time.perf_counter()
        test_x = held_out_variants(q, n, test, seed, the_design.variants)
        t_held_out = time.perf_counter() - t0

        store = folder.path / "queries" if folder is not None else None
        if store is not None and (store / "answers").is_dir():
            saved = len(list((store / "answers").glob("*.npy")))
            if saved:
                say(f"resuming: {saved} answered query batch(es) found in {store}")
        recovery = qsft.recover(oracle, design=the_design, noise_sd=noise_sd, store=store,
                                nthreads=nthreads, batch_size=batch_size, executor=executor,
                                progress=progress, decoder=decoder)
        run_fields = {
            "qsft": {"b": b, "num_subsample": num_subsample, "num_repeat": num_repeat,
                     "delays": delays, "noise_sd": noise_sd, "seed": seed, "batch_size": batch_size,
                     "decoder": recovery.decoder},
            "plan": {"num_samples": the_plan.num_samples, "num_bins": the_plan.num_bins,
                     "num_delays": the_plan.num_delays, "memory_bytes": the_plan.memory_bytes},
            "design": {"digest": the_design.digest, "num_queries": the_design.num_queries,
                       "file": None if folder is None else "design.npz"},
            "num_samples": recovery.num_samples,
            "noise_sd_estimate": recovery.noise_sd, "noise_threshold": recovery.noise_threshold,
            "bins_left": recovery.bins_left, "residual_energy": recovery.residual_energy,
            "singletons_per_round": [int(v) for v in recovery.singletons_per_round],
        }
        timings = dict(recovery.timings, held_out_design=t_held_out)
        return _measure_and_keep(
            oracle, recovery.transform, recovery.stages, recovery.fit, recovery.num_queries,
            test_x, run_fields, timings, recovery, folder, t_start, info, q, n, seed, test,
            batch_size, progress, executor, extra_tests, labels, title, note, truth, view,
            reference_order, report)


def _checked_inputs(oracle, n: int, labels, test, oracle_info):
    """(labels, test, oracle identity) of a run, or ValueError naming the bad argument."""
    labels = labels or SiteLabels.plain(n)
    if labels.n != n:
        raise ValueError(f"labels name {labels.n} sites but n={n}")
    test = int(test)
    if test < 0:
        raise ValueError(f"test must be >= 0 held-out variants, got test={test}")
    return labels, test, oracle_info if oracle_info is not None else describe_oracle(oracle)


@contextlib.contextmanager
def _opened(out, config: dict):
    """(the run folder of `config` at `out`, whether it is finished), checked against what
    it holds, prepared and locked for this process (a second process would ask everything
    again and race on the files); an unfinished folder is created. No `out`: (None, False)."""
    folder = RunFolder(out, config) if out is not None else None
    if folder is None:
        yield None, False
        return
    folder.check()
    folders.prepare(folder.path)
    with folders.locked(folder.path):
        finished = folder.is_finished()
        if not finished:
            folder.create()
        yield folder, finished


def _measure_and_keep(oracle, transform, stages, fit, num_queries, test_x, run_fields, timings,
                      recovery, folder, t_start, info, q, n, seed, test, batch_size, progress,
                      executor, extra_tests, labels, title, note, truth, view, reference_order,
                      report) -> InteractionsResult:
    """Result: the held-out R^2 of `transform`, summary.json, and the report."""
    t0 = time.perf_counter()
    test_y = ask_stored(oracle, test_x, folder.path / "test" if folder else None,
                        {"purpose": "held-out test variants", "q": q, "n": n, "seed": seed},
                        batch_size, progress, "held-out", executor) if test_x.shape[0] \
        else np.zeros(0)
    t_test = time.perf_counter() - t0
    release_oracle(oracle)  # every query is answered: let the score cache finish its file
    test_yhat = transform.evaluate(test_x) if test_x.shape[0] else np.zeros(0)
    r2 = r_squared(test_y, test_yhat) if test_x.shape[0] else None
    if r2 is not None and not np.isfinite(r2):
        r2 = None  # fewer than two held-out variants, or constant scores: R^2 is undefined
    extra = {}
    for name, (x, y) in (extra_tests or {}).items():
        y = np.asarray(y, dtype=np.float64)
        value = r_squared(y, transform.evaluate(x))
        extra[name] = {"size": int(y.size), "r2": value if np.isfinite(value) else None}

    energy = transform.energy_by_order()
    timings = dict(timings, held_out_queries=t_test)
    summary = {
        "format": SUMMARY_FORMAT,
        "title": title or f"Interactions over {n} sites (q = {q})",
        "oracle": info, "q": q, "n": n, "sites": labels.to_dict(),
        **run_fields,
        "fit": None if fit is None else {
            k: v for k, v in fit.summary().items()
            if k not in ("lambdas", "cv_r2_path", "timings")},  # its time: timings.regress
        "stages": stage_counts(stages),
        "num_queries": num_queries,
        "fraction_of_all_variants": num_queries / float(q) ** n,
        "num_coefficients": len(transform),
        "num_effects": num_effects(transform),
        "has_mean": bool((transform.orders() == 0).any()),
        "top_mutations": top_mutations(transform, labels),
        "test": {"requested": test, "size": int(test_x.shape[0]), "seed": seed,
                 "excludes_query_variants": True, "r2": r2,
                 "nmse": None if r2 is None else 1.0 - r2},
        "extra_tests": extra,
        "mean_score": float(transform.values[transform.orders() == 0].real.sum()),
        "wildtype_score": float(np.sum(transform.values).real),
        "energy_by_order": [float(v) for v in energy],
        "timings": timings, "versions": versions(), "note": note,
        "truth": None if truth is None else truth_counts(
            transform, truth, labels, 0.0 if fit is None else fit.noise_floor),
        "view": None if view is None else view.to_dict(),
    }
    result = InteractionsResult(transform, summary, folder.path if folder else None, recovery,
                                test_x, test_y, test_yhat, stages=stages)
    if folder is not None:
        transform.save(folder.path / "transform.npz", stages=stages.astype(str))
        np.savez(folder.path / "test.npz", x=test_x, y=test_y, yhat=test_yhat)
        # the total before the report: the one number the report, summary.json and the
        # console all show (the report's own time is timings.report)
        summary["timings"]["total"] = time.perf_counter() - t_start
        if report:
            from .report.interactions import write_interactions_report

            t0 = time.perf_counter()
            result.files = write_interactions_report(folder.path, transform, summary, labels,
                                                     test_y, test_yhat, reference_order, truth,
                                                     view, stages=stages)
            summary["timings"]["report"] = time.perf_counter() - t0
        summary["files"] = run_files(folder.path)
        write_json(folder.summary_file, summary)
    else:
        summary["timings"]["total"] = time.perf_counter() - t_start
    return result


def rounds_config(oracle_info: dict, q: int, n: int, b: int, num_repeat: int, delays: str,
                  seed: int, test: int, batch_size: int, labels: SiteLabels, round_design: str,
                  tolerance: float, start: int | None, max_queries: int | None,
                  validation: int | None) -> dict:
    """The run.json of an interactions run asked in rounds (budget "auto")."""
    from .fourier.rounds import check_design, default_start

    structured = check_design(round_design) == "qsft"
    return {"kind": "interactions", "oracle": oracle_info, "q": q, "n": n, "budget": "auto",
            "round_design": round_design, "tolerance": tolerance,
            "start": None if structured else (start or default_start(q, n)),
            "b": b if structured else None, "delays": delays if structured else None,
            "num_repeat": num_repeat if structured else None,
            "validation": (1000 if validation is None else validation) if structured else 0,
            "max_queries": max_queries, "seed": seed, "test": test, "batch_size": batch_size,
            "sites": labels.to_dict(), "decoder": "regress"}


def _run_in_rounds(oracle, q, n, b, *, num_repeat, delays, seed, test, out, labels,
                   oracle_info, title, extra_tests, batch_size, reference_order, report,
                   progress, nthreads, log, note, truth, executor, view, round_design,
                   tolerance, start, max_queries, validation) -> InteractionsResult:
    """run_interactions with budget="auto": rounds instead of one q-SFT design."""
    from .fourier.rounds import ask_in_rounds

    labels, test, info = _checked_inputs(oracle, n, labels, test, oracle_info)
    config = rounds_config(info, q, n, b, num_repeat, delays, seed, test, batch_size, labels,
                           round_design, tolerance, start, max_queries, validation)
    with _opened(out, config) as (folder, finished):
        if finished:
            return load_interactions(folder.path, report=report)
        t_start = time.perf_counter()
        rounds = ask_in_rounds(
            oracle, q, n, design=round_design, tolerance=tolerance, start=start,
            max_queries=max_queries, b=b, delays=delays, num_repeat=num_repeat,
            validation=validation, seed=seed,
            store=folder.path / "rounds" if folder is not None else None,
            batch_size=batch_size, executor=executor, progress=progress, nthreads=nthreads,
            log=log)
        asked = rounds.variants if rounds.validation_x is None else \
            np.vstack([rounds.variants, rounds.validation_x])
        t0 = time.perf_counter()
        test_x = held_out_variants(q, n, test, seed, asked)
        t_held_out = time.perf_counter() - t0
        fit = rounds.fit
        transform = fit.transform
        stages = np.where(transform.orders() == 0, "mean", "regress").astype(object)
        summary_rounds = rounds.summary()
        if folder is not None:
            summary_rounds["file"] = "rounds/rounds.json"
        run_fields = {
            "qsft": {"b": config["b"], "num_subsample": None, "num_repeat": config["num_repeat"],
                     "delays": config["delays"], "noise_sd": None, "seed": seed,
                     "batch_size": batch_size, "decoder": "regress"},
            "budget": summary_rounds,
            "num_samples": rounds.num_queries,
        }
        timings = {"oracle": sum(r.seconds_asking for r in rounds.rounds),
                   "regress": sum(r.seconds_fitting for r in rounds.rounds),
                   "held_out_design": t_held_out}
        return _measure_and_keep(
            oracle, transform, stages, fit, rounds.num_queries, test_x, run_fields, timings,
            None, folder, t_start, info, q, n, seed, test, batch_size, progress, executor,
            extra_tests, labels, title, note, truth, view, reference_order, report)


def stage_counts(stages) -> dict:
    """{stage: coefficients it produced}, in :data:`plmscope.fourier.qsft.STAGES` order."""
    found = [str(v) for v in stages]
    return {name: found.count(name) for name in qsft.STAGES if name in found}


def truth_counts(transform: SparseFourier, truth: SparseFourier, labels: SiteLabels,
                 noise_floor: float = 0.0) -> dict:
    """How a recovery compares with a planted truth, one count per conjugate pair. A
    recovered term that is not planted counts as spurious only at or above `noise_floor`
    (the regression's 3 standard errors of one estimate); smaller ones are counted apart."""
    from .report.tables import truth_table

    table = truth_table(transform, truth, labels)
    counts = table["status"].value_counts()
    found = table[table["status"] == "found"]
    extra = table[table["status"] == "spurious"]
    spurious = extra[extra["abs_error"] >= noise_floor]
    return {"planted": int(counts.get("found", 0) + counts.get("missed", 0)),
            "found": int(counts.get("found", 0)), "missed": int(counts.get("missed", 0)),
            "spurious": int(len(spurious)), "below_noise_floor": int(len(extra) - len(spurious)),
            "noise_floor": float(noise_floor),
            "max_abs_error_found": float(found["abs_error"].max()) if len(found) else None,
            "max_spurious_magnitude": float(spurious["abs_error"].max()) if len(spurious) else None,
            "counted": "one per conjugate pair k, -k; order >= 1"}


SUMMARY_KEYS = ("format", "q", "n", "sites", "qsft", "test")


def load_interactions(path: str | os.PathLike, report: bool = True) -> InteractionsResult:
    """A finished run folder as an :class:`InteractionsResult` (rewrites a missing report)."""
    path = Path(path)
    summary_file = path / "summary.json"
    if not summary_file.exists():
        raise ValueError(f"{path} holds no finished interactions run (no summary.json); run "
                         "plmscope interactions with --out there to finish it")
    summary = read_json(summary_file, "summary of a finished interactions run")
    missing = [k for k in SUMMARY_KEYS if not isinstance(summary, dict) or k not in summary]
    if missing:
        raise ValueError(f"{summary_file} is not the summary of an interactions run (no "
                         f"{', '.join(missing)}); it is damaged or was written by another "
                         "command: delete it and rerun the same command to rebuild it")
    transform = SparseFourier.load(path / "transform.npz")
    stages = folders.read_npz(path / "transform.npz", "transform of a finished run").get("stages")
    if stages is not None and stages.shape != (len(transform),):
        stages = None  # a file of another length: no stage column rather than a wrong one
    data = folders.read_npz(path / "test.npz", "held-out set of a finished run")
    if not {"x", "y", "yhat"} <= set(data):
        raise ValueError(f"{path / 'test.npz'} lacks x, y or yhat; it is damaged: delete "
                         "summary.json and rerun the same command to rebuild the run's files")
    x, y, yhat = data["x"], data["y"], data["yhat"]
    result = InteractionsResult(transform, summary, path, None, x, y, yhat, already_finished=True,
                                stages=stages)
    if report and not (path / "report.html").exists():
        from .report.interactions import write_interactions_report

        truth = SparseFourier.load(path / "truth.npz") if (path / "truth.npz").exists() else None
        result.files = write_interactions_report(path, transform, summary,
                                                 SiteLabels.from_dict(summary["sites"]), y, yhat,
                                                 truth=truth, stages=stages)
    return result


def budget_line(the_plan, q: int, n: int) -> str:
    """The plan and how it compares with enumerating every variant."""
    total = float(q) ** n
    return (f"{the_plan}\n  = {the_plan.num_samples / total:.3g} of all q^n = {q}^{n} = "
            f"{total:,.0f} variants" if total < 1e15 else
            f"{the_plan}\n  = {the_plan.num_samples / total:.3g} of all q^n = {q}^{n} = "
            f"{total:.3g} variants")
