"""Arrays on a CUDA device, and where a computation runs.

torch CUDA tensors and CuPy arrays cross into the C++/CUDA core without host copies: this
module describes them as integers (device pointer, shape, dtype, device ordinal, stream), makes
results of the same kind on the same device, and picks the device:

* ``device=None`` (or ``"auto"``): where the data is (a CUDA array runs on its GPU, anything
  else on the CPU). The environment variable ``PLMSCOPE_DEVICE`` overrides the automatic choice.
* ``device="cpu"``: a CUDA array is copied to the host, computed there, and the result copied
  back (same kind, same device).
* ``device="cuda"`` / ``"cuda:N"`` / ``N``: host arrays are copied to the GPU (with CuPy, or a
  CUDA build of torch), computed there, and returned as numpy; a CUDA array must already be on
  that device.

torch and CuPy are imported only when an array of theirs is seen.
"""
from __future__ import annotations

import numbers
import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import _core

ENV_DEVICE = "PLMSCOPE_DEVICE"
_LIBRARIES = ("torch", "cupy")


class CudaUnavailableError(RuntimeError, ValueError):
    """A computation was asked to run on a GPU that this build or machine cannot use.

    Also a ValueError: handing a CUDA array to a CPU-only build is bad input that the
    message says how to fix (the CLI prints such errors as one line)."""


@dataclass(frozen=True)
class DeviceArray:
    """A torch CUDA tensor or CuPy array, as the core sees it."""

    obj: Any
    library: str  # "torch" or "cupy"
    ptr: int
    shape: tuple
    dtype: np.dtype
    contiguous: bool  # C order
    device: int
    stream: int  # cudaStream_t as an integer (0 = legacy default stream)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def where(self) -> str:
        return f"a {'torch CUDA tensor' if self.library == 'torch' else 'CuPy array'} on cuda:{self.device}"


@dataclass(frozen=True)
class Cuda:
    """Run on CUDA device `index` (None: the data's device, or device 0 for host data)."""

    index: int | None = None


CPU = "cpu"


# ---- recognising and describing arrays ---------------------------------------------------

def library_of(x) -> str | None:
    """"torch" or "cupy" for an array on a CUDA device, None for anything else.

    Raises ValueError for other objects that expose ``__cuda_array_interface__`` (Numba,
    JAX, ...): convert them with ``cupy.asarray`` or ``torch.as_tensor`` first.
    """
    root = type(x).__module__.partition(".")[0]
    if root == "torch":
        return "torch" if bool(getattr(x, "is_cuda", False)) else None
    if root == "cupy":
        return "cupy" if hasattr(x, "__cuda_array_interface__") else None
    try:
        exposes = hasattr(x, "__cuda_array_interface__")
    except Exception:  # noqa: BLE001 - a property that raises means "not a CUDA array"
        exposes = False
    if exposes:
        raise ValueError(
            f"x is a {type(x).__module__}.{type(x).__name__} on a CUDA device; plmscope takes "
            "torch CUDA tensors and CuPy arrays: convert with cupy.asarray(x) (no copy)"
        )
    return None


def is_device_array(x) -> bool:
    return library_of(x) is not None


_TORCH_DTYPES = {
    "float16": np.float16, "float32": np.float32, "float64": np.float64,
    "complex64": np.complex64, "complex128": np.complex128, "uint8": np.uint8, "int8": np.int8,
    "int16": np.int16, "int32": np.int32, "int64": np.int64, "bool": np.bool_,
}


def _c_strides(shape, itemsize):
    strides, acc = [], itemsize
    for dim in reversed(shape):
        strides.append(acc)
        acc *= max(int(dim), 1)
    return tuple(reversed(strides))


def describe(x) -> DeviceArray:
    """The pointer, shape, dtype, device and stream of a torch CUDA tensor or CuPy array."""
    lib = library_of(x)
    if lib == "torch":
        import torch

        name = str(x.dtype).removeprefix("torch.")
        if name not in _TORCH_DTYPES:
            raise ValueError(f"x has torch dtype {x.dtype}, which plmscope cannot read; "
                             "convert it with x.float() or x.double()")
        index = x.device.index if x.device.index is not None else torch.cuda.current_device()
        return DeviceArray(
            obj=x, library="torch", ptr=int(x.data_ptr()), shape=tuple(int(s) for s in x.shape),
            dtype=np.dtype(_TORCH_DTYPES[name]), contiguous=bool(x.is_contiguous()), device=index,
            stream=int(torch.cuda.current_stream(x.device).cuda_stream),
        )
    if lib == "cupy":
        cai = x.__cuda_array_interface__
        shape = tuple(int(s) for s in cai["shape"])
        dtype = np.dtype(cai["typestr"])
        strides = cai.get("strides")
        contiguous = strides is None or tuple(strides) == _c_strides(shape, dtype.itemsize) or \
            int(np.prod(shape, dtype=np.int64)) <= 1
        stream = cai.get("stream")  # CUDA Array Interface v3: 1 legacy, 2 per-thread, or a handle
        return DeviceArray(
            obj=x, library="cupy", ptr=int(cai["data"][0]), shape=shape, dtype=dtype,
            contiguous=bool(contiguous), device=int(x.device.id),
            stream=int(stream) if stream is not None else 0,
        )
    raise ValueError(f"x must be a torch CUDA tensor or a CuPy array, got {type(x).__name__}")


