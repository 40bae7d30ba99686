"""Score landscapes over chosen sites of a protein: the q-ary variant encoding
(:class:`Landscape`), the paper's landscape metrics (:func:`spectrum_metrics`) and the
wild-type-reference view of a transform (:func:`reference_effects`)."""
from .reference import reference_effects, wildtype_value
from .spectrum import SpectrumMetrics, spectrum_metrics
from .variants import ALPHABET, Landscape

__all__ = ["ALPHABET", "Landscape", "SpectrumMetrics", "reference_effects", "spectrum_metrics",
           "wildtype_value"]
