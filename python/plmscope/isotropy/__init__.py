"""Embedding geometry: how much of its space a protein language model uses.

IsoScore (Rudman et al. 2022) and IsoScore* (Rudman & Eickhoff 2024), participation ratio,
effective dimensions and mean pairwise cosine, for in-memory arrays or streams of chunks;
per-residue (local) isotropy overall and per amino-acid type; cosine and squared Euclidean
distance of chosen pairs of embeddings.
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
