"""Embedding geometry: how much of its space a protein language model uses.

IsoScore (Rudman et al. 2022) and IsoScore* (Rudman & Eickhoff 2024), participation ratio,
effective dimensions and mean pairwise cosine, for in-memory arrays or streams of chunks;
per-residue (local) isotropy overall and per amino-acid type; cosine and squared Euclidean
distance of chosen pairs of embeddings.

Where it runs: host arrays on the C++ kernels (all cores); torch CUDA tensors and CuPy arrays
on the CUDA kernels of their GPU (plmscope.isotropy.gpu), with the float64 sums kept on
that GPU and only the d x d sums downloaded for the scores. ``device=`` ("cpu", "cuda",
"cuda:N") overrides the choice as in plmscope.fourier; see CovarianceAccumulator for mixing
host and GPU chunks.
"""
from .cosine import MeanCosineResult, UnitSumAccumulator
from .covariance import CovarianceAccumulator
from .distances import pair_similarity
from .residues import ResidueIsotropy
from .scores import (
    FewPointsWarning,
    IsoScoreResult,
    IsotropyAccumulator,
    IsotropySummary,
    effective_dims,
    isoscore,
    isoscore_star,
    isotropic_baseline,
    mean_pairwise_cosine,
    participation_ratio,
    summarize,
)

__all__ = [
    "CovarianceAccumulator", "FewPointsWarning", "IsoScoreResult", "IsotropyAccumulator",
    "IsotropySummary", "MeanCosineResult", "ResidueIsotropy", "UnitSumAccumulator",
    "effective_dims", "isoscore", "isoscore_star", "isotropic_baseline",
    "mean_pairwise_cosine", "pair_similarity", "participation_ratio", "summarize",
]
