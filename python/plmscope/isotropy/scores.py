"""IsoScore, IsoScore*, effective dimensions and mean pairwise cosine of embeddings.

Formulas (docs/geometry.md): with C the covariance of the N points (mean-centred, / (N - 1)) and
lambda its eigenvalues, the participation ratio is PR = (sum lambda)^2 / sum lambda^2 =
tr(C)^2 / ||C||_F^2, IsoScore = (PR - 1) / (d - 1), and the paper's effective dimensions are
ceil(IsoScore (d - 1) + 1) = ceil(PR). The mean pairwise cosine of unit vectors u_i over
i != j is (||sum u_i||^2 - N) / (N (N - 1)). Every function takes an (N, d) array or an
iterable of (n, d) chunks, so embeddings on disk stream through in O(d^2) memory.

Where it runs: chunks on a GPU (torch CUDA tensors, CuPy arrays) are summed there by the CUDA
kernels (plmscope.isotropy.gpu) into float64 sums on that GPU; only the d x d and d sums
come to the host, where the scores are computed. ``device=`` overrides the choice as in
plmscope.fourier (see plmscope._device).
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from .. import _device
from .cosine import MeanCosineResult, UnitSumAccumulator
from .covariance import CovarianceAccumulator
from .rows import iter_chunks, place_rows


class FewPointsWarning(UserWarning):
    """Fewer points than dimensions: the covariance is rank-deficient."""


def isotropic_baseline(n_points: int, dim: int) -> float:
    """The IsoScore that N isotropic Gaussian points in d dimensions get, about 1/(1 + d/N).

    From Wishart moments (m = N - 1): E tr(W)^2 = m d (m d + 2), E tr(W^2) = m d (m + d + 1),
    so PR ~ m d / (m + d + 1) and the score ~ (PR - 1) / (d - 1). An observed score near this
    value means "as isotropic as this sample size allows"."""
    m = n_points - 1
    if m < 1 or dim < 2:
        return float("nan")
    pr = m * dim * (m * dim + 2) / (m * dim * (m + dim + 1))
    return (pr - 1.0) / (dim - 1.0)


@dataclass(frozen=True)
class IsoScoreResult:
    """An IsoScore with the numbers needed to read it.

    score: (PR - 1) / (d - 1), in [0, 1]; participation_ratio: PR in [1, d]; n_points: N;
    dim: d; shrinkage: IsoScore*'s zeta (0 for plain IsoScore)."""

    score: float
    n_points: int
    dim: int
    participation_ratio: float
    shrinkage: float = 0.0

    @property
    def effective_dims(self) -> int:
        """ceil(PR), the paper's effective dimensions (a relative 1e-9 of PR is forgiven so
        that rounding noise above an integer does not add a dimension)."""
        return max(1, math.ceil(self.participation_ratio * (1.0 - 1e-9)))

    @property
    def isotropic_baseline(self) -> float:
        """What isotropic Gaussian data with this N and d would score (about 1/(1 + d/N))."""
        return isotropic_baseline(self.n_points, self.dim)

    def __float__(self) -> float:
        return float(self.score)

    def __str__(self) -> str:
        star = f", zeta={self.shrinkage:g}" if self.shrinkage else ""
        return (f"IsoScore{'*' if self.shrinkage else ''} {self.score:.4f} "
                f"(N={self.n_points}, d={self.dim}, PR={self.participation_ratio:.2f}, "
                f"isotropic N,d -> {self.isotropic_baseline:.4f}{star})")


@dataclass(frozen=True)
class IsotropySummary:
    """Everything `summarize` measures in its single pass over the embeddings."""

    n_points: int
    dim: int
    isoscore: float
    participation_ratio: float
    effective_dims: int
    isotropic_baseline: float
    mean_cosine: float

    def to_dict(self) -> dict:
        return asdict(self)


def _score_from_moments(trace: float, frob2: float, n_points: int, dim: int,
                        shrinkage: float = 0.0) -> IsoScoreResult:
    if dim < 2:
        raise ValueError(
            f"IsoScore needs d >= 2 dimensions (it is (PR - 1) / (d - 1)), got d={dim}"
        )
    if not (trace > 0.0 and frob2 > 0.0) or not math.isfinite(trace / math.sqrt(frob2)):
        raise ValueError(
            f"the {n_points} embeddings show no variance (total variance {trace:g}): they are "
            "all identical, or float32 values so small (below ~1e-19) that their squares "
            "underflow; IsoScore is undefined for constant data: check that the model produced "
            "distinct embeddings, or pass tiny ones scaled up or as float64"
        )
    pr = trace * trace / frob2
    pr = min(max(pr, 1.0), float(dim))  # rounding can step a hair outside [1, d]
    return IsoScoreResult(score=(pr - 1.0) / (dim - 1.0), n_points=n_points, dim=dim,
                          participation_ratio=pr, shrinkage=shrinkage)


