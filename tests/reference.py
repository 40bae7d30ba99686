"""Slow numpy references for the core's kernels, used only by the tests."""
from __future__ import annotations

import itertools

import numpy as np


def qary_fft_ref(x: np.ndarray, q: int, inverse: bool = False) -> np.ndarray:
    """numpy.fft.fftn over the last axis reshaped to [q]*n (docs/conventions.md normalisation)."""
    x = np.asarray(x)
    length = x.shape[-1]
    n = int(round(np.log(length) / np.log(q))) if length > 1 else 0
    assert q**n == length
    batch = x.shape[:-1]
    cube = x.reshape(batch + (q,) * n)
    axes = tuple(range(len(batch), len(batch) + n))
    if n == 0:
        return x.astype(np.complex128)
    if inverse:
        return (np.fft.ifftn(cube, axes=axes) * q**n).reshape(x.shape)
    return (np.fft.fftn(cube, axes=axes) / q**n).reshape(x.shape)


def sparse_series_ref(freqs: np.ndarray, values: np.ndarray, q: int, x: np.ndarray) -> np.ndarray:
    """Re sum_k F[k] omega^<k,x>, one dense (M, K) phase matrix."""
    dots = (np.asarray(x, dtype=np.int64) @ np.asarray(freqs, dtype=np.int64).T) % q
    return (np.exp(2j * np.pi * dots / q) @ np.asarray(values, dtype=np.complex128)).real


def r_squared(y: np.ndarray, yhat: np.ndarray) -> float:
    y = np.asarray(y, dtype=np.float64)
    return float(1.0 - np.sum((y - yhat) ** 2) / np.sum((y - y.mean()) ** 2))


def metrics_ref(values, q):
    """docs/conventions.md's formulas written out with numpy.fft and itertools (slow, obvious)."""
    values = np.asarray(values, dtype=np.float64)
    n = int(round(np.log(values.size) / np.log(q)))
    F = qary_fft_ref(values, q)
    ks = list(itertools.product(range(q), repeat=n))  # flat order, most significant first
    orders = np.array([sum(1 for v in k if v) for k in ks])
    mags = np.abs(F)
    t = np.std(mags[1:]) / 5
    low = [i for i in range(len(ks)) if 1 <= orders[i] <= 5]
    sparsity = sum(mags[i] > t for i in low) / len(low)
    v = [sum(mags[i] ** 2 for i in range(len(ks)) if orders[i] == j) for j in range(n + 1)]
    top = min(n, 5)
    rugged = sum(j * v[j] for j in range(1, top + 1)) / sum(v[1:top + 1])
    return sparsity, rugged, np.array([0.0] + v[1:])
