"""Protein language models as variant oracles and embedders.

* :func:`load` - ESM2 (fair-esm or transformers), ProtBERT/ProtBERT-BFD, ProtXLNet, ProtT5
  encoder, by name or from a local checkpoint.
* :class:`Oracle` - a model's ``pllr`` / ``masked_marginal`` / ``wt_marginal`` scores over a
  :class:`plmscope.landscape.Landscape`, callable on (m, n) q-ary variants, with a persistent
  :class:`ScoreCache`; :class:`OracleSpec` rebuilds one in another process.
* :func:`embed`, :func:`embed_fasta` - pooled or per-residue embeddings.
"""
from .cache import ScoreCache, variant_keys
from .convert import fair_esm_to_transformers
from .embedding import POOLINGS, embed, embed_fasta, read_embeddings
from .loading import ModelUnavailableError, from_fair_esm, from_transformers, load
from .model import ProteinModel
from .oracle import Oracle, OracleSpec
from .random_weights import random_fair_esm, random_transformers, save_random_model
from .registry import KNOWN_MODELS, KnownModel
from .scoring import SCORERS, SubstitutionScorer, pll, score_variants

__all__ = [
    "KNOWN_MODELS",
    "POOLINGS",
    "SCORERS",
    "KnownModel",
    "ModelUnavailableError",
    "Oracle",
    "OracleSpec",
    "ProteinModel",
    "ScoreCache",
    "SubstitutionScorer",
    "embed",
    "embed_fasta",
    "fair_esm_to_transformers",
    "from_fair_esm",
    "from_transformers",
    "load",
    "pll",
    "random_fair_esm",
    "random_transformers",
    "read_embeddings",
    "save_random_model",
    "score_variants",
    "variant_keys",
]
