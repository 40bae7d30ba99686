import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from plmscope.fourier import SparseFourier, qary_fft
from planted import gb1_like_surrogate
from reference import r_squared, sparse_series_ref


def random_series(rng, q, n, K, max_order=None):
    freqs = rng.integers(0, q, size=(K, n))
    if max_order is not None:
        for row in freqs:
            keep = rng.choice(n, size=min(max_order, n), replace=False)
            mask = np.zeros(n, bool)
            mask[keep] = True
            row[~mask] = 0
    values = rng.standard_normal(K) + 1j * rng.standard_normal(K)
    return SparseFourier(freqs, values, q)


@pytest.mark.parametrize("q,n,K,M", [(2, 1, 2, 5), (3, 4, 10, 100), (20, 10, 228, 3000),
                                     (5, 6, 0, 10), (4, 3, 7, 0), (256, 2, 5, 50)])
def test_evaluate_matches_reference(q, n, K, M):
    rng = np.random.default_rng(q + n + K)
    sf = random_series(rng, q, n, K)
    x = rng.integers(0, q, size=(M, n))
    np.testing.assert_allclose(sf.evaluate(x), sparse_series_ref(sf.frequencies, sf.values, q, x),
                               atol=1e-10)


@settings(max_examples=50, deadline=None)
@given(q=st.integers(2, 25), n=st.integers(1, 8), K=st.integers(0, 40), M=st.integers(0, 2100),
       seed=st.integers(0, 2**31))
def test_evaluate_hypothesis(q, n, K, M, seed):
    rng = np.random.default_rng(seed)
    sf = random_series(rng, q, n, K)
    x = rng.integers(0, q, size=(M, n))
    np.testing.assert_allclose(sf.evaluate(x, nthreads=1 + seed % 2),
                               sparse_series_ref(sf.frequencies, sf.values, q, x), atol=1e-9)


def test_dense_roundtrip_with_qary_fft():
    rng = np.random.default_rng(7)
    q, n = 5, 4
    sf = random_series(rng, q, n, 12, max_order=2)
    dense = sf.to_dense()
    grid = np.array(np.unravel_index(np.arange(q**n), (q,) * n)).T
    f = qary_fft(dense, q, inverse=True)  # complex f; evaluate returns its real part
    np.testing.assert_allclose(sf.evaluate(grid), f.real, atol=1e-12)


def test_published_format_transform_r2(tmp_path):
    """The published GB1 file's format (no q stored); tests/reproduction: the real file."""
    path = tmp_path / "gb1.npz"
    planted, noise_sd = gb1_like_surrogate(path, noise_sd=3.0)
    sf = SparseFourier.load(path, q=20)
    data = np.load(path)
    assert len(sf) == len(planted) and sf.n == 10
    yhat = sf.evaluate(data["test_x"])
    np.testing.assert_allclose(yhat, sparse_series_ref(sf.frequencies, sf.values, 20,
                                                       data["test_x"]), atol=1e-10)
    want = 1 - noise_sd**2 / np.var(data["test_y"])
    assert abs(r_squared(data["test_y"], yhat) - want) < 2e-3


def test_summaries_and_frame():
    sf = SparseFourier([[0, 0, 0], [1, 0, 0], [0, 2, 1], [3, 1, 1]],
                       [1.0, 2.0 + 1j, -0.5j, 0.1], q=4)
    np.testing.assert_array_equal(sf.orders(), [0, 1, 2, 3])
    np.testing.assert_allclose(sf.energy_by_order(), [1.0, 5.0, 0.25, 0.01])
    top = sf.top(2)
    np.testing.assert_array_equal(top.frequencies, [[1, 0, 0], [0, 0, 0]])
    frame = sf.to_frame(site_labels=[12, 15, 6])
    assert list(frame["sites"]) == [(), (12,), (15, 6), (12, 15, 6)]
    assert list(frame["states"]) == [(), (1,), (2, 1), (3, 1, 1)]
    np.testing.assert_allclose(frame["magnitude"], np.abs(sf.values))
    assert list(frame["order"]) == [0, 1, 2, 3]


