"""Cosine similarity and squared Euclidean distance of chosen pairs of embeddings."""
from __future__ import annotations

import numpy as np

from .. import _core, _device
from . import gpu as gpu_kernels
from .._checks import check_nthreads
from .rows import device_index, place_rows


def _shape_error(shape) -> ValueError:
    return ValueError(f"pairs must be an integer array of shape (P, 2), got shape {shape}")


def _host_pairs(pairs) -> np.ndarray:
    p = _device.to_host(pairs) if _device.is_device_array(pairs) else np.asarray(pairs)
    if p.size == 0:
        p = np.zeros((0, 2), dtype=np.int64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise _shape_error(p.shape)
    if p.dtype.kind not in "iu":
        raise ValueError(f"pairs must hold integer row indices, got dtype {p.dtype}")
    return np.ascontiguousarray(p, dtype=np.int64)


def _gpu_pairs(pairs, x):
    """pairs as a contiguous (P, 2) int64 array on x's GPU, of x's library."""
    if not _device.is_device_array(pairs):
        return _device.from_host(_host_pairs(pairs), like=x)
    a = _device.describe(pairs)
    if a.size == 0:
        return _device.empty((0, 2), np.int64, like=x)
    if len(a.shape) != 2 or a.shape[1] != 2:
        raise _shape_error(a.shape)
    if a.dtype.kind not in "iu":
        raise ValueError(f"pairs must hold integer row indices, got dtype {a.dtype}")
    if a.device != device_index(x):
        raise ValueError(f"pairs is {a.where} but X is on cuda:{device_index(x)}: put both "
                         "on one device")
    p = pairs if a.dtype == np.int64 and a.contiguous else \
        _device.converted(pairs, np.int64, copy=False)
    return _device.as_library(p, x)


def pair_similarity(X, pairs, nthreads: int = 0, device=None):
    """(cosine, squared Euclidean distance) of rows pairs[p, 0] and pairs[p, 1] of X.

    Parameters
    ----------
    X : array_like (N, d)
        Embeddings, one per row (float32 stays float32; sums are float64): a numpy array,
        torch tensor (CPU or CUDA) or CuPy array.
    pairs : array_like (P, 2) of int
        Row indices in [0, N), on the host or on X's GPU.
    nthreads : int
        0 = all cores (the CPU kernel).
    device : None, "auto", "cpu", "cuda" or "cuda:N"
        Where to compute (see :mod:`plmscope._device`): by default where X is. A torch CUDA
        tensor or CuPy array goes through the CUDA kernel on its GPU (float16 and bfloat16
        converted to float32 there; host pairs uploaded); "cpu" computes on the host;
        "cuda" uploads host X.

    Returns
    -------
    cosine, sqdist : float64 arrays of length P, of X's kind (numpy for host X; torch or
    CuPy on X's device for GPU X, wherever they were computed). The distance is summed as
    ||a - b||^2 in one pass with the cosine, without forming normalised or difference copies.

    Raises ValueError for an index outside [0, N), a zero-norm row in a pair, and for GPU X
    when this build has no CUDA kernels (or pass device="cpu").
    """
    nthreads = check_nthreads(nthreads)
    x = place_rows(X, "X", device)
    if not _device.is_device_array(x):
        cosine, sqdist = _core.pair_similarity(x, _host_pairs(pairs), True, True, nthreads)
        if _device.is_device_array(X):  # device="cpu": the results go back to X's device
            return _device.from_host(cosine, like=X), _device.from_host(sqdist, like=X)
        return cosine, sqdist
    cosine, sqdist = gpu_kernels.pair_similarity(x, _gpu_pairs(pairs, x))
    if not _device.is_device_array(X):  # host X sent to the GPU: numpy back
        return _device.to_host(cosine), _device.to_host(sqdist)
    return cosine, sqdist
