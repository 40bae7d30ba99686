"""Streaming covariance: float64 accumulators fed chunk by chunk, mergeable."""
from __future__ import annotations

import math

import numpy as np

from .. import _core
from .rows import as_rows, check_nthreads, check_same_dim

# Rows per BLAS call on the float64 path: bounds the shifted copy to ~64 MB at d = 1024.
_F64_BLOCK = 8192
_SHIFT_ROWS = 4096  # rows whose mean becomes the shift
_NOT_FINITE = ("the embeddings hold NaN or infinite values (or overflow float32): check the "
               "model output, or pass float64 arrays")


class CovarianceAccumulator:
    """Covariance of all rows seen so far, without ever holding them.

    Keeps the count m, a shift vector K (the mean of the first rows, rounded to float32),
    s = sum (x - K) and the
    scatter S = sum (x - K)(x - K)^T in float64; the covariance is
    (S - s s^T / m) / (m - 1). Memory is O(d^2) whatever the number of rows.

    float32 chunks go through the C++ kernel (upper triangle only, float32 products over
    blocks of 256 rows added into float64); float64 chunks through BLAS (numpy) in float64.
    Accumulators with different shifts merge exactly (:meth:`merge`), so shards can be
    processed in parallel processes or on different devices.
    """

    def __init__(self, dim: int | None = None, nthreads: int = 0):
        if dim is not None and (not isinstance(dim, (int, np.integer)) or dim < 1):
            raise ValueError(f"dim must be a positive integer or None, got {dim!r}")
        self.dim = None if dim is None else int(dim)
        self.n_points = 0
        self.nthreads = check_nthreads(nthreads)
        self._shift: np.ndarray | None = None
        self._sum: np.ndarray | None = None
        self._scatter: np.ndarray | None = None  # upper triangle is authoritative

    def __repr__(self) -> str:
        return f"CovarianceAccumulator(n_points={self.n_points}, dim={self.dim})"

    def _start(self, shift: np.ndarray) -> None:
        d = shift.shape[0]
        # float32-representable, as the float32 kernel needs (it subtracts in float32); any
        # shift near the mean keeps the final subtraction free of cancellation.
        self._shift = np.ascontiguousarray(shift, dtype=np.float32).astype(np.float64)
        self._sum = np.zeros(d)
        self._scatter = np.zeros((d, d))

    def update(self, chunk, name: str = "chunk") -> "CovarianceAccumulator":
        """Add the rows of an (n, d) chunk; returns self."""
        x = as_rows(chunk, name)
        self.dim = check_same_dim(x, self.dim, name)
        if x.shape[0] == 0:
            return self
        if self._shift is None:
            # Any shift near the mean avoids cancellation; the first rows' mean costs no
            # extra pass over a large array.
            self._start(x[:_SHIFT_ROWS].mean(axis=0, dtype=np.float64))
        if x.dtype == np.float32:
            _core.covariance_accumulate(x, self._shift, self._sum, self._scatter, self.nthreads)
        else:
            for i in range(0, x.shape[0], _F64_BLOCK):
                y = x[i:i + _F64_BLOCK] - self._shift
                self._sum += y.sum(axis=0)
                self._scatter += y.T @ y
        self.n_points += x.shape[0]
        return self

    def merge(self, other: "CovarianceAccumulator") -> "CovarianceAccumulator":
        """Add another accumulator's rows to this one (any shifts); returns self."""
        if not isinstance(other, CovarianceAccumulator):
            raise ValueError(f"can only merge a CovarianceAccumulator, got {type(other).__name__}")
        if other.n_points == 0:
            return self
        if self.dim is not None and other.dim != self.dim:
            raise ValueError(f"cannot merge accumulators of d={other.dim} into d={self.dim}")
        if self._shift is None:
            self.dim = other.dim
            self._start(other._shift)
        # Re-express the other's sums about this shift: with delta = K_other - K_self,
        # sum (x - K_self) = s + m delta, and the scatter gains s delta^T + delta s^T + m dd^T.
        delta = other._shift - self._shift
        m = other.n_points
        s = other._sum
        self._sum += s + m * delta
        self._scatter += other.scatter() + np.outer(s, delta) + np.outer(delta, s) \
            + m * np.outer(delta, delta)
        self.n_points += m
        return self

    def scatter(self) -> np.ndarray:
        """The symmetric scatter S = sum (x - K)(x - K)^T about the shift (a copy)."""
        self._require(1)
        upper = np.triu(self._scatter)
        return upper + np.triu(upper, 1).T

    @property
    def mean(self) -> np.ndarray:
        self._require(1)
        return self._shift + self._sum / self.n_points

    def covariance(self) -> np.ndarray:
        """The (d, d) covariance, mean-centred and divided by N - 1 (numpy.cov's default).

        Raises ValueError for fewer than 2 rows and for rows holding NaN or infinity."""
        self._require(2)
        m = self.n_points
        cov = self.scatter()
        cov -= np.outer(self._sum, self._sum) / m
        cov /= m - 1
        if not (np.isfinite(self._sum).all() and np.isfinite(np.diagonal(cov)).all()):
            raise ValueError(_NOT_FINITE)
        return cov

    def moments(self) -> tuple[float, float]:
        """(tr C, ||C||_F^2) of the covariance in one pass over the upper triangle (C++):
        all IsoScore needs, without the (d, d) copies that :meth:`covariance` makes."""
        self._require(2)
        trace, frob2 = _core.covariance_moments(self._scatter, self._sum, self.n_points)
        if not (np.isfinite(self._sum).all() and math.isfinite(trace) and math.isfinite(frob2)):
            raise ValueError(_NOT_FINITE)
        return trace, frob2

    def _require(self, n: int) -> None:
        if self.n_points < n:
            raise ValueError(
                f"the covariance needs at least {n} point(s), got N={self.n_points}: pass more "
                "embeddings"
            )
