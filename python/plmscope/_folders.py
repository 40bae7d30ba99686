"""Output folders that a failed start leaves as they were: a command that stops before it
has written anything worth keeping (a model that cannot be loaded) must not leave empty
folders or a run.json that makes the next attempt with other arguments look like a
different run."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path


def prune_empty(path: str | os.PathLike, remove_root: bool) -> None:
    """Remove the empty folders under `path`, deepest first, and `path` itself when
    `remove_root` and it is left empty. Folders holding any file are kept."""
    path = Path(path)
    if not path.is_dir():
        return
    for sub in sorted((p for p in path.rglob("*") if p.is_dir()),
                      key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty: it holds results
            sub.rmdir()
    if remove_root:
        with contextlib.suppress(OSError):
            path.rmdir()


@contextlib.contextmanager
def made_folder(path: str | os.PathLike):
    """mkdir `path` (parents too) for the block; if the block raises, the folders it left
    empty are removed again, `path` itself only when this call created it."""
    path = Path(path)
    existed = path.exists()
    path.mkdir(parents=True, exist_ok=True)
    try:
        yield path
    except BaseException:
        prune_empty(path, remove_root=not existed)
        raise
