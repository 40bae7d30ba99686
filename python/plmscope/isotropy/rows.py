"""Embeddings as row arrays: checks, chunking and placement (host or GPU) shared by the
geometry functions."""
from __future__ import annotations

import os
from typing import Any, Iterable, Iterator

import numpy as np

from .. import _device


def _is_array_like(x) -> bool:
    return isinstance(x, (np.ndarray, list, tuple)) or hasattr(x, "__array__") or \
        hasattr(x, "detach") or _device.is_device_array(x)


def _check_2d(shape: tuple, name: str) -> None:
    if len(shape) != 2:
        hint = " (for one point use x[None, :])" if len(shape) == 1 else ""
        raise ValueError(
            f"{name} must be a 2-D array of shape (N points, d dimensions), got shape "
            f"{shape}{hint}"
        )


def as_rows(x, name: str = "X") -> np.ndarray:
    """A C-contiguous (n, d) float32 or float64 host array: a view or copy of x.

    float32, float16 and bfloat16 stay single precision (the float32 kernels); every other
    real dtype becomes float64. torch tensors on any device and CuPy arrays are detached and
    copied to the host.
    """
    if _device.library_of(x) == "cupy":
        x = x.get()
    elif hasattr(x, "detach"):  # torch.Tensor without importing torch
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            x = x.float()
        x = x.numpy()
    arr = np.asarray(x)
    _check_2d(arr.shape, name)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    dtype = np.float32 if arr.dtype in (np.float32, np.float16) else np.float64
    return np.ascontiguousarray(arr, dtype=dtype)


def _dtype_name(x) -> str:
    return str(x.dtype).removeprefix("torch.")  # torch.float16 -> float16; numpy names as is


def as_device_rows(x, name: str = "X"):
    """The device-side `as_rows`: x (a torch CUDA tensor or CuPy array) as a C-contiguous
    (n, d) float32 or float64 array of its library on its device, detached from autograd.

    float16, bfloat16 (and other narrow floats) become float32 on the device, every other
    real dtype float64, as on the host; x itself is returned when it already qualifies."""
    _check_2d(tuple(x.shape), name)
    kind = _dtype_name(x)
    if kind == "float64" or kind.startswith(("int", "uint", "bool")):
        dtype = np.dtype(np.float64)
    elif kind.startswith(("float", "bfloat")):
        dtype = np.dtype(np.float32)
    else:
        raise ValueError(f"{name} must hold real numbers, got dtype {kind}")
    if _device.library_of(x) == "torch":
        x = x.detach()
    if kind == dtype.name and _device.describe(x).contiguous:
        return x
    return _device.converted(x, dtype, copy=False)


def device_index(x) -> int:
    """The CUDA device ordinal of a torch CUDA tensor or CuPy array."""
    if _device.library_of(x) == "torch":
        if x.device.index is not None:
            return int(x.device.index)
        import torch

        return int(torch.cuda.current_device())
    return int(x.device.id)


def where(x) -> str:
    """"a torch CUDA tensor on cuda:0" / "a CuPy array on cuda:1" (any dtype)."""
    kind = "torch CUDA tensor" if _device.library_of(x) == "torch" else "CuPy array"
    return f"a {kind} on cuda:{device_index(x)}"


def place_rows(chunk, name: str, device=None, like=None):
    """Rows of `chunk` where an accumulator computes them: a host array (`as_rows`) or an
    array on a GPU (`as_device_rows`).

    device: the accumulator's device argument (None/"auto", "cpu", "cuda", "cuda:N"; see
    plmscope._device). like: one of the accumulator's sums, None before its first rows.
    "cpu" brings every chunk to the host. Otherwise a GPU chunk stays on its GPU, and a host
    chunk is uploaded when the sums are on a GPU (or "cuda" is asked for): the sums live on
    the GPU from the first GPU chunk on (the accumulator moves them there once), so data never
    goes back to the host chunk by chunk. A GPU chunk of the other library (torch vs CuPy)
    on the sums' device is viewed as the sums' library without a copy; one on another device
    is an error (accumulate per device and `merge`).

    Raises CudaUnavailableError (a ValueError) for a GPU chunk or device="cuda" when this
    build has no CUDA kernels or no device is visible.
    """
    target = _device.parse_device(device)
    if target == _device.CPU:
        return as_rows(chunk, name)
    on_gpu = like is not None and _device.is_device_array(like)
    if not _device.is_device_array(chunk):
        if on_gpu:
            return _device.from_host(as_rows(chunk, name), like)
        if not isinstance(target, _device.Cuda):
            return as_rows(chunk, name)
        rows = as_rows(chunk, name)
        _device.require_cuda(f"device={device!r}" if device is not None
                             else f"{_device.ENV_DEVICE}={os.environ.get(_device.ENV_DEVICE)!r}")
        return _device.upload(rows, target.index if target.index is not None else 0)
    here = device_index(chunk)
    if isinstance(target, _device.Cuda) and target.index not in (None, here):
        raise ValueError(f"{name} is on cuda:{here} but device='cuda:{target.index}': move it "
                         f"with x.to('cuda:{target.index}') or pass device='cuda:{here}'")
    _device.require_cuda(f"{name} ({where(chunk)})")
    rows = as_device_rows(chunk, name)
    if on_gpu:
        there = device_index(like)
        if there != here:
            raise ValueError(
                f"{name} is on cuda:{here} but the earlier rows were summed on cuda:{there}: "
                f"move it with x.to('cuda:{there}'), or accumulate each device's rows in "
                "their own accumulator and merge them"
            )
        rows = _device.as_library(rows, like)
    return rows


def iter_chunks(X, name: str = "X") -> Iterator[tuple[str, Any]]:
    """Yield (label, chunk) for X: X itself if it is array-like (ndarray, torch tensor, CuPy
    array, nested list), else each item of the iterable X (a generator reading embeddings
    from disk, say). Chunks are passed on as they are (host or GPU; the accumulators check
    and place them); they may have different n_i but must share d. The label ("X chunk 3")
    names the chunk in error messages."""
    if _is_array_like(X):
        yield name, X
        return
    if not isinstance(X, Iterable):
        raise ValueError(
            f"{name} must be an (N, d) array or an iterable of (n, d) chunks, got "
            f"{type(X).__name__}"
        )
    for i, chunk in enumerate(X):
        yield f"{name} chunk {i}", chunk


def check_same_dim(x, dim: int | None, name: str = "chunk") -> int:
    """The dimension of a stream of chunks: x's, which must equal `dim` once it is known."""
    if dim is not None and x.shape[1] != dim:
        raise ValueError(
            f"{name} has d={x.shape[1]} columns but earlier rows had d={dim}: every "
            "chunk must hold embeddings of the same dimension"
        )
    return int(x.shape[1])
