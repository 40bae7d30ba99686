"""q-SFT's transform phase: the oracle's answers, gathered into the design's layout, minus
their mean, through the q^b-point FFTs, into the (group, bin, delay) array the decoder reads.

The C++ core does it in one fused, threaded pass (gather a cache block, transform it while
it is in cache, write it where the decoder wants it); :func:`bins_reference` is the plain
numpy form it must equal, kept for the tests."""
from __future__ import annotations

import numpy as np

from ... import _core
from ..._checks import check_int, check_nthreads, check_q


def _shape(answers, inverse, num_subsample, num_delays, q, b):
    q = check_q(q)
    b = check_int("b", b, 1)
    num_subsample = check_int("num_subsample", num_subsample, 0)
    num_delays = check_int("num_delays", num_delays, 1)
    answers = np.asarray(answers)
    if answers.ndim != 1 or not np.issubdtype(answers.dtype, np.floating):
        raise ValueError(f"answers must be a 1-D float array, got shape {answers.shape} "
                         f"and dtype {answers.dtype}")
    inverse = np.asarray(inverse)
    expected = num_subsample * num_delays * q**b
    if inverse.shape != (expected,) or inverse.dtype != np.int64:
        raise ValueError(f"inverse must be an int64 array of {expected:,} design positions "
                         f"(num_subsample x num_delays x q**b), got shape {inverse.shape} "
                         f"and dtype {inverse.dtype}")
    return answers.astype(np.float64, copy=False), inverse, num_subsample, num_delays, q, b


def bins(answers, inverse, mean: float, num_subsample: int, num_delays: int, q: int, b: int,
         nthreads: int = 0) -> np.ndarray:
    """(num_subsample, q**b, num_delays) complex128 bins: the forward q-ary FFT over l of
    answers[inverse[(c, p, l)]] - mean for each group c and delay p.

    ``inverse`` holds, for every design point in (group, delay, l) order, the position of
    its answer in ``answers``; a position outside ``answers`` is a ValueError."""
    answers, inverse, C, P, q, b = _shape(answers, inverse, num_subsample, num_delays, q, b)
    nthreads = check_nthreads(nthreads)
    try:
        return _core.qary_fft_gather(answers, inverse.reshape(C, P, q**b), float(mean), q,
                                     nthreads)
    except ValueError as err:
        raise ValueError(f"inverse: {err}") from None


def bins_reference(answers, inverse, mean: float, num_subsample: int, num_delays: int, q: int,
                   b: int) -> np.ndarray:
    """:func:`bins` in plain numpy (gather, subtract, fftn, transpose): slow, for tests."""
    answers, inverse, C, P, q, b = _shape(answers, inverse, num_subsample, num_delays, q, b)
    if inverse.size and (inverse.min() < 0 or inverse.max() >= answers.size):
        raise ValueError(f"inverse: positions must lie in [0, {answers.size})")
    samples = answers[inverse].reshape((C, P) + (q,) * b) - mean
    spectra = np.fft.fftn(samples, axes=tuple(range(2, 2 + b))) / q**b
    return np.ascontiguousarray(spectra.reshape(C, P, q**b).transpose(0, 2, 1))
