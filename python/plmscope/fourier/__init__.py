"""q-ary Fourier analysis of functions on Z_q^n (conventions: docs/conventions.md)."""
from .fft import qary_fft
from .sparse import SparseFourier
from .surrogate import SurrogateOracle, random_real_transform
from .regress import Fit, fit
from . import qsft

__all__ = ["qary_fft", "SparseFourier", "fit", "Fit", "SurrogateOracle", "random_real_transform", "qsft"]