# ---- choosing the device -------------------------------------------------------------------

def parse_device(device) -> str | Cuda:
    """CPU, Cuda(index) or "auto" from a user's device argument (or PLMSCOPE_DEVICE)."""
    if device is None:
        device = os.environ.get(ENV_DEVICE) or "auto"
        source = f"{ENV_DEVICE}={device!r}" if os.environ.get(ENV_DEVICE) else "device"
    else:
        source = f"device={device!r}"
    if isinstance(device, numbers.Integral) and not isinstance(device, bool) and device >= 0:
        return Cuda(int(device))
    if isinstance(device, str):
        text = device.strip().lower()
        if text in ("auto", ""):
            return "auto"
        if text == "cpu":
            return CPU
        if text in ("cuda", "gpu"):
            return Cuda()
        if text.startswith("cuda:") and text[5:].isdigit():
            return Cuda(int(text[5:]))
    raise ValueError(f"{source} is not a device: use 'auto', 'cpu', 'cuda' or 'cuda:N' "
                     "(or set PLMSCOPE_DEVICE to one of them)")


def require_cuda(what: str = "this computation") -> None:
    """Raise CudaUnavailableError unless this build has CUDA kernels and sees a device."""
    if not _core.has_cuda():
        raise CudaUnavailableError(
            f"{what} needs the GPU, but this build of plmscope has no CUDA kernels: rebuild "
            "with PLMSCOPE_ENABLE_CUDA=ON (e.g. PLMSCOPE_ENABLE_CUDA=ON pip install . with nvcc "
            "on PATH), or pass device='cpu' to compute on the host"
        )
    if _core.cuda_device_count() == 0:
        raise CudaUnavailableError(
            f"{what} needs the GPU, but no CUDA device is visible to this process "
            "(check the driver and CUDA_VISIBLE_DEVICES), or pass device='cpu'"
        )


def choose(x, device=None) -> str | Cuda:
    """Where to compute on x: CPU, or Cuda(index) with the index resolved."""
    target = parse_device(device)
    lib = library_of(x)
    if target == "auto":
        if lib is None:
            return CPU
        target = Cuda()
    if target == CPU:
        return CPU
    if lib is not None:
        here = describe(x).device
        if target.index is not None and target.index != here:
            raise ValueError(f"x is on cuda:{here} but device='cuda:{target.index}': move it "
                             f"with x.to('cuda:{target.index}') or pass device='cuda:{here}'")
        require_cuda(f"x ({describe(x).where})")
        return Cuda(here)
    require_cuda(f"device={device!r}")
    return Cuda(target.index if target.index is not None else 0)


def routed(x, device=None) -> bool:
    """True when a call on x must go through `run`: x is on a GPU, or a GPU is asked for.
    (Host data with device None/"auto"/"cpu" stays on the plain CPU path.)"""
    return is_device_array(x) or isinstance(parse_device(device), Cuda)


def run(x, device, on_gpu: Callable[[DeviceArray], Any], on_cpu: Callable[[Any], Any]):
    """Compute f(x) where `choose` says, with results of x's kind.

    on_gpu takes a DeviceArray and returns arrays of its library on its device; on_cpu takes
    a host array. Host data sent to a GPU comes back as numpy; GPU data computed on the host
    goes back to its device as its own kind.
    """
    target = choose(x, device)
    lib = library_of(x)
    if target == CPU:
        if lib is None:
            return on_cpu(x)
        return _map(lambda a: from_host(a, like=x), on_cpu(to_host(x)))
    if lib is not None:
        return on_gpu(describe(x))
    up = upload(np.asarray(x), target.index)
    return _map(to_host, on_gpu(describe(up)))


def _map(f, result):
    if isinstance(result, tuple):
        return tuple(None if r is None else f(r) for r in result)
    return f(result)


# ---- making arrays of the same kind ----------------------------------------------------------

def _torch_dtype(dtype):
    import torch

    return getattr(torch, np.dtype(dtype).name if np.dtype(dtype) != np.bool_ else "bool")


