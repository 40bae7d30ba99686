"""Score landscapes over chosen sites of a protein and the paper's landscape metrics."""
from .reference import reference_effects, wildtype_value
from .spectrum import SpectrumMetrics, spectrum_metrics

__all__ = ["SpectrumMetrics", "reference_effects", "spectrum_metrics", "wildtype_value"]
