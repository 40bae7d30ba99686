"""Seeded sampling of protein pairs: a fraction of the proteins, all pairs among them."""
from __future__ import annotations

import numbers

import numpy as np


def sample_proteins(n_proteins: int, fraction: float, seed: int = 0) -> np.ndarray:
    """Sorted indices of round(fraction * n_proteins) proteins (at least 2), drawn without
    replacement by numpy's default_rng(seed): the same seed gives the same proteins."""
    if isinstance(n_proteins, bool) or not isinstance(n_proteins, numbers.Integral) \
            or n_proteins < 2:
        raise ValueError(f"pair sampling needs at least 2 proteins, got {n_proteins!r}")
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) \
            or not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    k = min(n_proteins, max(2, int(round(fraction * n_proteins))))
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_proteins, size=k, replace=False))


def all_pairs(indices) -> np.ndarray:
    """(k (k - 1) / 2, 2) int64 array of every pair i < j of `indices`, row-major order."""
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    a, b = np.triu_indices(len(idx), k=1)
    return np.stack([idx[a], idx[b]], axis=1)


def sample_pairs(n_proteins: int, fraction: float, seed: int = 0) -> np.ndarray:
    """All pairs among a seeded sample of a fraction of the proteins (the paper's design)."""
    return all_pairs(sample_proteins(n_proteins, fraction, seed))
