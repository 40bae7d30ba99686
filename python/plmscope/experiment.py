"""The interactions experiment of the paper as one resumable call: q-SFT of an oracle, R^2
on held-out variants, and a report, all kept in a run folder.

A run folder holds ``run.json`` (the configuration; a folder made with another one is
refused), ``queries/`` (the q-SFT answers, batch by batch), ``test/`` (the held-out answers),
and, once finished, ``transform.npz``, ``test.npz``, the tables, figures, ``report.html`` and
``summary.json`` (written last: its presence means the run is complete).

Held-out variants: ``test`` variants drawn uniformly at random from Z_q^n with their own
random stream (seeded from ``seed``), without repeats and never one of the q-SFT query
points, so R^2 measures prediction on variants the recovery never saw. When fewer than
``test`` variants are left outside the design (tiny landscapes), all of them are used.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import folders
from .fourier import SparseFourier, SurrogateOracle, qsft
from .fourier.qsft import design
from .fourier.qsft.store import design_digest
from .report.tables import SiteLabels, num_effects, top_mutations

RUN_FORMAT = "plmscope.run/1"
SUMMARY_FORMAT = "plmscope.interactions/1"
_TEST_STREAM = 0x7E57  # the held-out draw's own stream, independent of the design's


# -- the run folder -------------------------------------------------------------------------

class RunFolder:
    """A run folder bound to one configuration (see the module docstring)."""

    def __init__(self, path: str | os.PathLike, config: dict):
        self.path = Path(path)
        self.config = {"format": RUN_FORMAT, **config}
        # JSON round trip so tuples and numpy scalars compare like what is read back
        self.config = json.loads(json.dumps(self.config, default=_json_default))

    @property
    def summary_file(self) -> Path:
        return self.path / "summary.json"

    def stored_config(self) -> dict | None:
        f = self.path / "run.json"
        if not f.exists():
            return None
        stored = read_json(f, "run.json of a run folder")
        if not isinstance(stored, dict):
            raise ValueError(f"{f} holds {type(stored).__name__}, not a run configuration "
                             "(a JSON object); it is damaged: choose a new --out folder")
        return stored

    def check(self) -> None:
        """ValueError if the folder holds a run of another configuration (or something else)."""
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"--out {self.path} is a file, not a run folder; choose a folder path")
        stored = self.stored_config()
        kind = self.config.get("kind")
        if stored is None:
            if self.path.is_dir() and any(p.name not in folders.HIDDEN
                                          for p in self.path.iterdir()):
                maker = folders.made_by(self.path)
                what = f"the output of `plmscope {maker}`" if maker else \
                    "a non-empty folder that is not a plmscope run (no run.json)"
                raise ValueError(f"--out {self.path} holds {what}; choose a new or empty folder")
            return
        if stored.get("kind") != kind:
            raise ValueError(
                f"--out {self.path} holds a `plmscope {stored.get('kind')}` run, not a {kind} "
                "run; choose another --out folder")
        old, new = _flatten(stored), _flatten(self.config)
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if diff:
            detail = "; ".join(f"{k}: stored {_short(old.get(k))} vs now {_short(new.get(k))}"
                               for k in diff)
            raise ValueError(
                f"--out {self.path} holds a run with another configuration ({detail}); rerun with "
                "the same arguments to resume or show it, or choose a new --out folder")

    def create(self) -> None:
        self.check()
        self.path.mkdir(parents=True, exist_ok=True)
        if self.stored_config() is None:
            _write_json(self.path / "run.json", self.config)

    @contextlib.contextmanager
    def created(self):
        """create(), then the block; if the block raises (e.g. the model cannot be loaded),
        the run.json it wrote goes again, so the next attempt, with other arguments too (a
        local checkpoint), is not refused as another configuration. The folders themselves
        are folders.claim's: it removes the empty ones a failed command leaves."""
        new_config = self.stored_config() is None
        self.create()
        try:
            yield self
        except BaseException:
            if new_config:
                (self.path / "run.json").unlink(missing_ok=True)
            raise

    def is_finished(self) -> bool:
        return self.summary_file.exists() and self.stored_config() == self.config

    def load_summary(self, required: tuple = ()) -> dict:
        """summary.json, or ValueError naming it when it is damaged or lacks `required` keys."""
        summary = read_json(self.summary_file, "summary of a finished run")
        if not isinstance(summary, dict) or not summary \
                or any(k not in summary for k in required):
            raise ValueError(f"{self.summary_file} is damaged (an empty or non-object summary); "
                             "delete it and rerun the same command to rebuild it from the saved "
                             "answers")
        return summary


