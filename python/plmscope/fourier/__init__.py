"""q-ary Fourier analysis of functions on Z_q^n (conventions: docs/conventions.md)."""
from .fft import qary_fft
from .sparse import SparseFourier
from .surrogate import SurrogateOracle, random_real_transform
from .regress import Fit, fit
from .rounds import RoundsResult, ask_in_rounds
from . import qsft

__all__ = ["qary_fft", "SparseFourier", "fit", "Fit", "ask_in_rounds", "RoundsResult", "SurrogateOracle", "random_real_transform", "qsft"]
