"""q-ary sparse Fourier transform (q-SFT) of black-box functions on Z_q^n.

A run goes Design -> Answers -> Bins -> Decode. ``make_design(plan(q, n, b, ...), seed)``
builds the one :class:`Design` of a run (subsampling matrices, delays, the distinct variants
to ask); ``recover(oracle, q, n, b, ...)`` (or ``recover(oracle, design=...)``) asks
``oracle`` at its C q^b P structured points (cosets M_c l + d), transforms each coset with
:func:`plmscope.fourier.qary_fft`, and decodes the bins in named stages (``STAGES``: peeling
in C++, :mod:`plmscope._core`, a least-squares refit, or the regression decoder).
``plan(...)`` gives the cost up front.
"""
from .ask import LocalExecutor, ask_batches, check_answers
from .design import Design, QueryPlan, load_design, make_design, nested_design, plan
from .recover import DECODERS, STAGES, Recovery, query_variants, recover, resolve_decoder
from .store import QueryStore

__all__ = ["recover", "plan", "query_variants", "Recovery", "QueryPlan", "Design", "make_design", "nested_design",
           "load_design", "LocalExecutor", "QueryStore", "check_answers", "ask_batches",
           "DECODERS", "STAGES", "resolve_decoder"]
