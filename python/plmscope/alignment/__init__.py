"""Alignment similarity of proteins and how embedding distances track it.

Global PAM250 alignment (Biopython as the reference, parasail as the parallel fast path
with identical scores), seeded pair sampling, and the study of Hakim, Roy & Rahman
(arXiv 2510.10655): correlations between cosine similarity, squared Euclidean distance,
alignment score and identity, hexbin plots, and the low- versus high-identity bins.
"""
from .align import AlignmentResult, align_pairs, global_alignment
from .pairs import all_pairs, sample_pairs, sample_proteins
from .scoring import RESIDUE_MAP, parasail_agrees, prepare_sequences
from .study import correlation_tables, hexbin_plots, identity_bins, pair_metrics

__all__ = [
    "AlignmentResult", "RESIDUE_MAP", "align_pairs", "all_pairs", "correlation_tables",
    "global_alignment", "hexbin_plots", "identity_bins", "pair_metrics", "parasail_agrees",
    "prepare_sequences", "sample_pairs", "sample_proteins",
]