def _flatten(config: dict, prefix: str = "") -> dict:
    """{'oracle.scorer': 'pllr', ...}: nested keys joined by dots, so a difference is named
    by the one setting that differs."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _short(value) -> str:
    text = json.dumps(value, default=_json_default)
    return text if len(text) <= 80 else text[:77] + "..."


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


read_json = folders.read_json


def _write_json(path: Path, data) -> None:
    folders.write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


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


# -- the design and the held-out set ----------------------------------------------------------

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


def ask_stored(oracle: Callable, variants: np.ndarray, folder: Path | None, config: dict,
               batch_size: int, progress, desc: str, executor=None) -> np.ndarray:
    """Answers of `oracle` for `variants`, saved batch by batch in `folder` (a QueryStore)
    so an interrupted run resumes without asking again; see :func:`qsft.ask_batches`."""
    return qsft.ask_batches(oracle, variants, batch_size, folder, config, executor, progress, desc)


def r_squared(y: np.ndarray, yhat: np.ndarray) -> float:
    """1 - SSE / SST (DESIGN.md); nan for fewer than two values or constant y."""
    y = np.asarray(y, dtype=np.float64)
    if y.size < 2:
        return float("nan")
    sst = float(np.sum((y - y.mean()) ** 2))
    if sst == 0:
        return float("nan")
    return 1.0 - float(np.sum((y - np.asarray(yhat)) ** 2)) / sst


class _DigestingExecutor:
    """Hashes the variants of every task handed to `inner` (None: in this process), in order,
    on the calling process, whichever process then asks the oracle. Without a store, recover
    hands over every batch in asking order, so the hash is the design digest."""

    def __init__(self, inner=None):
        self.inner, self.hash = inner or qsft.LocalExecutor(), hashlib.sha256()

    def run(self, oracle, tasks, on_result) -> None:
        tasks = list(tasks)
        for _, variants in tasks:
            self.hash.update(np.ascontiguousarray(variants, dtype=np.uint8).tobytes())
        self.inner.run(oracle, tasks, on_result)


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

    @property
    def r2(self) -> float | None:
        return self.summary["test"]["r2"]


def versions() -> dict:
    """Versions of what computed the result (torch and friends only when they were used)."""
    from importlib.metadata import PackageNotFoundError, version as pkg_version

    from . import __version__

    out = {"plmscope": __version__, "python": platform.python_version(), "numpy": np.__version__}
    for name, dist in (("scipy", "scipy"), ("pandas", "pandas"), ("torch", "torch"),
                       ("esm", "fair-esm"), ("transformers", "transformers")):
        if name in sys.modules or name in ("scipy", "pandas"):
            try:
                out[dist] = pkg_version(dist)
            except PackageNotFoundError:
                continue
    return out


def interactions_config(oracle_info: dict, q: int, n: int, b: int, num_subsample: int,
                        num_repeat: int, delays: str, noise_sd, seed: int, test: int,
                        batch_size: int, labels: SiteLabels, decoder: str = "auto") -> dict:
    """The run.json of an interactions run: everything that changes its numbers."""
    return {"kind": "interactions", "oracle": oracle_info, "q": q, "n": n, "b": b,
            "num_subsample": num_subsample, "num_repeat": num_repeat, "delays": delays,
            "noise_sd": noise_sd, "seed": seed, "test": test, "batch_size": batch_size,
            "sites": labels.to_dict(),
            "decoder": qsft.resolve_decoder(decoder, qsft.plan(q, n, b, num_subsample, delays,
                                                               num_repeat).num_samples)}


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
                     executor=None, decoder: str = "auto", view=None) -> InteractionsResult:
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
    """
    say = log or (lambda _msg: None)
    the_plan = qsft.plan(q, n, b, num_subsample, delays, num_repeat)
    labels = labels or SiteLabels.plain(n)
    if labels.n != n:
        raise ValueError(f"labels name {labels.n} sites but n={n}")
    test = int(test)
    if test < 0:
        raise ValueError(f"test must be >= 0 held-out variants, got test={test}")
    info = oracle_info if oracle_info is not None else describe_oracle(oracle)
    config = interactions_config(info, q, n, b, num_subsample, num_repeat, delays, noise_sd,
                                 seed, test, batch_size, labels, decoder)
    folder = RunFolder(out, config) if out is not None else None
    if folder is not None:
        folder.check()
        folders.prepare(folder.path)
    # one process per run folder: a second one would ask everything again and race on files
    with folders.locked(folder.path) if folder is not None else contextlib.nullcontext():
        if folder is not None:
            if folder.is_finished():
                return load_interactions(folder.path, report=report)
            folder.create()

        t_start = time.perf_counter()
        t0 = time.perf_counter()
        unique = qsft.query_variants(q, n, b, num_subsample, delays, num_repeat, seed, nthreads)
        test_x = held_out_variants(q, n, test, seed, unique)
        t_design = time.perf_counter() - t0
        digest = design_digest(unique)
        del unique

        store = folder.path / "queries" if folder is not None else None
        if store is not None and (store / "answers").is_dir():
            saved = len(list((store / "answers").glob("*.npy")))
            if saved:
                say(f"resuming: {saved} answered query batch(es) found in {store}")
        digesting = _DigestingExecutor(executor) if store is None else None
        recovery = qsft.recover(oracle, q, n, b, num_subsample=num_subsample, delays=delays,
                                num_repeat=num_repeat, noise_sd=noise_sd, seed=seed, store=store,
                                nthreads=nthreads, batch_size=batch_size,
                                executor=digesting or executor, progress=progress,
                                decoder=decoder)
        made = (json.loads((store / "config.json").read_text())["design_digest"] if store is not None
                else digesting.hash.hexdigest())
        if made != digest:  # the held-out set was drawn against another design: never report it
            raise RuntimeError("internal error: the q-SFT queries differ from the design used to "
                               "exclude held-out variants; please report this")
        transform = recovery.transform

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
        timings = dict(recovery.timings)
        timings.update(held_out_design=t_design, held_out_queries=t_test)
        summary = {
            "format": SUMMARY_FORMAT,
            "title": title or f"Interactions over {n} sites (q = {q})",
            "oracle": info, "q": q, "n": n, "sites": labels.to_dict(),
            "qsft": {"b": b, "num_subsample": num_subsample, "num_repeat": num_repeat,
                     "delays": delays, "noise_sd": noise_sd, "seed": seed, "batch_size": batch_size,
                     "decoder": recovery.decoder},
            "fit": None if recovery.fit is None else {
                k: v for k, v in recovery.fit.summary().items()
                if k not in ("lambdas", "cv_r2_path", "timings")},  # its time: timings.regress
            "plan": {"num_samples": the_plan.num_samples, "num_bins": the_plan.num_bins,
                     "num_delays": the_plan.num_delays, "memory_bytes": the_plan.memory_bytes},
            "num_queries": recovery.num_queries, "num_samples": recovery.num_samples,
            "fraction_of_all_variants": recovery.num_queries / float(q) ** n,
            "num_coefficients": len(transform),
            "num_effects": num_effects(transform),
            "has_mean": bool((transform.orders() == 0).any()),
            "top_mutations": top_mutations(transform, labels),
            "noise_sd_estimate": recovery.noise_sd, "noise_threshold": recovery.noise_threshold,
            "bins_left": recovery.bins_left, "residual_energy": recovery.residual_energy,
            "singletons_per_round": [int(v) for v in recovery.singletons_per_round],
            "test": {"requested": test, "size": int(test_x.shape[0]), "seed": seed,
                     "excludes_query_variants": True, "r2": r2,
                     "nmse": None if r2 is None else 1.0 - r2},
            "extra_tests": extra,
            "mean_score": float(transform.values[transform.orders() == 0].real.sum()),
            "wildtype_score": float(np.sum(transform.values).real),
            "energy_by_order": [float(v) for v in energy],
            "timings": timings, "versions": versions(), "note": note,
            "truth": None if truth is None else truth_counts(
            transform, truth, labels, 0.0 if recovery.fit is None else recovery.fit.noise_floor),
            "view": None if view is None else view.to_dict(),
        }
        result = InteractionsResult(transform, summary, folder.path if folder else None, recovery,
                                    test_x, test_y, test_yhat)
        if folder is not None:
            transform.save(folder.path / "transform.npz")
            np.savez(folder.path / "test.npz", x=test_x, y=test_y, yhat=test_yhat)
            # the total before the report: the one number the report, summary.json and the
            # console all show (the report's own time is timings.report)
            summary["timings"]["total"] = time.perf_counter() - t_start
            if report:
                from .report.interactions import write_interactions_report

                t0 = time.perf_counter()
                result.files = write_interactions_report(folder.path, transform, summary, labels,
                                                         test_y, test_yhat, reference_order, truth,
                                                         view)
                summary["timings"]["report"] = time.perf_counter() - t0
            summary["files"] = run_files(folder.path)
            _write_json(folder.summary_file, summary)
        else:
            summary["timings"]["total"] = time.perf_counter() - t_start
        return result


