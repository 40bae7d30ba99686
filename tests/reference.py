"""Slow numpy references for the core's kernels, used only by the tests."""
from __future__ import annotations

import numpy as np


def qary_fft_ref(x: np.ndarray, q: int, inverse: bool = False) -> np.ndarray:
    """numpy.fft.fftn over the last axis reshaped to [q]*n (DESIGN.md normalisation)."""
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
