"""q-SFT designs at the edges: q^n beyond 64 bits, and subsampling matrices that exist for
every setting (built directly, deterministic from the seed)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from plmscope.fourier import SparseFourier, SurrogateOracle
from plmscope.fourier.qsft import design, query_variants, recover


def planted(q, n):
    freqs = np.zeros((3, n), np.uint8)
    freqs[1, 0], freqs[2, 0] = 1, q - 1  # a conjugate pair: a real landscape
    freqs[1, n - 1] = freqs[2, n - 1] = 1 if q == 2 else 0
    if q == 2:
        freqs = freqs[:2]
    values = np.array([0.5, 1.0, 1.0][:len(freqs)], complex)
    return SparseFourier(freqs, values, q)


@pytest.mark.parametrize("q,n,b", [(20, 15, 1), (20, 16, 2), (2, 63, 2), (2, 64, 2), (3, 41, 2)])
def test_recover_beyond_int64(q, n, b):
    truth = planted(q, n)
    for C in (2, 3):  # C = 2 once unpacked the points array as if it were (points, codes)
        got = recover(SurrogateOracle(truth, 0.0, 0), q, n, b, num_subsample=C, num_repeat=1,
                      seed=1, noise_sd=0.0, decoder="peel")  # peeling's exactness
        want = {k.tobytes(): v for k, v in zip(truth.frequencies, truth.values)}
        found = {k.tobytes(): v for k, v in zip(got.transform.frequencies, got.transform.values)
                 if abs(v) > 1e-9}
        assert set(found) == set(want)
        for k, v in found.items():
            assert abs(v - want[k]) < 1e-9
    unique = query_variants(q, n, b, 2, "nso", 1, seed=1)
    assert unique.shape[1] == n and len(np.unique(unique, axis=0)) == len(unique)


def test_flat_indices_are_exact_beyond_int64():
    n = 64
    sf = SparseFourier(np.array([[1] * n, [0] * (n - 1) + [1], [1] + [0] * (n - 1)]),
                       np.ones(3), 2)
    assert list(sf.flat_indices()) == [2**64 - 1, 1, 2**63]
    sf = SparseFourier(np.array([[19] * 15]), np.ones(1), 20)
    assert list(sf.flat_indices()) == [20**15 - 1]
    small = SparseFourier(np.array([[1, 2, 3]]), np.ones(1), 4)
    assert small.flat_indices().dtype == np.int64 and small.flat_indices()[0] == 16 + 8 + 3


def assert_valid(m, q):
    assert design.is_onto(m, q), m
    assert design.rows_are_units(m, q), m


@pytest.mark.parametrize("q,n,b", [(20, 10, 1), (2, 10, 1), (2, 30, 2), (2, 3, 3), (20, 4, 4),
                                   (12, 12, 3), (256, 5, 2), (30, 8, 2)])
def test_subsampling_matrices_exist_for_every_seed(q, n, b):
    for seed in range(40):  # rejection failed 40/40, 21/40 and 38/40 of these seeds
        for m in design.subsampling_matrices(np.random.default_rng(seed), q, n, b, 3):
            assert_valid(m, q)


@settings(max_examples=60, deadline=None)
@given(q=st.integers(2, 256), n=st.integers(1, 12), data=st.data())
def test_subsampling_matrices_valid_for_any_q(q, n, data):
    b = data.draw(st.integers(1, n))
    seed = data.draw(st.integers(0, 2**32))
    ms = design.subsampling_matrices(np.random.default_rng(seed), q, n, b, 2)
    assert ms.shape == (2, n, b) and ms.dtype == np.uint8 and int(ms.max()) < q
    for m in ms:
        assert_valid(m, q)


def test_subsampling_matrices_deterministic_and_random():
    def draw(seed):
        return design.subsampling_matrices(np.random.default_rng(seed), 20, 10, 2, 2)

    np.testing.assert_array_equal(draw(5), draw(5))
    assert not np.array_equal(draw(5), draw(6))
    np.testing.assert_array_equal(query_variants(20, 6, 2, 2, "nso", 2, seed=3),
                                  query_variants(20, 6, 2, 2, "nso", 2, seed=3))
    # every valid matrix can come out: for q = 3, n = 2, b = 1 they are {1, 2}^2
    seen = {design.subsampling_matrices(np.random.default_rng(s), 3, 2, 1, 1).tobytes()
            for s in range(200)}
    assert len(seen) == 4
    # entries spread over all units of Z_20 (not only the identity's 0 and 1)
    many = design.subsampling_matrices(np.random.default_rng(0), 20, 10, 1, 50)
    assert set(np.unique(many)) == {1, 3, 7, 9, 11, 13, 17, 19}


def test_query_points_with_codes_refused_beyond_int64():
    m = design.subsampling_matrices(np.random.default_rng(0), 2, 64, 1, 1)
    d = design.delay_rows(np.random.default_rng(0), 2, 64, "identity", 1)
    points, codes = design.query_points(m, d, 2)
    assert points.shape == (1, 65, 2, 64) and codes is None
    with pytest.raises(ValueError, match="int64"):
        design.query_points(m, d, 2, with_codes=True)
