"""A CuPy stand-in whose "device memory" is host memory, and the similarity CUDA entry points
of ``plmscope._core`` emulated in numpy on that memory: the device code paths of the Python
layer (routing, conversions, where sums live, downloads) run end to end without a GPU.

``install(monkeypatch)`` puts the stand-in in ``sys.modules["cupy"]``, says that the build has
CUDA and two devices, replaces ``_core.cuda_covariance_accumulate``,
``_core.cuda_unit_sum_accumulate`` and ``_core.cuda_pair_similarity`` with numpy versions that
read and write through the raw pointers they are given (as the kernels do; float64
arithmetic, upper triangle only for the scatter, the kernels' error messages), and wraps the
CPU kernels; every call is logged. The emulated arrays refuse implicit conversion to numpy,
as CuPy does, so a host copy that the code did not ask for fails loudly.

What this cannot check is the CUDA kernels themselves: tests/test_gpu.py runs them on a GPU,
tests/cpp/test_cuda_emulation.cpp their block programs on the host.
"""
from __future__ import annotations

import ctypes
import sys
import types
from dataclasses import dataclass, field

import numpy as np

from plmscope import _core


class _Device:
    def __init__(self, index):
        self.id = index


_CURRENT = {"device": 0}  # the stand-in's current device (cupy.cuda.Device(i) sets it)


class EmuArray:
    """An array on emulated device `device`: a numpy array behind CuPy's interface."""

    __module__ = "cupy"  # plmscope._device.library_of -> "cupy"

    def __init__(self, a: np.ndarray, device: int | None = None):
        self._a = a
        self.device = _Device(_CURRENT["device"] if device is None else device)

    # what plmscope reads from a CuPy array
    @property
    def __cuda_array_interface__(self):
        a = self._a
        return {"shape": a.shape, "typestr": a.dtype.str, "data": (a.ctypes.data, False),
                "strides": None if a.flags.c_contiguous else a.strides, "version": 3,
                "stream": 1}

    @property
    def shape(self):
        return self._a.shape

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def size(self):
        return self._a.size

    @property
    def T(self):
        return EmuArray(self._a.T, self.device.id)

    def get(self) -> np.ndarray:
        return self._a.copy()

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed (emulated CuPy): "
                        "use .get()")

    # array arithmetic the Python layer uses on device arrays
    def _other(self, other):
        if isinstance(other, EmuArray):
            if other.device.id != self.device.id:
                raise ValueError(f"arrays on devices {self.device.id} and {other.device.id}")
            return other._a
        if isinstance(other, np.ndarray):
            raise TypeError("a host numpy array in device arithmetic (emulated CuPy)")
        return other

    def __getitem__(self, key):
        if isinstance(key, EmuArray):
            key = self._other(key)
        return EmuArray(self._a[key], self.device.id)

    def __sub__(self, other):
        return EmuArray(self._a - self._other(other), self.device.id)

    def __add__(self, other):
        return EmuArray(self._a + self._other(other), self.device.id)

    def __mul__(self, other):
        return EmuArray(self._a * self._other(other), self.device.id)

    __rmul__ = __mul__

    def __matmul__(self, other):
        return EmuArray(self._a @ self._other(other), self.device.id)

    def __iadd__(self, other):
        self._a += self._other(other)
        return self

    def sum(self, axis=None):
        return EmuArray(np.asarray(self._a.sum(axis)), self.device.id)


def _new(a) -> EmuArray:
    return EmuArray(np.array(a, order="C", copy=True))


class _DeviceContext:
    def __init__(self, index):
        self.index = int(index)

    def __enter__(self):
        self.saved = _CURRENT["device"]
        _CURRENT["device"] = self.index
        return self

    def __exit__(self, *exc):
        _CURRENT["device"] = self.saved


def _module() -> types.ModuleType:
    m = types.ModuleType("cupy")
    m.ndarray = EmuArray
    m.float32, m.float64, m.int64 = np.float32, np.float64, np.int64
    m.asarray = lambda a: a if isinstance(a, EmuArray) else _new(a)
    m.zeros = lambda shape, dtype=np.float64: EmuArray(np.zeros(shape, dtype))
    m.empty = lambda shape, dtype=np.float64: EmuArray(np.full(shape, np.nan, dtype)
                                                        if np.dtype(dtype).kind == "f"
                                                        else np.zeros(shape, dtype))
    m.ascontiguousarray = lambda x, dtype=None: EmuArray(
        np.ascontiguousarray(x._a, dtype=dtype), x.device.id)
    m.array = lambda x, dtype=None, order="C", copy=True: EmuArray(
        np.array(x._a, dtype=dtype, order=order, copy=True), x.device.id)
    m.concatenate = lambda parts: EmuArray(np.concatenate([p._a for p in parts]),
                                           parts[0].device.id)
    m.asnumpy = lambda x: x.get()
    m.cuda = types.SimpleNamespace(Device=_DeviceContext)
    return m


