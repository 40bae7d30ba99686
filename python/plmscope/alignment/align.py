"""Global PAM250 alignment score and identity for many pairs of proteins, in parallel."""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .._checks import check_nthreads
from .scoring import (biopython_aligner, parasail_agrees, parasail_matrix, parasail_score_identity,
                      prepare_sequences)

BACKENDS = ("auto", "parasail", "biopython")
_TASK_PAIRS = 64  # pairs per thread task: small enough for smooth progress
_MAX_TRACE_CELLS = 4e8  # traceback bytes per thread for one identity


@dataclass
class AlignmentResult:
    """Per-pair results, aligned with the rows of the `pairs` array.

    score: the optimal global PAM250 score (Biopython's units: open -10, extend -0.5).
    identity: identical columns / alignment columns (gaps included, EMBOSS needle's
    definition) of one optimal alignment, or None when not asked for. When several
    alignments tie for the optimum, parasail's traceback and Biopython pick different ones
    for ~10% of pairs, so identity can differ by up to ~0.04 between backends (mostly on
    unrelated pairs; docs/geometry.md); scores never do.
    backend: "parasail" or "biopython"."""

    score: np.ndarray
    identity: np.ndarray | None
    backend: str


def _biopython_score_identity(aligner, a: str, b: str, identity: bool):
    if not identity:
        return aligner.score(a, b), None
    aln = aligner.align(a, b)[0]
    return aln.score, aln.counts().identities / aln.length


def resolve_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "biopython":
        return backend
    if parasail_agrees():
        return "parasail"
    if backend == "parasail":
        raise ValueError(
            "backend='parasail' was asked for, but parasail is not installed or its scores "
            "differ from Biopython's on the probe pairs: pip install parasail>=1.3, or use "
            "backend='biopython'"
        )
    try:
        import parasail  # noqa: F401

        warnings.warn("parasail's scores differ from Biopython's here; using Biopython "
                      "(slow)", RuntimeWarning, stacklevel=3)
    except ImportError:
        pass
    return "biopython"


def align_pairs(sequences: Sequence[str], pairs, *, identity: bool = True,
                backend: str = "auto", nthreads: int = 0, nonstandard: str = "error",
                progress: Callable[[int], None] | None = None) -> AlignmentResult:
    """Global PAM250 alignment of sequences[pairs[p, 0]] with sequences[pairs[p, 1]].

    Parameters
    ----------
    sequences : sequence of str
        Protein sequences; see :func:`prepare_sequences` for letters PAM250 cannot score.
    pairs : array_like (P, 2) of int
        Indices into `sequences`.
    identity : bool
        Also compute the identity fraction (needs a traceback: ~2x slower, and a
        len_a x len_b byte table per thread, so pairs over 4e8 cells are refused).
    backend : "auto" | "parasail" | "biopython"
        "auto" uses parasail when it reproduces Biopython's scores (checked once per
        process), else Biopython.
    nthreads : int
        Threads for parasail (it releases the GIL); 0 = all cores. Biopython runs on one.
    nonstandard : "error" | "map"
        What to do with residues outside PAM250 (U, O, lowercase, ...).
    progress : callable(int) or None
        Called with the number of pairs finished since the last call.
    """
    seqs = prepare_sequences(list(sequences), nonstandard)
    p = np.asarray(pairs)
    if p.size == 0:
        p = np.zeros((0, 2), dtype=np.int64)
    if p.ndim != 2 or p.shape[1] != 2 or p.dtype.kind not in "iu":
        raise ValueError(f"pairs must be an integer array of shape (P, 2), got {p.dtype} "
                         f"{p.shape}")
    if p.size and (p.min() < 0 or p.max() >= len(seqs)):
        bad = int(np.argmax((p < 0) | (p >= len(seqs))) // 2)
        raise ValueError(f"pairs[{bad}] = {p[bad].tolist()} indexes outside the "
                         f"{len(seqs)} sequences")
    nthreads = check_nthreads(nthreads)
    chosen = resolve_backend(backend)
    P = p.shape[0]
    if identity and P:
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        cells = lengths[p[:, 0]] * lengths[p[:, 1]]
        if cells.max() > _MAX_TRACE_CELLS:
            k = int(np.argmax(cells))
            raise ValueError(
                f"pair {k} ({lengths[p[k, 0]]} x {lengths[p[k, 1]]} residues) needs a "
                f"{cells[k]:.3g}-cell traceback for its identity (limit {_MAX_TRACE_CELLS:.0g}): "
                "drop proteins longer than ~20,000 residues, or pass identity=False")
    score = np.empty(P)
    ident = np.empty(P) if identity else None

    if chosen == "biopython":
        aligner = biopython_aligner()
        for k, (i, j) in enumerate(p.tolist()):
            score[k], v = _biopython_score_identity(aligner, seqs[i], seqs[j], identity)
            if identity:
                ident[k] = v
            if progress and (k + 1) % _TASK_PAIRS == 0:
                progress(_TASK_PAIRS)
        if progress and P % _TASK_PAIRS:
            progress(P % _TASK_PAIRS)
        return AlignmentResult(score, ident, chosen)

    matrix = parasail_matrix()

    def task(start: int) -> int:
        stop = min(P, start + _TASK_PAIRS)
        for k in range(start, stop):
            i, j = p[k]
            score[k], v = parasail_score_identity(seqs[i], seqs[j], matrix, identity)
            if identity:
                ident[k] = v
        return stop - start

    workers = nthreads or os.cpu_count() or 1
    starts = range(0, P, _TASK_PAIRS)
    if workers == 1 or P <= _TASK_PAIRS:
        for s in starts:
            done = task(s)
            if progress:
                progress(done)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for done in pool.map(task, starts):
                if progress:
                    progress(done)
    return AlignmentResult(score, ident, chosen)


def global_alignment(a: str, b: str, nonstandard: str = "error") -> tuple[float, float]:
    """(score, identity) of one pair with the Biopython reference."""
    a, b = prepare_sequences([a, b], nonstandard)
    return _biopython_score_identity(biopython_aligner(), a, b, identity=True)
