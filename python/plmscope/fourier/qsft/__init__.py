"""q-ary sparse Fourier transform (q-SFT) of black-box functions on Z_q^n.

``recover(oracle, q, n, b, ...)`` asks ``oracle`` at C q^b P structured points (subsampled
cosets M_c l + d), transforms each coset with :func:`plmscope.fourier.qary_fft`, and peels
the bins in C++ (:mod:`plmscope._core`). ``plan(...)`` gives the cost up front.
"""
from .ask import LocalExecutor, ask_batches, check_answers
from .recover import DECODERS, QueryPlan, Recovery, plan, query_variants, recover, resolve_decoder
from .store import QueryStore

__all__ = ["recover", "plan", "query_variants", "Recovery", "QueryPlan", "LocalExecutor", "QueryStore",
           "check_answers", "ask_batches", "DECODERS", "resolve_decoder"]
