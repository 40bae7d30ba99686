"""A run folder: the output folder of one plmscope command run, bound to its configuration.

``run.json`` holds the configuration (a folder made with another one is refused, naming the
setting that differs); ``summary.json`` is written last, so its presence means the run is
complete. Answers are saved batch by batch (:func:`ask_stored`) so an interrupted run
resumes. Helpers here write and list the folder's files the same way for every command.
"""
from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from . import folders

RUN_FORMAT = "plmscope.run/1"


class RunFolder:
    """A run folder bound to one configuration (see the module docstring)."""

    def __init__(self, path: str | os.PathLike, config: dict):
        self.path = Path(path)
        self.config = {"format": RUN_FORMAT, **config}
        # JSON round trip so tuples and numpy scalars compare like what is read back
        self.config = json.loads(json.dumps(self.config, default=json_default))

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
            write_json(self.path / "run.json", self.config)

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
    text = json.dumps(value, default=json_default)
    return text if len(text) <= 80 else text[:77] + "..."


def json_default(obj):
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


def write_json(path: Path, data) -> None:
    folders.write_text(path, json.dumps(data, indent=2, default=json_default) + "\n")


def ask_stored(oracle: Callable, variants: np.ndarray, folder: Path | None, config: dict,
               batch_size: int, progress, desc: str, executor=None) -> np.ndarray:
    """Answers of `oracle` for `variants`, saved batch by batch in `folder` (a QueryStore)
    so an interrupted run resumes without asking again; see
    :func:`plmscope.fourier.qsft.ask_batches`."""
    from .fourier.qsft import ask_batches

    return ask_batches(oracle, variants, batch_size, folder, config, executor, progress, desc)


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
