"""The dense q-ary Fourier transform, computed by the C++ core."""
from __future__ import annotations

import numpy as np

from .. import _core, _device
from .._checks import check_nthreads, check_q, qary_log
from .._memory import require_memory
from . import gpu


def qary_fft(x, q: int, inverse: bool = False, nthreads: int = 0, real: bool = False,
             device=None):
    """n-dimensional DFT over Z_q^n along the last axis.

    Parameters
    ----------
    x : array_like, shape (..., q**n)
        Function values, flattened most-significant site first (index = sum x_i q^(n-1-i)).
        Leading axes are a batch of independent functions. Real or complex.
    q : int
        Alphabet size, >= 2 (any q: prime, composite, 20).
    inverse : bool
        False: F[k] = q^-n sum_x f(x) omega^-<k,x>. True: f(x) = sum_k F[k] omega^<k,x>
        (no normalisation), so ``qary_fft(qary_fft(f, q), q, inverse=True) == f``.
    nthreads : int
        Threads to use; 0 = all cores.
    real : bool
        Only for q = 2 and real x: return the real Walsh-Hadamard transform (float dtype)
        instead of a complex array with zero imaginary part.
    device : None, "auto", "cpu", "cuda" or "cuda:N"
        Where to compute (see :mod:`plmscope._device`): by default where x lives. torch CUDA
        tensors and CuPy arrays are transformed on their GPU (q <= 32) without host copies.

    Returns
    -------
    An array of x's shape and kind (numpy, or torch/CuPy on x's device): complex128
    (complex64 for float32/complex64 input), or float64/float32 when ``real=True``.
    """
    if _device.routed(x, device):
        return _device.run(x, device, lambda a: gpu.qary_fft(a, q, inverse, real),
                           lambda h: qary_fft(h, q, inverse, nthreads, real, device="cpu"))
    q = check_q(q)
    nthreads = check_nthreads(nthreads)
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("x must have at least one axis of length q**n, got a scalar")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ValueError(f"x must hold numbers, got dtype {x.dtype}")
    qary_log(x.shape[-1], q)
    single = x.dtype in (np.float32, np.complex64, np.float16)
    if real:
        if q != 2:
            raise ValueError(f"real=True is the Walsh-Hadamard path and needs q=2, got q={q}")
        if np.iscomplexobj(x):
            raise ValueError("real=True needs real input, got a complex array")
        dtype = np.float32 if single else np.float64
    else:
        dtype = np.complex64 if single else np.complex128
    require_memory(x.size * np.dtype(dtype).itemsize, f"qary_fft of shape {x.shape}")
    if x.size and x.dtype == dtype and x.flags.c_contiguous:
        # the copy fused into the transform's first pass (one pass over memory less)
        if real:
            return _core.walsh_hadamard_copy(x, bool(inverse), nthreads)
        return _core.qary_fft_copy(x, q, bool(inverse), nthreads)
    out = _aligned_empty(x.shape, dtype)
    np.copyto(out, x, casting="unsafe")
    if out.size:
        if real:
            _core.walsh_hadamard_inplace(out, bool(inverse), nthreads)
        else:
            _core.qary_fft_inplace(out, q, bool(inverse), nthreads)
    return out


def _aligned_empty(shape, dtype) -> np.ndarray:
    """An uninitialised C-contiguous array aligned as the core's own outputs are (numpy's
    large arrays start 16 bytes past a 64-byte boundary, where the codelets' 64-byte loads
    each span two cache lines: 1.2x slower at 2^24)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    return _core.aligned_bytes(nbytes).view(dtype).reshape(shape)
