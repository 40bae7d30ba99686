"""GPU versions of :func:`plmscope.fourier.qary_fft` and :meth:`SparseFourier.evaluate`.

Each takes a :class:`plmscope._device.DeviceArray` (a torch CUDA tensor or CuPy array, as
described by :func:`plmscope._device.describe`) and returns an array of the same library on
the same device; the kernels are queued on the array's current stream, so the call returns
before the GPU is done, as torch and CuPy operations do. The public functions route here on
their own (``device=`` argument); call these directly only for the tuning knobs.
"""
from __future__ import annotations

import weakref

import numpy as np

from .. import _core, _device
from .._checks import check_q, qary_log

MAX_GPU_Q = 32  # the CUDA transform's radix-q butterflies
_SINGLE = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.complex64))


def qary_fft(x: _device.DeviceArray, q: int, inverse: bool = False, real: bool = False, *,
             tile_bytes: int = 0, chunk_bytes: int = 0, threads: int = 0):
    """The q-ary FFT of a device array over its last axis (see plmscope.fourier.qary_fft).

    tile_bytes, chunk_bytes, threads: launch shape (0 = automatic); see FftTuning in
    cuda/plmscope_cuda.h.
    """
    q = check_q(q)
    if q > MAX_GPU_Q:
        raise ValueError(f"the GPU qary_fft handles q <= {MAX_GPU_Q}, got q={q}; pass "
                         "device='cpu' to transform on the host")
    if len(x.shape) == 0:
        raise ValueError("x must have at least one axis of length q**n, got a scalar")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"x must hold numbers, got dtype {x.dtype}")
    n = qary_log(x.shape[-1], q)
    single = x.dtype in _SINGLE
    if real:
        if q != 2:
            raise ValueError(f"real=True is the Walsh-Hadamard path and needs q=2, got q={q}")
        if np.issubdtype(x.dtype, np.complexfloating):
            raise ValueError("real=True needs real input, got a complex array")
        dtype = np.dtype(np.float32 if single else np.float64)
    else:
        dtype = np.dtype(np.complex64 if single else np.complex128)
    out = _device.converted(x.obj, dtype, copy=True)
    if x.size:
        d = _device.describe(out)
        _core.cuda_qary_fft(d.ptr, dtype.name, x.size // x.shape[-1], q, n, bool(inverse),
                            d.device, d.stream, int(tile_bytes), int(chunk_bytes), int(threads))
    return out


# Device copies of a SparseFourier's arrays, per (library, device), dropped with the object.
_RESIDENT: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _resident(sf, like: _device.DeviceArray):
    per = _RESIDENT.setdefault(sf, {})
    key = (like.library, like.device)
    if key not in per:
        per[key] = (_device.from_host(sf.frequencies, like.obj),
                    _device.from_host(sf.values, like.obj))
    return per[key]


def evaluate(sf, x: _device.DeviceArray):
    """f at the M variants of a device array x ((M, n) integers in [0, q)) as float64 (M,)."""
    if len(x.shape) != 2:
        raise ValueError(f"x must be a 2-D (M, n) array of variants, got shape {x.shape}")
    if x.shape[1] != sf.n:
        raise ValueError(f"x has n={x.shape[1]} sites per variant but this transform has n={sf.n}")
    if x.size and not (np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_):
        raise ValueError(f"x on the GPU must hold integers in [0, q={sf.q}), got dtype {x.dtype}")
    M = x.shape[0]
    if x.size and x.dtype != np.bool_:
        bad = _device.first_outside(x.obj, 0, sf.q)
        if bad is not None:
            (i, j), value = bad
            raise ValueError(f"x[{i}, {j}] = {value} is outside [0, q={sf.q})")
    out = _device.empty((M,), np.float64, like=x.obj)
    if M == 0:
        return out
    xs = _device.describe(_device.converted(x.obj, np.uint8, copy=False))
    freqs, values = (_device.describe(a) for a in _resident(sf, x))
    o = _device.describe(out)
    _core.cuda_sparse_series_evaluate(freqs.ptr, values.ptr, len(sf), sf.n, sf.q, xs.ptr, M,
                                      o.ptr, o.device, o.stream)
    return out