def _warn_few_points(n_points: int, dim: int) -> None:
    if n_points < dim:
        cap = (n_points - 2) / (dim - 1) if dim > 1 else float("nan")
        warnings.warn(
            f"only N={n_points} points in d={dim} dimensions: the covariance has rank at most "
            f"N - 1, so IsoScore is at most (N - 2)/(d - 1) = {cap:.4g} and measures how evenly "
            f"the points spread over their own span, not over R^d. If you passed (d, N), pass "
            f"X.T; otherwise compare with isotropic_baseline = "
            f"{isotropic_baseline(n_points, dim):.4g}",
            FewPointsWarning, stacklevel=3,
        )


class IsotropyAccumulator:
    """One streaming pass for IsoScore, IsoScore*, effective dimensions and mean cosine.

    ``update`` takes (n, d) chunks (float32 stays float32 in memory); the accumulators are
    float64. ``merge`` combines accumulators built on separate shards. Chunks on a GPU are
    summed there; ``device`` and mixing host and GPU chunks work as in
    :class:`CovarianceAccumulator`."""

    def __init__(self, dim: int | None = None, cosine: bool = True, nthreads: int = 0,
                 device=None):
        self.covariance = CovarianceAccumulator(dim, nthreads, device)
        self.cosine = UnitSumAccumulator(dim, nthreads, device) if cosine else None
        self.device = device

    @property
    def n_points(self) -> int:
        return self.covariance.n_points

    @property
    def dim(self) -> int | None:
        return self.covariance.dim

    def update(self, chunk, name: str = "chunk") -> "IsotropyAccumulator":
        # Placed once for both (a host chunk bound for the GPU is uploaded once).
        x = place_rows(chunk, name, self.device, self.covariance._sum)
        if self.cosine is not None:  # first: it names zero rows, which leave C finite
            self.cosine.update(x, name)
        self.covariance.update(x, name)
        return self

    def update_all(self, X, name: str = "X") -> "IsotropyAccumulator":
        """Feed an (N, d) array or every chunk of an iterable."""
        for label, chunk in iter_chunks(X, name):
            self.update(chunk, label)
        return self

    def merge(self, other: "IsotropyAccumulator") -> "IsotropyAccumulator":
        self.covariance.merge(other.covariance)
        if self.cosine is not None and other.cosine is not None:
            self.cosine.merge(other.cosine)
        else:
            self.cosine = None
        return self

    def isoscore(self) -> IsoScoreResult:
        trace, frob2 = self.covariance.moments()
        result = _score_from_moments(trace, frob2, self.n_points, self.dim)
        _warn_few_points(self.n_points, self.dim)
        return result

    def isoscore_star(self, zeta: float, C0) -> IsoScoreResult:
        return _isoscore_star_of(self.covariance.covariance(), self.n_points, zeta, C0)

    def mean_pairwise_cosine(self) -> MeanCosineResult:
        if self.cosine is None:
            raise ValueError("this accumulator was built with cosine=False")
        return self.cosine.mean_pairwise_cosine()

    def summary(self) -> IsotropySummary:
        iso = self.isoscore()
        cos = self.mean_pairwise_cosine().value if self.cosine is not None else float("nan")
        return IsotropySummary(
            n_points=iso.n_points, dim=iso.dim, isoscore=iso.score,
            participation_ratio=iso.participation_ratio, effective_dims=iso.effective_dims,
            isotropic_baseline=iso.isotropic_baseline, mean_cosine=cos,
        )


def _isoscore_star_of(cov: np.ndarray, n_points: int, zeta, C0) -> IsoScoreResult:
    if isinstance(zeta, bool) or not isinstance(zeta, numbers.Real) or not 0.0 <= zeta <= 1.0:
        raise ValueError(f"zeta must be a number in [0, 1] (the shrinkage weight), got {zeta!r}")
    zeta = float(zeta)
    d = cov.shape[0]
    if isinstance(C0, CovarianceAccumulator):
        C0 = C0.covariance()
    elif _device.is_device_array(C0):
        C0 = _device.to_host(C0)
    if isinstance(C0, numbers.Real) and not isinstance(C0, bool):
        # C0 = c I: the shrunk matrix is PSD (c >= 0), so sum |lambda| is its trace and
        # the moments need no eigenvalues.
        c = float(C0)
        if c < 0:
            raise ValueError(f"C0 as a number means C0 = c I and needs c >= 0, got {c}")
        tr, fro2 = float(np.trace(cov)), float(np.vdot(cov, cov))
        a = 1.0 - zeta
        trace = a * tr + zeta * c * d
        frob2 = a * a * fro2 + 2.0 * a * zeta * c * tr + zeta * zeta * c * c * d
        return _score_from_moments(trace, frob2, n_points, d, shrinkage=zeta)
    C0 = np.asarray(C0, dtype=np.float64)
    if C0.shape != (d, d):
        raise ValueError(
            f"C0 must be a (d, d) = ({d}, {d}) covariance matrix, a number c for c I, or a "
            f"CovarianceAccumulator; got shape {C0.shape}"
        )
    if not np.allclose(C0, C0.T, rtol=1e-10, atol=1e-12 * np.abs(C0).max()):
        raise ValueError("C0 must be symmetric (a covariance matrix)")
    shrunk = (1.0 - zeta) * cov + zeta * (C0 + C0.T) / 2.0
    # Singular values of a symmetric matrix are |eigenvalues|; as in Rudman et al.'s code.
    s = np.abs(np.linalg.eigvalsh(shrunk))
    return _score_from_moments(float(s.sum()), float(np.dot(s, s)), n_points, d,
                               shrinkage=zeta)


