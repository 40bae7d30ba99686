"""Embeddings as row arrays: checks and chunking shared by the geometry functions."""
from __future__ import annotations

import numbers
from typing import Iterable, Iterator

import numpy as np


def check_nthreads(nthreads) -> int:
    if isinstance(nthreads, bool) or not isinstance(nthreads, numbers.Integral) or nthreads < 0:
        raise ValueError(f"nthreads must be an integer >= 0 (0 = all cores), got {nthreads!r}")
    return int(nthreads)


def _is_array_like(x) -> bool:
    return isinstance(x, (np.ndarray, list, tuple)) or hasattr(x, "__array__") or \
        hasattr(x, "detach")


def as_rows(x, name: str = "X") -> np.ndarray:
    """A C-contiguous (n, d) float32 or float64 view or copy of x.

    float32 and float16 stay single precision (the float32 kernels); every other real dtype
    becomes float64. torch tensors on any device are detached and copied to the CPU.
    """
    if hasattr(x, "detach"):  # torch.Tensor without importing torch
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            x = x.float()
        x = x.numpy()
    arr = np.asarray(x)
    if arr.ndim != 2:
        hint = " (for one point use x[None, :])" if arr.ndim == 1 else ""
        raise ValueError(
            f"{name} must be a 2-D array of shape (N points, d dimensions), got shape "
            f"{arr.shape}{hint}"
        )
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    dtype = np.float32 if arr.dtype in (np.float32, np.float16) else np.float64
    return np.ascontiguousarray(arr, dtype=dtype)


def iter_chunks(X, name: str = "X") -> Iterator[tuple[str, np.ndarray]]:
    """Yield (label, rows) for X as (n_i, d) row arrays: X itself if it is array-like
    (ndarray, torch tensor, nested list), else each item of the iterable X (a generator
    reading embeddings from disk, say). Chunks may have different n_i but must share d; the
    label ("X chunk 3") names the chunk in error messages."""
    if _is_array_like(X):
        yield name, as_rows(X, name)
        return
    if not isinstance(X, Iterable):
        raise ValueError(
            f"{name} must be an (N, d) array or an iterable of (n, d) chunks, got "
            f"{type(X).__name__}"
        )
    for i, chunk in enumerate(X):
        yield f"{name} chunk {i}", as_rows(chunk, f"{name} chunk {i}")


def check_same_dim(x: np.ndarray, dim: int | None, name: str = "chunk") -> int:
    """The dimension of a stream of chunks: x's, which must equal `dim` once it is known."""
    if dim is not None and x.shape[1] != dim:
        raise ValueError(
            f"{name} has d={x.shape[1]} columns but earlier rows had d={dim}: every "
            "chunk must hold embeddings of the same dimension"
        )
    return x.shape[1]
