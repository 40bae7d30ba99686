"""Checkpointing of oracle answers: a run killed at any point resumes without re-asking.

A store is a folder: ``config.json`` (the arguments that fix the design, and a digest of
the unique query variants) and ``answers/NNNNNNN.npy`` (float64 answers of query batch N,
written to a temporary name and renamed, so a file either is complete or does not exist).
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from ...folders import atomic_target, damage_reason, write_text

FORMAT = "plmscope.qsft-store/1"


def design_digest(variants: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(variants).tobytes()).hexdigest()


class QueryStore:
    """Answers of query batches on disk, keyed by batch index."""

    def __init__(self, path: str | os.PathLike, config: dict):
        self.path = Path(path)
        self.config = {"format": FORMAT, **config}
        cfg_file = self.path / "config.json"
        if cfg_file.exists():
            try:
                stored = json.loads(cfg_file.read_text())
            except (ValueError, UnicodeDecodeError) as exc:
                raise ValueError(f"{cfg_file} is not valid JSON ({exc}); the store is damaged: "
                                 f"delete the folder {self.path} to ask its queries afresh, or "
                                 "use a new store path") from exc
            if not isinstance(stored, dict):
                raise ValueError(f"{cfg_file} holds {type(stored).__name__}, not a store "
                                 f"configuration; delete the folder {self.path} to ask its "
                                 "queries afresh, or use a new store path")
            diff = sorted(k for k in set(stored) | set(self.config) if stored.get(k) != self.config.get(k))
            if diff:
                detail = ", ".join(f"{k}: stored {stored.get(k)!r} vs now {self.config.get(k)!r}"
                                   for k in diff if k != "design_digest")
                if "design_digest" in diff and not detail:
                    detail = "the query variants differ"
                raise ValueError(
                    f"store {self.path} was made with other arguments ({detail}); pass the same "
                    "arguments to resume it, or use a new store path"
                )
        else:
            (self.path / "answers").mkdir(parents=True, exist_ok=True)
            write_text(cfg_file, json.dumps(self.config, indent=2, sort_keys=True))
        (self.path / "answers").mkdir(parents=True, exist_ok=True)

    def _file(self, index: int) -> Path:
        return self.path / "answers" / f"{index:07d}.npy"

    def answered(self) -> set[int]:
        return {int(p.stem) for p in (self.path / "answers").glob("*.npy") if p.stem.isdigit()}

    def load(self, index: int, size: int) -> np.ndarray | None:
        """The `size` saved answers of batch `index`, or None when its file is damaged
        (unreadable, another length, or not finite scores, e.g. a disk that filled up or a
        copy cut short): the file is then removed, with a warning naming it, so that the
        batch is asked again and saved anew."""
        path = self._file(index)
        try:
            with open(path, "rb") as fh:
                values = np.load(fh, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            why = f"unreadable: {damage_reason(exc)}"
        else:
            if values.shape != (size,) or values.dtype != np.float64:
                why = f"holds {values.dtype} {values.shape}, not {size} float64 answers"
            elif not np.isfinite(values).all():
                why = "holds answers that are not finite"
            else:
                return values
        warnings.warn(f"{path} is damaged ({why}); its batch of {size} queries is asked again",
                      stacklevel=2)
        path.unlink(missing_ok=True)
        return None

    def save(self, index: int, values: np.ndarray) -> None:
        target = self._file(index)
        if target.exists():  # a batch answered twice (e.g. a retried worker): keep the first
            return
        with atomic_target(target) as fh:
            np.save(fh, np.asarray(values, dtype=np.float64))