def isoscore(X, nthreads: int = 0, device=None) -> IsoScoreResult:
    """IsoScore of points X (Rudman et al. 2022), through the participation ratio.

    Parameters
    ----------
    X : array_like (N, d) or iterable of (n, d) chunks
        One point per row: numpy arrays, torch tensors (CPU or CUDA), CuPy arrays, nested
        lists. float32 input is processed in float32 with float64 accumulators.
    nthreads : int
        Threads for the CPU covariance kernel; 0 = all cores.
    device : None, "auto", "cpu", "cuda" or "cuda:N"
        Where to sum (see :mod:`plmscope._device`): by default where the data is, so torch
        CUDA tensors and CuPy arrays are summed by the CUDA kernels on their GPU without a
        copy to the host; "cpu" copies them to the host; "cuda" uploads host data. Only the
        d x d sums come back to the host, where the score is computed, so the GPU gives the
        CPU's numbers up to summation order (see :class:`CovarianceAccumulator`).

    Returns
    -------
    IsoScoreResult with score, n_points, dim, participation_ratio (and effective_dims,
    isotropic_baseline). Equals the ``isoscore`` package (2.0.1) to ~1e-8 without an SVD.

    Raises ValueError for N < 2, d < 2, constant or non-finite embeddings, and for GPU data
    when this build has no CUDA kernels (it says how to get them, or pass device="cpu"); warns
    (FewPointsWarning) when N < d, which is also what a transposed (d, N) input looks like.
    """
    return IsotropyAccumulator(cosine=False, nthreads=nthreads, device=device) \
        .update_all(X).isoscore()


def isoscore_star(X, zeta: float, C0, nthreads: int = 0, device=None) -> IsoScoreResult:
    """IsoScore* (Rudman & Eickhoff 2024): IsoScore of the shrunk covariance
    (1 - zeta) C_X + zeta C0, which stays stable for small batches of points.

    C0 : (d, d) array (host or GPU), a CovarianceAccumulator of a larger sample from the same
    distribution, or a number c meaning c I (the authors' fallback is the identity, c = 1).
    zeta = 0 gives IsoScore. Singular values are taken as |eigenvalues| of the symmetric
    shrunk matrix, as the reference implementation (``IsoScore.IsoScore_star``) does.
    X and device as in :func:`isoscore` (the d x d eigenproblem runs on the host).
    """
    acc = IsotropyAccumulator(cosine=False, nthreads=nthreads, device=device).update_all(X)
    return acc.isoscore_star(zeta, C0)


def participation_ratio(X, nthreads: int = 0, device=None) -> float:
    """tr(C)^2 / ||C||_F^2, the number of dimensions the variance is spread over.
    X and device as in :func:`isoscore`."""
    return isoscore(X, nthreads, device).participation_ratio


def effective_dims(X, nthreads: int = 0, device=None) -> int:
    """ceil(PR) = ceil(IsoScore (d - 1) + 1), the paper's effective dimensions.
    X and device as in :func:`isoscore`."""
    return isoscore(X, nthreads, device).effective_dims


def mean_pairwise_cosine(X, nthreads: int = 0, device=None) -> MeanCosineResult:
    """Mean cosine similarity over pairs i != j in O(N d): (||sum u_i||^2 - N) / (N (N-1)).
    X and device as in :func:`isoscore` (GPU rows go through the CUDA unit-sum kernel).
    Raises ValueError for N < 2 or a zero (or non-finite) row."""
    acc = UnitSumAccumulator(nthreads=nthreads, device=device)
    for label, chunk in iter_chunks(X, "X"):
        acc.update(chunk, label)
    return acc.mean_pairwise_cosine()


def summarize(X, nthreads: int = 0, device=None) -> IsotropySummary:
    """IsoScore, PR, effective dimensions and mean cosine in one pass over X.
    X and device as in :func:`isoscore`."""
    return IsotropyAccumulator(nthreads=nthreads, device=device).update_all(X).summary()