def test_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(8)
    sf = random_series(rng, 20, 10, 50)
    sf.save(tmp_path / "t.npz")
    back = SparseFourier.load(tmp_path / "t.npz")
    np.testing.assert_array_equal(back.frequencies, sf.frequencies)
    np.testing.assert_array_equal(back.values, sf.values)
    assert back.q == 20
    with np.load(tmp_path / "t.npz", allow_pickle=False) as data:  # no pickles inside
        assert set(data.files) == {"format", "frequencies", "values", "q"}
    with pytest.raises(ValueError, match="not q=4"):
        SparseFourier.load(tmp_path / "t.npz", q=4)


def test_errors(tmp_path):
    sf = SparseFourier([[1, 2]], [1.0], q=3)
    with pytest.raises(ValueError, match="x has n=3 sites per variant but this transform has n=2"):
        sf.evaluate(np.zeros((4, 3), int))
    with pytest.raises(ValueError, match=r"x\[1, 0\] = 3 is outside \[0, q=3\)"):
        sf.evaluate([[0, 0], [3, 0]])
    with pytest.raises(ValueError, match=r"x\[0, 1\] = -1 is outside"):
        sf.evaluate([[0, -1]])
    with pytest.raises(ValueError, match=r"frequencies\[0, 1\] = 5 is outside \[0, q=3\)"):
        SparseFourier([[0, 5]], [1.0], q=3)
    with pytest.raises(ValueError, match="values has 2 entries but frequencies has 1 rows"):
        SparseFourier([[0, 1]], [1.0, 2.0], q=3)
    with pytest.raises(ValueError, match="q must be an integer >= 2"):
        SparseFourier([[0, 1]], [1.0], q=1)
    with pytest.raises(ValueError, match="frequencies must be a 2-D"):
        SparseFourier([0, 1], [1.0], q=3)
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="is not a SparseFourier file"):
        SparseFourier.load(tmp_path / "other.npz")


def test_to_dense_refuses_too_large():
    sf = SparseFourier(np.zeros((1, 30), int), [1.0], q=20)
    with pytest.raises(ValueError, match=r"dense transform over q\^n = 20\^30 entries would need"):
        sf.to_dense()


def test_random_real_transform_is_real_with_the_orders_asked():
    from plmscope.fourier import random_real_transform

    for q in (2, 4, 5):
        sf = random_real_transform(q, 6, {1: (3, 1.0), 2: (2, 0.5), 3: (1, 0.2)}, -1.5,
                                   np.random.default_rng(q))
        x = np.random.default_rng(0).integers(0, q, size=(200, 6))
        assert np.abs(sf.evaluate(x).imag).max() < 1e-12  # mirrors carry conjugate values
        k = np.asarray(sf.frequencies).astype(np.int64)
        orders = (k != 0).sum(1)
        pairs = {o: len({min(tuple(f), tuple((-f) % q)) for f in k[orders == o]})
                 for o in (1, 2, 3)}
        assert pairs == {1: 3, 2: 2, 3: 1}
        assert len({tuple(f) for f in k}) == len(k)  # distinct frequencies
        assert np.asarray(sf.values)[orders == 0] == pytest.approx([-1.5])
    again = random_real_transform(4, 6, {2: (2, 1.0)}, 0.0, np.random.default_rng(1))
    assert np.array_equal(again.values, random_real_transform(
        4, 6, {2: (2, 1.0)}, 0.0, np.random.default_rng(1)).values)
    with pytest.raises(ValueError, match="order 4"):
        random_real_transform(4, 3, {4: (1, 1.0)}, 0.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="distinct order-1"):
        random_real_transform(2, 2, {1: (5, 1.0)}, 0.0, np.random.default_rng(0))
