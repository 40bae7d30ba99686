"""Score landscapes over chosen sites of a protein: the q-ary variant encoding
(:class:`Landscape`) and, from the spectrum, the paper's landscape metrics."""
from .variants import ALPHABET, Landscape

__all__ = ["ALPHABET", "Landscape"]
