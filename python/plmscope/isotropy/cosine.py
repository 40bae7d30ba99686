"""Mean pairwise cosine similarity in O(N d) from a streaming sum of unit vectors."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _core
from .rows import as_rows, check_nthreads, check_same_dim


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
    """

    def __init__(self, dim: int | None = None, nthreads: int = 0):
        self.dim = dim
        self.n_points = 0
        self.nthreads = check_nthreads(nthreads)
        self.unit_sum: np.ndarray | None = None

    def update(self, chunk, name: str = "chunk") -> "UnitSumAccumulator":
        x = as_rows(chunk, name)
        self.dim = check_same_dim(x, self.dim, name)
        if self.unit_sum is None:
            self.unit_sum = np.zeros(self.dim)
        try:
            _core.unit_sum_accumulate(x, self.unit_sum, self.nthreads)
        except ValueError as exc:  # name the row in the whole stream, not in the chunk
            raise ValueError(f"{name} (its row 0 is point {self.n_points} overall): {exc}") \
                from None
        self.n_points += x.shape[0]
        return self

    def merge(self, other: "UnitSumAccumulator") -> "UnitSumAccumulator":
        if other.n_points == 0:
            return self
        if self.dim is not None and other.dim != self.dim:
            raise ValueError(f"cannot merge accumulators of d={other.dim} into d={self.dim}")
        self.dim = other.dim
        self.unit_sum = other.unit_sum.copy() if self.unit_sum is None \
            else self.unit_sum + other.unit_sum
        self.n_points += other.n_points
        return self

    def mean_pairwise_cosine(self) -> MeanCosineResult:
        n = self.n_points
        if n < 2:
            raise ValueError(f"a mean pairwise cosine needs at least 2 points, got N={n}")
        total = float(np.dot(self.unit_sum, self.unit_sum))
        return MeanCosineResult(value=(total - n) / (n * (n - 1.0)), n_points=n,
                                dim=int(self.dim))
