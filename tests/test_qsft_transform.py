"""q-SFT's fused transform phase and its structural de-duplication, against plain numpy."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from plmscope.fourier import SurrogateOracle, qary_fft, qsft
from plmscope.fourier.qsft import design, transform
from plmscope.fourier.surrogate import random_real_transform


def old_path(answers, inverse, mean, C, P, q, b):
    """The transform phase as recover did it before the fused kernel."""
    samples = answers[inverse].reshape(C * P, q**b) - mean
    spectra = qary_fft(samples, q)
    return np.ascontiguousarray(spectra.reshape(C, P, q**b).transpose(0, 2, 1))


@settings(max_examples=40, deadline=None)
@given(q=st.sampled_from([2, 3, 4, 5, 7, 8, 20]), b=st.integers(1, 3),
       C=st.integers(0, 3), P=st.integers(1, 5), seed=st.integers(0, 2**16),
       nthreads=st.sampled_from([0, 1, 2]))
def test_bins_equal_numpy_and_the_unfused_path(q, b, C, P, seed, nthreads):
    if q**b > 4000:
        b = 1
    rng = np.random.default_rng(seed)
    m = max(1, C * P * q**b - rng.integers(0, 3))
    answers = rng.standard_normal(m) * 3 + 1
    inverse = rng.integers(0, m, size=C * P * q**b).astype(np.int64)
    mean = float(answers.mean())
    got = transform.bins(answers, inverse, mean, C, P, q, b, nthreads)
    assert got.shape == (C, q**b, P) and got.dtype == np.complex128
    np.testing.assert_allclose(got, transform.bins_reference(answers, inverse, mean, C, P, q, b),
                               rtol=0, atol=1e-12 * (1 + np.abs(answers).max()))
    # the same operations in the same order as before: recover's numbers do not move
    np.testing.assert_array_equal(got, old_path(answers, inverse, mean, C, P, q, b))


def test_bins_large_enough_for_panels_and_threads():
    q, b, C, P = 20, 3, 2, 7  # 8000 bins x 7 delays: past one cache block, threaded
    rng = np.random.default_rng(0)
    answers = rng.standard_normal(C * P * q**b)
    inverse = rng.permutation(answers.size).astype(np.int64)
    for nthreads in (1, 2):
        np.testing.assert_array_equal(transform.bins(answers, inverse, 0.25, C, P, q, b, nthreads),
                                      old_path(answers, inverse, 0.25, C, P, q, b))


@pytest.mark.parametrize("bad,message", [
    (dict(inverse=np.array([0, 1, 2, 9], np.int64)), r"inverse: index must hold positions in \[0, 4\), got 9"),
    (dict(inverse=np.array([0, -1, 2, 3], np.int64)), r"inverse: index must hold positions in \[0, 4\), got -1"),
    (dict(inverse=np.array([0, 1, 2], np.int64)), r"inverse must be an int64 array of 4"),
    (dict(inverse=np.array([0, 1, 2, 3], np.int32)), r"inverse must be an int64 array"),
    (dict(answers=np.zeros((2, 2))), r"answers must be a 1-D float array"),
    (dict(q=1), r"q must be an integer >= 2"),
    (dict(b=0), r"b must be an integer >= 1"),
    (dict(num_delays=0), r"num_delays must be an integer >= 1"),
    (dict(nthreads=-1), r"nthreads must be an integer >= 0"),
])
def test_bins_bad_arguments_are_named(bad, message):
    args = dict(answers=np.arange(4.0), inverse=np.arange(4, dtype=np.int64), mean=0.0,
                num_subsample=1, num_delays=2, q=2, b=1, nthreads=0)
    args.update(bad)
    with pytest.raises(ValueError, match=message):
        transform.bins(**args)


def first_occurrence_order(points):
    flat = points.reshape(-1, points.shape[-1])
    _, first, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    keep = np.sort(first)
    rank = np.empty(flat.shape[0], np.int64)
    rank[keep] = np.arange(keep.size)
    return flat[keep], rank[first][inverse.reshape(-1)]


@pytest.mark.parametrize("q,n,b,C,R,kind,seed,how", [
    (20, 6, 2, 2, 2, "nso", 3, "structure"), (5, 4, 2, 3, 2, "nso", 1, "structure"),
    (6, 5, 2, 3, 2, "nso", 4, "structure"), (12, 4, 2, 3, 2, "nso", 6, "structure"),
    # duplicates by whole rows: more matches than points, so sorting finds them
    (2, 6, 3, 3, 1, "identity", 0, "sort"),
    (4, 3, 3, 2, 1, "nso", 2, "sort"),       # b = n: every delay row is all of Z_q^n
    (3, 1, 1, 2, 2, "nso", 0, "sort"),       # n = 1
    (2, 5, 2, 4, 3, "nso", 5, "sort"),
])
def test_structural_dedup_equals_sorting(q, n, b, C, R, kind, seed, how):
    rng = np.random.default_rng(seed)
    M = design.subsampling_matrices(rng, q, n, b, C)
    D = design.delay_rows(rng, q, n, kind, R)
    points, _ = design.query_points(M, D, q)
    unique, inverse, removed, found_by = design.design_order_variants(points, M, D, q,
                                                                      method="structure")
    assert found_by == how  # "sort" where the structure cannot be used
    ref_unique, ref_inverse = first_occurrence_order(points)
    np.testing.assert_array_equal(unique, ref_unique)
    np.testing.assert_array_equal(inverse, ref_inverse)
    assert removed == points.shape[0] * points.shape[1] * points.shape[2] - ref_unique.shape[0]
    assert removed >= (C - 1) * D.shape[0]  # every group asks the delays themselves at l = 0
    if how == "structure":  # and the structure alone finds the same duplicates
        positions, sources = design.structural_duplicates(points, M, D, q)
        flat = points.reshape(-1, n)
        assert positions.size == removed and np.all(sources < positions)
        np.testing.assert_array_equal(flat[positions], flat[sources])


def test_inverse_mod_composite_q():
    a = np.array([[2, 5], [5, 2]])  # no unit in the first column mod 20, yet invertible
    inv = design._inverse_mod(a, 20)
    np.testing.assert_array_equal(a @ inv % 20, np.eye(2, dtype=int))
    assert design._inverse_mod(np.array([[2, 0], [0, 1]]), 20) is None


def test_recover_same_with_sorted_fallback(monkeypatch):
    monkeypatch.setattr(design, "SORT_BELOW", 0)  # this small design would be sorted anyway
    q, n, b = 5, 6, 2
    truth = random_real_transform(q, n, {1: (4, 1.0), 2: (4, 0.5)}, 0.2, np.random.default_rng(0))
    oracle = SurrogateOracle(truth, 0.05, seed=1)
    kwargs = dict(num_subsample=3, num_repeat=2, decoder="peel", progress=False)
    ours = qsft.recover(oracle, q, n, b, **kwargs)
    assert ours.dedup == "structure" and ours.summary()["dedup"] == "structure"
    monkeypatch.setattr(design, "_invertible_rows", lambda *a, **k: None)
    sorted_run = qsft.recover(oracle, q, n, b, **kwargs)
    assert sorted_run.dedup == "sort"
    assert sorted_run.num_queries == ours.num_queries
    # the same asking order, so the same answers and the same result, bit for bit
    np.testing.assert_array_equal(sorted_run.transform.frequencies, ours.transform.frequencies)
    np.testing.assert_array_equal(sorted_run.transform.values, ours.transform.values)
    assert "found from the design's structure" in str(qsft.plan(q, n, b, 3, "nso", 2))


@pytest.mark.parametrize("q,n,b,C,R,seed", [(20, 6, 2, 2, 2, 3), (4, 10, 4, 2, 2, 0),
                                            (2, 5, 2, 4, 3, 5)])
def test_small_designs_sorted_large_solved(monkeypatch, q, n, b, C, R, seed):
    rng = np.random.default_rng(seed)
    M = design.subsampling_matrices(rng, q, n, b, C)
    D = design.delay_rows(rng, q, n, "nso", R)
    points, _ = design.query_points(M, D, q)
    total = points.shape[0] * points.shape[1] * points.shape[2]
    small = design.design_order_variants(points, M, D, q)
    assert total < design.SORT_BELOW and small[3] == "sort"
    assert "found by sorting" in str(qsft.plan(q, n, b, C, "nso", R))
    monkeypatch.setattr(design, "SORT_BELOW", total)  # now it counts as large
    large = design.design_order_variants(points, M, D, q)
    forced = design.design_order_variants(points, M, D, q, method="structure")
    assert large[3] == forced[3]  # the structure where it can be used, else still sorting
    monkeypatch.setattr(design, "FEW_REMOVED", 0)  # the masked compaction
    masked = design.design_order_variants(points, M, D, q)
    for a, b_, c_ in zip(small[:3], large[:3], masked[:3]):
        np.testing.assert_array_equal(a, b_)
        np.testing.assert_array_equal(a, c_)
    with pytest.raises(ValueError, match="method must be"):
        design.design_order_variants(points, M, D, q, method="hash")
