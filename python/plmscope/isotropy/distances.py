"""Cosine similarity and squared Euclidean distance of chosen pairs of embeddings."""
from __future__ import annotations

import numpy as np

from .. import _core
from .rows import as_rows, check_nthreads


def pair_similarity(X, pairs, nthreads: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(cosine, squared Euclidean distance) of rows pairs[p, 0] and pairs[p, 1] of X.

    Parameters
    ----------
    X : array_like (N, d)
        Embeddings, one per row (float32 stays float32; sums are float64).
    pairs : array_like (P, 2) of int
        Row indices in [0, N).
    nthreads : int
        0 = all cores.

    Returns
    -------
    cosine, sqdist : float64 arrays of length P. The distance is summed as ||a - b||^2 in
    one pass with the cosine, without forming normalised or difference copies.
    """
    x = as_rows(X, "X")
    p = np.asarray(pairs)
    if p.size == 0:
        p = np.zeros((0, 2), dtype=np.int64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"pairs must be an integer array of shape (P, 2), got shape {p.shape}")
    if p.dtype.kind not in "iu":
        raise ValueError(f"pairs must hold integer row indices, got dtype {p.dtype}")
    p = np.ascontiguousarray(p, dtype=np.int64)
    cosine, sqdist = _core.pair_similarity(x, p, True, True, check_nthreads(nthreads))
    return cosine, sqdist
