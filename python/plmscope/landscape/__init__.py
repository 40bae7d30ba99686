"""Score landscapes over chosen sites of a protein and the paper's landscape metrics."""
from .spectrum import SpectrumMetrics, spectrum_metrics

__all__ = ["SpectrumMetrics", "spectrum_metrics"]
