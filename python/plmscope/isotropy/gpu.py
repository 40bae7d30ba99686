"""GPU versions of the similarity kernels, for torch CUDA tensors and CuPy arrays.

The same functions, arguments and meaning as the CPU bindings in ``plmscope._core``
(``covariance_accumulate``, ``unit_sum_accumulate``, ``pair_similarity``; see
cpp/include/plmscope/similarity.h), for arrays on one CUDA device; the geometry code routes
device arrays here (``plmscope._device.is_device_array``). Accumulators are updated in place
on the array's current stream; results are arrays of the inputs' kind and device.
"""
from __future__ import annotations

import numpy as np

from .. import _core, _device


def _vector(name, arr, d, ref):
    a = _device.describe(arr)
    _device.same_device(name, a, ref)
    if a.dtype != np.float64 or a.shape != (d,) or not a.contiguous:
        raise ValueError(f"{name} must be a contiguous float64 array of shape ({d},), got "
                         f"{a.dtype} {a.shape}")
    return a


def _rows(x, dtypes=(np.float32, np.float64)):
    a = _device.describe(x)
    if len(a.shape) != 2:
        raise ValueError(f"x must be a 2-D (n, d) array of rows, got shape {a.shape}")
    if a.dtype not in [np.dtype(t) for t in dtypes]:
        names = " or ".join(np.dtype(t).name for t in dtypes)
        raise ValueError(f"x must be {names} on the GPU, got {a.dtype}; convert it with "
                         "x.float() / x.astype(cupy.float32)")
    if not a.contiguous:
        raise ValueError("x must be C-contiguous: use x.contiguous() / cupy.ascontiguousarray(x)")
    return a


def covariance_accumulate(x, shift, sum, scatter) -> None:  # noqa: A002 - the core's name
    """sum += column sums of (x - shift); upper triangle of scatter += (x - shift)^T (x - shift).

    x: (n, d) float32; shift, sum: (d,) float64; scatter: (d, d) float64; one device."""
    _device.require_cuda("covariance_accumulate on a device array")
    a = _rows(x, (np.float32,))
    n, d = a.shape
    sh, s = _vector("shift", shift, d, a), _vector("sum", sum, d, a)
    sc = _device.describe(scatter)
    _device.same_device("scatter", sc, a)
    if sc.dtype != np.float64 or sc.shape != (d, d) or not sc.contiguous:
        raise ValueError(f"scatter must be a contiguous float64 array of shape ({d}, {d}), got "
                         f"{sc.dtype} {sc.shape}")
    _core.cuda_covariance_accumulate(a.ptr, n, d, sh.ptr, s.ptr, sc.ptr, a.device, a.stream)


def unit_sum_accumulate(x, unit_sum) -> None:
    """unit_sum += sum of the rows of x scaled to unit length (x float32 or float64).

    Raises ValueError naming the first row of zero norm (waits for the GPU)."""
    _device.require_cuda("unit_sum_accumulate on a device array")
    a = _rows(x)
    n, d = a.shape
    u = _vector("unit_sum", unit_sum, d, a)
    _core.cuda_unit_sum_accumulate(a.ptr, a.dtype.name, n, d, u.ptr, a.device, a.stream)


def pair_similarity(x, pairs, cosine: bool = True, sqdist: bool = True):
    """(cosine, sqdist) float64 arrays (npairs,) for the row pairs (npairs, 2) int64; an
    output not asked for is None. Raises ValueError for an index outside [0, n) or, with
    cosine, a zero-norm row (waits for the GPU)."""
    _device.require_cuda("pair_similarity on a device array")
    a = _rows(x)
    n, d = a.shape
    p = _device.describe(pairs)
    _device.same_device("pairs", p, a)
    if len(p.shape) != 2 or p.shape[1] != 2 or p.dtype != np.int64 or not p.contiguous:
        raise ValueError(f"pairs must be a contiguous int64 array of shape (npairs, 2), got "
                         f"{p.dtype} {p.shape}")
    npairs = p.shape[0]
    cos = _device.empty((npairs,), np.float64, like=x) if cosine else None
    sq = _device.empty((npairs,), np.float64, like=x) if sqdist else None
    _core.cuda_pair_similarity(a.ptr, a.dtype.name, n, d, p.ptr, npairs,
                               _device.describe(cos).ptr if cosine else 0,
                               _device.describe(sq).ptr if sqdist else 0, a.device, a.stream)
    return cos, sq
