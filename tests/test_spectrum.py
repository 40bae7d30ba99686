import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from plmscope.landscape import spectrum_metrics
from reference import metrics_ref


@settings(max_examples=40, deadline=None)
@given(q=st.integers(2, 5), n=st.integers(1, 6), seed=st.integers(0, 2**31))
def test_matches_reference_for_any_q(q, n, seed):
    if q**n > 4096:
        n = int(np.log(4096) // np.log(q))
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(q**n) * rng.exponential(1.0, q**n)
    m = spectrum_metrics(values, q)
    sparsity, rugged, variance = metrics_ref(values, q)
    assert m.n == n and m.q == q
    assert m.sparsity == pytest.approx(sparsity, abs=1e-12)
    assert m.ruggedness == pytest.approx(rugged, rel=1e-10)
    np.testing.assert_allclose(m.variance_by_order, variance, rtol=1e-9, atol=1e-15)
    assert m.variance == pytest.approx(np.var(values), rel=1e-9)  # Parseval


def test_additive_landscape_has_ruggedness_one_and_q20_counts():
    q, n = 20, 3
    rng = np.random.default_rng(1)
    site_effects = rng.standard_normal((n, q))
    grid = np.array(list(itertools.product(range(q), repeat=n)))
    values = sum(site_effects[i][grid[:, i]] for i in range(n))
    m = spectrum_metrics(values, q)
    assert m.ruggedness == pytest.approx(1.0, abs=1e-12)
    assert m.num_candidates == 3 * 19 + 3 * 19**2 + 19**3
    assert m.variance_by_order[2:].max() < 1e-20
    assert m.num_above <= 3 * 19  # only first-order coefficients can stand out


def test_pairwise_only_landscape_has_ruggedness_two():
    grid = np.array(list(itertools.product(range(2), repeat=6)))
    values = np.where(grid[:, 0] == grid[:, 3], 1.5, -1.5)  # one pure pairwise interaction
    m = spectrum_metrics(values, 2)
    assert m.ruggedness == pytest.approx(2.0)
    assert m.num_above == 1 and m.sparsity == pytest.approx(1 / (6 + 15 + 20 + 15 + 6))


def test_constant_landscape():
    m = spectrum_metrics(np.full(3**4, 2.5), 3)
    assert m.sparsity == 0.0 and np.isnan(m.ruggedness) and m.variance == 0.0


@pytest.mark.parametrize("values,q,match", [
    (np.zeros((2, 4)), 2, "1-D"),
    (np.zeros(6), 2, "not a power of q=2"),
    (np.zeros(1), 2, "n >= 1"),
    (np.zeros(4, complex), 2, "real scores"),
    (np.array([0.0, np.nan, 1.0, 2.0]), 2, r"values\[1\] = nan"),
    (np.zeros(4), 1, "q must be an integer >= 2"),
])
def test_bad_input(values, q, match):
    with pytest.raises(ValueError, match=match):
        spectrum_metrics(values, q)
