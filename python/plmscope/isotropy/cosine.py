"""Mean pairwise cosine similarity in O(N d) from a streaming sum of unit vectors."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _core, _device
from . import gpu as gpu_kernels
from .._checks import check_nthreads
from .rows import check_same_dim, place_rows


@dataclass(frozen=True)
class MeanCosineResult:
    """Mean cosine similarity over all N (N - 1) / 2 pairs of distinct points."""

    value: float
    n_points: int
    dim: int

    def __float__(self) -> float:
        return float(self.value)


class UnitSumAccumulator:
    """The sum of the rows scaled to unit length, and their count.

    With N unit vectors u_i, mean_{i != j} cos(u_i, u_j) = (||sum u_i||^2 - N) / (N (N - 1)).
    The C++ kernel normalises and sums in one pass (float64 sums); chunks and shards add up.

    Rows on a GPU go through the CUDA kernel and ``unit_sum`` then lives there (a float64
    array of the rows' library); ``device`` and mixing host and GPU chunks work as in
    :class:`CovarianceAccumulator` (the sum moves to the GPU with the first GPU chunk, host
    chunks after it are uploaded). Results, :meth:`merge` and pickling download it once.
    """

    def __init__(self, dim: int | None = None, nthreads: int = 0, device=None):
        self.dim = dim
        self.n_points = 0
        self.nthreads = check_nthreads(nthreads)
        _device.parse_device(device)  # a bad device fails here, not at the first chunk
        self.device = device
        self.unit_sum = None  # float64 (d,): numpy, or a torch / CuPy array on the GPU

    def __getstate__(self) -> dict:
        # Pickles hold host arrays only: they load on machines without a GPU.
        state = dict(self.__dict__)
        state["unit_sum"] = self._host_sum()
        return state

    @property
    def on_gpu(self) -> bool:
        """True while the sum lives on a GPU."""
        return self.unit_sum is not None and _device.is_device_array(self.unit_sum)

    def _host_sum(self) -> np.ndarray | None:
        return _device.to_host(self.unit_sum) if self.on_gpu else self.unit_sum

    def update(self, chunk, name: str = "chunk") -> "UnitSumAccumulator":
        x = place_rows(chunk, name, self.device, self.unit_sum)
        self.dim = check_same_dim(x, self.dim, name)
        gpu = _device.is_device_array(x)
        if gpu and x.shape[0] == 0:
            return self  # nothing to add (and an empty GPU array may have no address)
        if self.unit_sum is None:
            self.unit_sum = _device.zeros((self.dim,), np.float64, like=x) if gpu \
                else np.zeros(self.dim)
        elif gpu and not self.on_gpu:
            self.unit_sum = _device.from_host(self.unit_sum, like=x)
        try:
            if gpu:
                gpu_kernels.unit_sum_accumulate(x, self.unit_sum)
            else:
                _core.unit_sum_accumulate(x, self.unit_sum, self.nthreads)
        except ValueError as exc:  # name the row in the whole stream, not in the chunk
            raise ValueError(f"{name} (its row 0 is point {self.n_points} overall): {exc}") \
                from None
        self.n_points += x.shape[0]
        return self

    def merge(self, other: "UnitSumAccumulator") -> "UnitSumAccumulator":
        """Add another accumulator's rows (any devices; computed on the host, like
        :meth:`CovarianceAccumulator.merge`); returns self."""
        if other.n_points == 0:
            return self
        if self.dim is not None and other.dim != self.dim:
            raise ValueError(f"cannot merge accumulators of d={other.dim} into d={self.dim}")
        self.dim = other.dim
        theirs = other._host_sum()
        mine = self._host_sum()
        self.unit_sum = theirs.copy() if mine is None else mine + theirs
        self.n_points += other.n_points
        return self

    def mean_pairwise_cosine(self) -> MeanCosineResult:
        n = self.n_points
        if n < 2:
            raise ValueError(f"a mean pairwise cosine needs at least 2 points, got N={n}")
        u = self._host_sum()
        total = float(np.dot(u, u))
        return MeanCosineResult(value=(total - n) / (n * (n - 1.0)), n_points=n,
                                dim=int(self.dim))
