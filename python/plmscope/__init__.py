"""plmscope: explain protein language models.

Two views of what a protein language model has learned:

* interactions: the sparse q-ary Fourier transform of the model's scores over the variants
  of chosen sites (:mod:`plmscope.fourier`);
* embedding geometry: isotropy and effective dimensions of its embeddings.
"""
from importlib.metadata import PackageNotFoundError, version

from ._core import has_cuda
from . import fourier
from .experiment import run_interactions

try:
    __version__ = version("plmscope")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0+unknown"

__all__ = ["fourier", "has_cuda", "run_interactions", "__version__"]