def release_oracle(oracle) -> None:
    """Close what a plmscope model oracle holds open (its SQLite score cache), so the run
    folder holds whole files before they are listed; the oracle reopens it if called again.
    Other oracles are left alone: their own close(), if any, may mean something else."""
    models = sys.modules.get("plmscope.models")
    distributed = sys.modules.get("plmscope.distributed")
    if (models is not None and isinstance(oracle, models.Oracle)) or \
            (distributed is not None and isinstance(oracle, distributed.LazyOracle)):
        oracle.close()


_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def run_files(path: Path) -> list[str]:
    """The artefacts of a run folder: its plain files and summary.json, without hidden files
    and without the transient journals SQLite keeps beside an open database (they come and go
    with connections, and a copy of one without its database means nothing)."""
    names = {p.name for p in path.iterdir() if p.is_file() and not p.name.startswith(".")}
    journals = {name for name in names for suffix in _SQLITE_SIDE_FILES
                if name.endswith(suffix) and name[:-len(suffix)] in names}
    return sorted((names - journals) | {"summary.json"})


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
    data = folders.read_npz(path / "test.npz", "held-out set of a finished run")
    if not {"x", "y", "yhat"} <= set(data):
        raise ValueError(f"{path / 'test.npz'} lacks x, y or yhat; it is damaged: delete "
                         "summary.json and rerun the same command to rebuild the run's files")
    x, y, yhat = data["x"], data["y"], data["yhat"]
    result = InteractionsResult(transform, summary, path, None, x, y, yhat, already_finished=True)
    if report and not (path / "report.html").exists():
        from .report.interactions import write_interactions_report

        truth = SparseFourier.load(path / "truth.npz") if (path / "truth.npz").exists() else None
        result.files = write_interactions_report(path, transform, summary,
                                                 SiteLabels.from_dict(summary["sites"]), y, yhat,
                                                 truth=truth)
    return result


def budget_line(the_plan, q: int, n: int) -> str:
    """The plan and how it compares with enumerating every variant."""
    total = float(q) ** n
    return (f"{the_plan}\n  = {the_plan.num_samples / total:.3g} of all q^n = {q}^{n} = "
            f"{total:,.0f} variants" if total < 1e15 else
            f"{the_plan}\n  = {the_plan.num_samples / total:.3g} of all q^n = {q}^{n} = "
            f"{total:.3g} variants")
