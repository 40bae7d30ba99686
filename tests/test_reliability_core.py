"""The private q-SFT bindings validate what they are given: states and delays below q,
finite bins, and q / nthreads beyond int range named in a ValueError (not a TypeError)."""
import numpy as np
import pytest

from plmscope import _core
from plmscope.fourier.qsft import design


def small_design(q=3, n=4, b=2, C=2):
    rng = np.random.default_rng(0)
    return design.subsampling_matrices(rng, q, n, b, C), design.delay_rows(rng, q, n, "nso", 1)


def test_query_points_refuses_states_at_or_above_q():
    m, d = small_design()
    bad = d.copy()
    bad[2, 1] = 3
    with pytest.raises(ValueError, match=r"delays must hold values in \[0, q\), got 3 with q=3"):
        _core.qsft_query_points(m, bad, 3, True, 0)
    bad = m.copy()
    bad[0, 0, 0] = 200
    with pytest.raises(ValueError, match="matrices must hold values in"):
        _core.qsft_query_points(bad, d, 3, True, 0)
    points, codes = _core.qsft_query_points(m, d, 3, True, 0)  # the valid design still works
    assert points.shape == (2, 5, 9, 4) and codes.shape == (90,)


@pytest.mark.parametrize("q,nthreads,match", [(2**31, 0, "q must be in"), (2**40, 0, "q must be in"),
                                               (3, 2**31, "nthreads must be"),
                                               (3, -1, "nthreads must be")])
def test_huge_q_and_nthreads_are_value_errors(q, nthreads, match):
    m, d = small_design()
    with pytest.raises(ValueError, match=match):
        _core.qsft_query_points(m, d, q, True, nthreads)
    bins = np.zeros((2, 9, 5), complex)
    with pytest.raises(ValueError, match=match):
        _core.peel(bins, m, d, q, 1, 1e-9, 1e-9, 10, nthreads)
    if q == 3:
        with pytest.raises(ValueError, match=match):
            _core.unique_codes(np.arange(5, dtype=np.int64), nthreads)


@pytest.mark.parametrize("bad", [np.nan, np.inf, complex(0, -np.inf)])
def test_peel_refuses_non_finite_bins(bad):
    m, d = small_design()
    bins = np.random.default_rng(1).standard_normal((2, 9, 5)).astype(complex)
    bins[1, 4, 2] = bad
    with pytest.raises(ValueError, match="bins must be finite"):
        _core.peel(bins, m, d, 3, 1, 1e-9, 1e-9, 10, 0)
    with pytest.raises(ValueError, match="thresholds must be finite"):
        _core.peel(np.zeros((2, 9, 5), complex), m, d, 3, 1, float("nan"), 1e-9, 10, 0)