# ---- the similarity entry points, emulated on raw pointers -----------------------------------

_CTYPES = {"float32": ctypes.c_float, "float64": ctypes.c_double, "int64": ctypes.c_int64}


def _view(ptr: int, dtype: str, shape) -> np.ndarray:
    if int(np.prod(shape)) == 0:
        return np.zeros(shape, dtype)
    return np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(_CTYPES[dtype])),
                                 shape=tuple(shape))


def _covariance(x, n, d, shift, sum, scatter, device, stream):
    c = _view(x, "float32", (n, d)).astype(np.float64) - _view(shift, "float64", (d,))
    _view(sum, "float64", (d,))[:] += c.sum(axis=0)
    iu = np.triu_indices(d)
    _view(scatter, "float64", (d, d))[iu] += (c.T @ c)[iu]  # the lower triangle is untouched


def _unit_sum(x, dtype, n, d, unit_sum, device, stream):
    rows = _view(x, dtype, (n, d)).astype(np.float64)
    norms = np.sqrt((rows * rows).sum(axis=1))
    bad = np.flatnonzero(~(norms > 0) | ~np.isfinite(norms))
    if bad.size:
        raise ValueError(f"row {bad[0]} has norm 0 (or non-finite): the cosine of a zero (or "
                         "non-finite) vector is undefined; drop such rows first")
    _view(unit_sum, "float64", (d,))[:] += (rows / norms[:, None]).sum(axis=0)


def _pairs(x, dtype, n, d, pairs, npairs, cosine, sqdist, device, stream):
    rows = _view(x, dtype, (n, d)).astype(np.float64)
    p = _view(pairs, "int64", (npairs, 2))
    outside = np.argwhere((p < 0) | (p >= n))
    if outside.size:
        i, j = outside[0]
        raise ValueError(f"pairs[{i}, {j}] = {p[i, j]} is not a row index in [0, n={n})")
    a, b = rows[p[:, 0]], rows[p[:, 1]]
    if sqdist:
        _view(sqdist, "float64", (npairs,))[:] = ((a - b) ** 2).sum(axis=1)
    if cosine:
        na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
        zero = np.flatnonzero(~(na > 0) | ~(nb > 0))
        if zero.size:
            k = zero[0]
            raise ValueError(f"pair {k} (rows {p[k, 0]}, {p[k, 1]}) has a row of norm 0 (or "
                             "non-finite): its cosine is undefined; drop zero rows first")
        _view(cosine, "float64", (npairs,))[:] = (a * b).sum(axis=1) / (na * nb)


@dataclass
class CallLog:
    """Every kernel call: (name, arguments) in order; GPU names start with "cuda_"."""

    calls: list = field(default_factory=list)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def gpu(self) -> list[tuple[str, tuple]]:
        return [c for c in self.calls if c[0].startswith("cuda_")]

    def host(self) -> list[tuple[str, tuple]]:
        return [c for c in self.calls if not c[0].startswith("cuda_")]

    def clear(self) -> None:
        self.calls.clear()


def _logged(log: CallLog, name: str, f):
    def call(*args):
        log.calls.append((name, args))
        return f(*args)
    return call


def install(monkeypatch) -> CallLog:
    """Emulated CuPy and CUDA entry points for one test (undone by monkeypatch)."""
    log = CallLog()
    monkeypatch.setitem(sys.modules, "cupy", _module())
    monkeypatch.setitem(_CURRENT, "device", 0)
    monkeypatch.setattr(_core, "has_cuda", lambda: True, raising=False)
    monkeypatch.setattr(_core, "cuda_device_count", lambda: 2, raising=False)
    for name, f in [("cuda_covariance_accumulate", _covariance),
                    ("cuda_unit_sum_accumulate", _unit_sum),
                    ("cuda_pair_similarity", _pairs)]:
        monkeypatch.setattr(_core, name, _logged(log, name, f), raising=False)
    for name in ("covariance_accumulate", "unit_sum_accumulate", "pair_similarity"):
        monkeypatch.setattr(_core, name, _logged(log, name, getattr(_core, name)))
    return log


def on_device(a, device: int = 0) -> EmuArray:
    """A copy of host array `a` on emulated device `device`."""
    return EmuArray(np.array(a, order="C", copy=True), device)


def address(x) -> int:
    return x.__cuda_array_interface__["data"][0]
