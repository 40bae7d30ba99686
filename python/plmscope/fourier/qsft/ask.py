"""Asking an oracle for many variants, batch by batch, through an executor, with every
answered batch saved to a :class:`QueryStore` before the next one is needed."""
from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np

from .store import QueryStore, design_digest


class LocalExecutor:
    """Asks the oracle in this process, one batch after another."""

    def run(self, oracle: Callable, tasks: Sequence[tuple[int, np.ndarray]],
            on_result: Callable[[int, np.ndarray], None]) -> None:
        for index, variants in tasks:
            on_result(index, oracle(variants))


def check_answers(values, variants: np.ndarray, index: int) -> np.ndarray:
    """float64 (m,) answers, or ValueError naming the first offending variant."""
    arr = np.asarray(values, dtype=np.float64)
    m = variants.shape[0]
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.shape != (m,):
        raise ValueError(f"the oracle returned shape {arr.shape} for a batch of {m} variants "
                         f"(batch {index}); it must return one float per variant")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"the oracle returned {arr[i]} for variant {variants[i].tolist()} "
                         f"(batch {index}, row {i}); scores must be finite")
    return arr


def ask_batches(oracle: Callable, variants: np.ndarray, batch_size: int,
                store: str | os.PathLike | None = None, config: dict | None = None,
                executor=None, progress: bool | None = None, desc: str = "oracle") -> np.ndarray:
    """float64 answers of `oracle` for every row of `variants`.

    Batch i is rows [i * batch_size, (i + 1) * batch_size). With `store`, batches already
    saved there are read back and the others are saved as they arrive; the store records
    `config` plus the batch size, the count and a digest of the variants, and refuses to be
    reused with anything else. The batches to ask run through `executor`
    (``run(oracle, tasks, on_result)``; None: :class:`LocalExecutor`), which may answer in
    any order and more than once.
    """
    m = variants.shape[0]
    answers = np.empty(m, dtype=np.float64)
    num_batches = (m + batch_size - 1) // batch_size
    qs = None
    done: set[int] = set()
    if store is not None:
        qs = QueryStore(store, {**(config or {}), "batch_size": batch_size, "num_queries": m,
                                "design_digest": design_digest(variants)})
        for i in sorted(qs.answered()):
            if i >= num_batches:
                continue
            lo, hi = i * batch_size, min(m, (i + 1) * batch_size)
            vals = qs.load(i, hi - lo)
            if vals is None:
                continue  # a damaged file (removed, named in a warning): ask again
            answers[lo:hi] = vals
            done.add(i)
    tasks = [(i, variants[i * batch_size:(i + 1) * batch_size])
             for i in range(num_batches) if i not in done]
    if not tasks:
        return answers
    from tqdm.auto import tqdm

    bar = tqdm(total=m, initial=m - sum(t[1].shape[0] for t in tasks), unit="query", desc=desc,
               disable=(progress is False) if progress is not None else None, leave=False)
    got: set[int] = set()

    def on_result(index: int, values) -> None:
        lo = index * batch_size
        batch = variants[lo:lo + batch_size]
        vals = check_answers(values, batch, index)
        if index in got:  # a late copy of a batch already saved
            return
        answers[lo:lo + batch.shape[0]] = vals
        if qs is not None:
            qs.save(index, vals)
        got.add(index)
        bar.update(batch.shape[0])

    try:
        (executor or LocalExecutor()).run(oracle, tasks, on_result)
    finally:
        bar.close()
    missing = [i for i, _ in tasks if i not in got]
    if missing:
        raise RuntimeError(f"the executor returned without answering {len(missing)} batch(es) "
                           f"of {desc} (first: {missing[0]}); rerun with the same store to resume")
    return answers
