"""Score landscapes over chosen sites of a protein: the q-ary variant encoding
(:class:`Landscape`), measured variant tables (:func:`read_variants`), the paper's landscape
metrics (:func:`spectrum_metrics`) and the wild-type-reference view of a transform
(:func:`reference_effects`)."""
from .reference import reference_effects, wildtype_value
from .spectrum import SpectrumMetrics, spectrum_metrics
from .table import VariantTable, read_variants
from .variants import ALPHABET, Landscape

__all__ = ["ALPHABET", "Landscape", "SpectrumMetrics", "VariantTable", "read_variants",
           "reference_effects", "spectrum_metrics", "wildtype_value"]