def _allocate(kind: str, shape, dtype, like) -> Any:
    """torch.<kind> / cupy.<kind> ("empty", "zeros") of `like`'s library and device."""
    if library_of(like) == "torch":
        import torch

        return getattr(torch, kind)(tuple(shape), dtype=_torch_dtype(dtype), device=like.device)
    import cupy

    with cupy.cuda.Device(like.device.id):
        return getattr(cupy, kind)(tuple(shape), dtype=dtype)


def empty(shape, dtype, like) -> Any:
    """An uninitialised array of `like`'s kind and device."""
    return _allocate("empty", shape, dtype, like)


def zeros(shape, dtype, like) -> Any:
    """An array of zeros of `like`'s kind and device."""
    return _allocate("zeros", shape, dtype, like)


def converted(x, dtype, copy: bool = True) -> Any:
    """x as a C-contiguous array of `dtype` on its device (a new array when copy=True)."""
    lib = library_of(x)
    if lib == "torch":
        out = x.detach().to(dtype=_torch_dtype(dtype), memory_format=_contiguous_format())
        return out.clone() if copy and out.data_ptr() == x.data_ptr() else out.contiguous()
    import cupy

    with cupy.cuda.Device(x.device.id):
        return cupy.array(x, dtype=dtype, order="C", copy=True) if copy else \
            cupy.ascontiguousarray(x, dtype=dtype)


def _contiguous_format():
    import torch

    return torch.contiguous_format


def from_host(a, like) -> Any:
    """Host array `a` copied to `like`'s kind and device."""
    a = np.ascontiguousarray(a)
    if not a.flags.writeable:  # torch.from_numpy warns on read-only arrays
        a = a.copy()
    if library_of(like) == "torch":
        import torch

        return torch.from_numpy(a).to(like.device)
    import cupy

    with cupy.cuda.Device(like.device.id):
        return cupy.asarray(a)


def as_library(x, like) -> Any:
    """Device array x as an array of `like`'s library, without a copy (through the CUDA
    Array Interface); x must be on `like`'s device."""
    if library_of(x) == library_of(like):
        return x
    if library_of(like) == "torch":
        import torch

        return torch.as_tensor(x, device=like.device)
    import cupy

    with cupy.cuda.Device(like.device.id):
        return cupy.asarray(x)


def take(x, index: np.ndarray) -> Any:
    """Rows x[index] of a device array, for a host array of row indices (one small upload)."""
    if library_of(x) == "torch":
        import torch

        return x.index_select(0, torch.from_numpy(np.ascontiguousarray(index, np.int64))
                              .to(x.device))
    import cupy

    with cupy.cuda.Device(x.device.id):
        return x[cupy.asarray(np.ascontiguousarray(index, np.int64))]


def concatenate(parts) -> Any:
    """Device arrays of one library and device stacked along their first axis."""
    if library_of(parts[0]) == "torch":
        import torch

        return torch.cat(list(parts))
    import cupy

    with cupy.cuda.Device(parts[0].device.id):
        return cupy.concatenate(list(parts))


def to_host(x) -> np.ndarray:
    if library_of(x) == "torch":
        return x.detach().cpu().numpy()
    return x.get()


def upload(a: np.ndarray, index: int) -> Any:
    """Host array on CUDA device `index`, with CuPy if installed, else with torch."""
    try:
        import cupy
    except ImportError:
        cupy = None
    if cupy is not None:
        with cupy.cuda.Device(index):
            return cupy.asarray(np.ascontiguousarray(a))
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and torch.cuda.is_available():
        return torch.from_numpy(np.ascontiguousarray(a)).to(f"cuda:{index}")
    raise CudaUnavailableError(
        "moving host data to the GPU needs CuPy (pip install 'plmscope[gpu]') or a CUDA build "
        "of torch; or pass a torch CUDA tensor / CuPy array directly"
    )


def first_outside(x, low: int, high: int):
    """(index tuple, value) of the first entry of a device array outside [low, high), or
    None. One small device-to-host copy."""
    if library_of(x) == "torch":
        import torch

        bad = torch.nonzero((x < low) | (x >= high))
        if bad.shape[0] == 0:
            return None
        idx = tuple(int(i) for i in bad[0].cpu())
        return idx, x[idx].item()
    import cupy

    bad = cupy.argwhere((x < low) | (x >= high))
    if bad.shape[0] == 0:
        return None
    idx = tuple(int(i) for i in bad[0].get())
    return idx, x[idx].item()


def same_device(name: str, arr: DeviceArray, ref: DeviceArray) -> None:
    if arr.library != ref.library or arr.device != ref.device:
        raise ValueError(f"{name} is {arr.where} but x is {ref.where}: put them on one device "
                         "with one library")
