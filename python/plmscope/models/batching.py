"""Batches for forward passes: grouped by length, shrunk on out-of-memory, with progress."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from .._checks import check_int
from .model import ProteinModel, oom_errors

DEFAULT_BATCH_SIZE = 64


def check_batch_size(batch_size) -> int:
    return check_int("batch_size", batch_size, 1, " (sequences per forward pass)")


def length_groups(lengths, batch_size: int) -> list[np.ndarray]:
    """Index batches of at most `batch_size` items, each of items of similar length (sorted by
    length, longest first so an out-of-memory shows up on the first batch)."""
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def run_batches(model: ProteinModel, total: int, batch_size: int,
                step: Callable[[int, int], None], progress=None, desc: str = "") -> None:
    """Call step(start, stop) over [0, total) in chunks of at most `batch_size` items.

    On out-of-memory the chunk is retried at half the size, down to one item; the size that
    fitted is remembered on the model (``model.batch_cap``) so later calls start there.
    `progress`: True shows a tqdm bar, False hides it, None shows it on a terminal only.
    """
    size = check_batch_size(batch_size)
    if model.batch_cap is not None:
        size = min(size, model.batch_cap)
    errors = oom_errors()
    start = 0
    hide = None if progress is None else not progress  # None: tqdm shows it on a terminal
    with tqdm(total=total, desc=desc, unit="seq", disable=hide, leave=False) as bar:
        while start < total:
            stop = min(start + size, total)
            failed = False
            try:
                step(start, stop)
            except errors:
                if size == 1:
                    raise
                failed = True
            if failed:  # outside the except block, so the failed batch's tensors are freed
                size = max(1, size // 2)
                model.batch_cap = size
                if model.device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            bar.update(stop - start)
            start = stop
