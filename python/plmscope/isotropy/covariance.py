"""Streaming covariance: float64 accumulators fed chunk by chunk, mergeable."""
from __future__ import annotations

import math

import numpy as np

from .. import _core, _device
from . import gpu as gpu_kernels
from .._checks import check_nthreads
from .rows import check_same_dim, place_rows

# Rows per matrix product on the float64 paths: bounds the shifted copy to ~64 MB at d = 1024.
_F64_BLOCK = 8192
_SHIFT_ROWS = 4096  # rows whose mean becomes the shift
_NOT_FINITE = ("the embeddings hold NaN or infinite values (or overflow float32): check the "
               "model output, or pass float64 arrays")


def _symmetric(upper: np.ndarray) -> np.ndarray:
    """The symmetric matrix whose upper triangle is `upper`'s (a new array)."""
    upper = np.triu(upper)
    return upper + np.triu(upper, 1).T


class CovarianceAccumulator:
    """Covariance of all rows seen so far, without ever holding them.

    Keeps the count m, a shift vector K (the mean of the first rows, rounded to float32),
    s = sum (x - K) and the
    scatter S = sum (x - K)(x - K)^T in float64; the covariance is
    (S - s s^T / m) / (m - 1). Memory is O(d^2) whatever the number of rows.

    On the host, float32 chunks go through the C++ kernel (upper triangle only, float32
    products over blocks of 256 rows added into float64); float64 chunks through BLAS (numpy)
    in float64.

    Rows on a GPU (torch CUDA tensors, CuPy arrays) are summed on that GPU, and s and S then
    live there as float64 arrays of the rows' library: float32 rows (float16 and bfloat16 are
    converted to float32 on the device) through the CUDA kernel (float64 products); float64
    rows through the library's own float64 matrix product, because the kernel reads float32
    and rounding float64 input would lose the precision it was given for. The shift is taken
    from the same first rows by the same host arithmetic as on the CPU.

    Where the sums live (``device``: None/"auto", "cpu", "cuda" or "cuda:N", see
    plmscope._device): "cpu" keeps everything on the host; otherwise the sums move to the GPU
    once, with the first GPU chunk, and host chunks that come after are uploaded to it (one
    copy of the chunk, instead of sending every later GPU chunk to the host); "cuda" uploads
    host chunks from the start. Results (:meth:`covariance`, :meth:`scatter`, :attr:`mean`),
    :meth:`merge` and pickling download the sums once and use the host arithmetic, so they
    are the CPU path's numbers up to summation order.

    Accumulators with different shifts merge exactly (:meth:`merge`), so shards can be
    processed in parallel processes or on different devices.
    """

    def __init__(self, dim: int | None = None, nthreads: int = 0, device=None):
        if dim is not None and (not isinstance(dim, (int, np.integer)) or dim < 1):
            raise ValueError(f"dim must be a positive integer or None, got {dim!r}")
        self.dim = None if dim is None else int(dim)
        self.n_points = 0
        self.nthreads = check_nthreads(nthreads)
        _device.parse_device(device)  # a bad device fails here, not at the first chunk
        self.device = device
        self._shift = None  # float64 (d,), float32-representable; host or GPU, as the sums
        self._sum = None
        self._scatter = None  # upper triangle is authoritative

    def __repr__(self) -> str:
        return f"CovarianceAccumulator(n_points={self.n_points}, dim={self.dim})"

    def __getstate__(self) -> dict:
        # Pickles hold host arrays only: they load on machines without a GPU.
        state = dict(self.__dict__)
        if self.on_gpu:
            state["_shift"], state["_sum"], state["_scatter"] = self._host_state()
        return state

    @property
    def on_gpu(self) -> bool:
        """True while the sums live on a GPU."""
        return self._sum is not None and _device.is_device_array(self._sum)

    def _start(self, shift: np.ndarray) -> None:
        d = shift.shape[0]
        # float32-representable, as the float32 kernels need (they subtract in float32); any
        # shift near the mean keeps the final subtraction free of cancellation.
        self._shift = np.ascontiguousarray(shift, dtype=np.float32).astype(np.float64)
        self._sum = np.zeros(d)
        self._scatter = np.zeros((d, d))

    def _host_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(shift, sum, scatter) as host arrays: downloads (copies) when on a GPU."""
        if self.on_gpu:
            return tuple(_device.to_host(a) for a in (self._shift, self._sum, self._scatter))
        return self._shift, self._sum, self._scatter

    def _move_to_host(self) -> None:
        self._shift, self._sum, self._scatter = self._host_state()

    def _move_to_gpu(self, like) -> None:
        self._shift, self._sum, self._scatter = (
            _device.from_host(a, like) for a in (self._shift, self._sum, self._scatter))

    def update(self, chunk, name: str = "chunk") -> "CovarianceAccumulator":
        """Add the rows of an (n, d) chunk (host or GPU; see the class); returns self."""
        x = place_rows(chunk, name, self.device, self._sum)
        self.dim = check_same_dim(x, self.dim, name)
        if x.shape[0] == 0:
            return self
        gpu = _device.is_device_array(x)
        if self._shift is None:
            # Any shift near the mean avoids cancellation; the first rows' mean costs no
            # extra pass over a large array. GPU rows: those rows are copied to the host so
            # that the shift is the CPU path's to the last bit.
            head = x[:_SHIFT_ROWS]
            self._start((_device.to_host(head) if gpu else head).mean(axis=0, dtype=np.float64))
        if gpu:
            if not self.on_gpu:
                self._move_to_gpu(x)
            self._update_gpu(x)
        elif x.dtype == np.float32:
            _core.covariance_accumulate(x, self._shift, self._sum, self._scatter, self.nthreads)
        else:
            for i in range(0, x.shape[0], _F64_BLOCK):
                y = x[i:i + _F64_BLOCK] - self._shift
                self._sum += y.sum(axis=0)
                self._scatter += y.T @ y
        self.n_points += x.shape[0]
        return self

    def _update_gpu(self, x) -> None:
        if _device.describe(x).dtype == np.float32:
            gpu_kernels.covariance_accumulate(x, self._shift, self._sum, self._scatter)
            return
        for i in range(0, x.shape[0], _F64_BLOCK):  # float64: torch / CuPy matrix products
            y = x[i:i + _F64_BLOCK] - self._shift
            self._sum += y.sum(0)
            self._scatter += y.T @ y

    def merge(self, other: "CovarianceAccumulator") -> "CovarianceAccumulator":
        """Add another accumulator's rows to this one (any shifts, any devices); returns self.

        Computed on the host: sums on a GPU are downloaded once (this accumulator's move to
        the host, until a later GPU chunk moves them back; the other's are copied)."""
        if not isinstance(other, CovarianceAccumulator):
            raise ValueError(f"can only merge a CovarianceAccumulator, got {type(other).__name__}")
        if other.n_points == 0:
            return self
        if self.dim is not None and other.dim != self.dim:
            raise ValueError(f"cannot merge accumulators of d={other.dim} into d={self.dim}")
        shift, s, scatter = other._host_state()
        if self._shift is None:
            self.dim = other.dim
            self._start(shift)
        self._move_to_host()
        # Re-express the other's sums about this shift: with delta = K_other - K_self,
        # sum (x - K_self) = s + m delta, and the scatter gains s delta^T + delta s^T + m dd^T.
        delta = shift - self._shift
        m = other.n_points
        self._sum += s + m * delta
        self._scatter += _symmetric(scatter) + np.outer(s, delta) + np.outer(delta, s) \
            + m * np.outer(delta, delta)
        self.n_points += m
        return self

    def scatter(self) -> np.ndarray:
        """The symmetric scatter S = sum (x - K)(x - K)^T about the shift (a host copy)."""
        self._require(1)
        return _symmetric(self._host_state()[2])

    @property
    def mean(self) -> np.ndarray:
        self._require(1)
        shift, s, _ = self._host_state()
        return shift + s / self.n_points

    def covariance(self) -> np.ndarray:
        """The (d, d) covariance (host float64), mean-centred and divided by N - 1
        (numpy.cov's default).

        Raises ValueError for fewer than 2 rows and for rows holding NaN or infinity."""
        self._require(2)
        m = self.n_points
        _, s, scatter = self._host_state()
        cov = _symmetric(scatter)
        cov -= np.outer(s, s) / m
        cov /= m - 1
        if not (np.isfinite(s).all() and np.isfinite(np.diagonal(cov)).all()):
            raise ValueError(_NOT_FINITE)
        return cov

    def moments(self) -> tuple[float, float]:
        """(tr C, ||C||_F^2) of the covariance in one pass over the upper triangle (C++):
        all IsoScore needs, without the (d, d) copies that :meth:`covariance` makes."""
        self._require(2)
        _, s, scatter = self._host_state()
        trace, frob2 = _core.covariance_moments(np.ascontiguousarray(scatter, dtype=np.float64),
                                                np.ascontiguousarray(s, dtype=np.float64),
                                                self.n_points)
        if not (np.isfinite(s).all() and math.isfinite(trace) and math.isfinite(frob2)):
            raise ValueError(_NOT_FINITE)
        return trace, frob2

    def _require(self, n: int) -> None:
        if self.n_points < n:
            raise ValueError(
                f"the covariance needs at least {n} point(s), got N={self.n_points}: pass more "
                "embeddings"
            )
