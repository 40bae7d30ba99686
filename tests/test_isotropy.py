"""plmscope.isotropy: IsoScore, IsoScore*, effective dimensions, mean cosine."""
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from IsoScore import IsoScore as peer

from plmscope.isotropy import (
    CovarianceAccumulator, FewPointsWarning, IsotropyAccumulator, effective_dims, isoscore,
    isoscore_star, isotropic_baseline, mean_pairwise_cosine, pair_similarity,
    participation_ratio, summarize,
)
from reference_geometry import (
    isoscore_ref, mean_pairwise_cosine_ref, pair_similarity_ref, participation_ratio_ref,
)


def anisotropic(n, d, seed, offset=0.0):
    rng = np.random.default_rng(seed)
    spectrum = np.exp(-np.arange(d) / max(1.0, d / 4))
    return rng.standard_normal((n, d)) * spectrum @ np.linalg.qr(
        rng.standard_normal((d, d)))[0] + offset


@pytest.mark.parametrize("n,d", [(5000, 10), (20000, 50), (4000, 100)])
def test_isotropic_gaussian_scores_about_one_over_one_plus_d_over_n(n, d):
    X = np.random.default_rng(d).standard_normal((n, d))
    r = isoscore(X)
    assert r.n_points == n and r.dim == d
    assert r.score == pytest.approx(1.0 / (1.0 + d / n), abs=0.01)
    assert r.score == pytest.approx(isotropic_baseline(n, d), abs=0.003)
    assert r.isotropic_baseline == isotropic_baseline(n, d)


def test_points_on_a_line_score_zero():
    rng = np.random.default_rng(0)
    t = rng.standard_normal((300, 1))
    X = 3.0 + t * rng.standard_normal((1, 64))
    r = isoscore(X)
    assert abs(r.score) < 1e-12 and r.participation_ratio == pytest.approx(1.0, abs=1e-10)
    assert r.effective_dims == 1


def test_equal_variance_in_k_orthogonal_directions_gives_k_effective_dims():
    rng = np.random.default_rng(1)
    Q = np.linalg.qr(rng.standard_normal((40, 40)))[0]
    # +-1 patterns over 16 rows: every one of the 7 directions has exactly the same variance
    # and the directions are exactly uncorrelated, so PR = 7 up to rounding.
    signs = np.array([[1 if (i >> j) & 1 else -1 for j in range(7)] for i in range(128)], float)
    X = signs @ Q[:7]
    r = isoscore(X)
    assert r.participation_ratio == pytest.approx(7.0, rel=1e-12)
    assert r.effective_dims == 7 and effective_dims(X) == 7
    assert r.score == pytest.approx(6.0 / 39.0, rel=1e-12)


def test_rotation_scale_and_mean_invariance():
    X = anisotropic(3000, 30, seed=2)
    base = isoscore(X).score
    Q = np.linalg.qr(np.random.default_rng(3).standard_normal((30, 30)))[0]
    assert isoscore(X @ Q).score == pytest.approx(base, abs=1e-10)
    for scale in (1e-6, 1e-3, 1e3, 1e6):
        assert isoscore(X * scale).score == pytest.approx(base, abs=1e-10)
    for offset in (-1e3, 7.0, 1e4):
        assert isoscore(X + offset).score == pytest.approx(base, abs=1e-9)
    # float32 with a large mean: the shift keeps the covariance accurate.
    X32 = (X + 100.0).astype(np.float32)
    assert isoscore(X32).score == pytest.approx(isoscore_ref(X32), abs=1e-6)


@pytest.mark.parametrize("n,d", [(3, 2), (50, 2), (200, 7), (1000, 64), (30, 20)])
def test_equals_isoscore_package(n, d):
    X = anisotropic(n, d, seed=n + d, offset=2.0)
    expected = float(peer.IsoScore(X))
    assert isoscore(X).score == pytest.approx(expected, abs=1e-6)
    assert isoscore(X.astype(np.float32)).score == pytest.approx(
        float(peer.IsoScore(X.astype(np.float32).astype(np.float64))), abs=1e-6)


def test_accepts_torch_tensors_and_lists():
    X = anisotropic(100, 5, seed=4)
    expected = isoscore(X).score
    assert isoscore(torch.from_numpy(X)).score == pytest.approx(expected, abs=1e-15)
    assert isoscore(torch.from_numpy(X).to(torch.bfloat16)).score == pytest.approx(
        expected, abs=0.02)
    assert isoscore(X.tolist()).score == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("zeta", [0.0, 0.1, 0.5, 1.0])
def test_isoscore_star_equals_package(zeta):
    rng = np.random.default_rng(5)
    d = 12
    X = anisotropic(40, d, seed=6, offset=1.0)
    C0 = np.cov(anisotropic(5000, d, seed=7).T)
    expected = float(peer.IsoScore_star(X, torch.from_numpy(C0), zeta))
    r = isoscore_star(X, zeta, C0)
    assert r.score == pytest.approx(expected, abs=1e-6) and r.shrinkage == zeta
    # The identity fallback, as a number, as a matrix, and C0 from an accumulator.
    expected_eye = float(peer.IsoScore_star(X, torch.eye(d, dtype=torch.float64), zeta))
    assert isoscore_star(X, zeta, 1.0).score == pytest.approx(expected_eye, abs=1e-6)
    assert isoscore_star(X, zeta, np.eye(d)).score == pytest.approx(expected_eye, abs=1e-6)
    acc = CovarianceAccumulator().update(anisotropic(5000, d, seed=7))
    assert isoscore_star(X, zeta, acc).score == pytest.approx(expected, abs=1e-6)
    assert rng is not None


def test_isoscore_star_zero_shrinkage_is_isoscore_and_stabilises_small_samples():
    X = anisotropic(500, 20, seed=8)
    assert isoscore_star(X, 0.0, 1.0).score == pytest.approx(isoscore(X).score, abs=1e-12)
    # 10 isotropic points in 50 dimensions: IsoScore is capped at 8/49; shrinking towards
    # the true covariance (the identity) recovers much of the isotropy.
    few = np.random.default_rng(9).standard_normal((10, 50))
    with pytest.warns(FewPointsWarning):
        raw = isoscore(few).score
    assert raw <= 8 / 49 + 1e-12
    assert isoscore_star(few, 0.5, np.eye(50)).score > raw + 0.2
    assert isoscore_star(few, 0.9, np.eye(50)).score > 0.9


def test_isoscore_star_bad_arguments():
    X = anisotropic(50, 4, seed=10)
    with pytest.raises(ValueError, match="zeta must be a number in"):
        isoscore_star(X, 1.5, 1.0)
    with pytest.raises(ValueError, match=r"C0 must be a \(d, d\) = \(4, 4\)"):
        isoscore_star(X, 0.2, np.eye(3))
    with pytest.raises(ValueError, match="symmetric"):
        isoscore_star(X, 0.2, np.triu(np.ones((4, 4))))
    with pytest.raises(ValueError, match="c >= 0"):
        isoscore_star(X, 0.2, -1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streaming_equals_in_memory(dtype):
    X = anisotropic(2100, 40, seed=11, offset=3.0).astype(dtype)
    whole = summarize(X)
    rng = np.random.default_rng(12)
    cuts = np.sort(rng.choice(np.arange(1, 2100), size=9, replace=False))
    chunks = np.split(X, cuts) + [X[:0]]
    streamed = summarize(c for c in chunks)
    # float32 products are summed in blocks of 256 rows, so other chunk borders round
    # differently (~1e-8); float64 agrees to rounding.
    tol = 1e-7 if dtype == np.float32 else 1e-11
    assert streamed.n_points == whole.n_points == 2100
    assert streamed.isoscore == pytest.approx(whole.isoscore, abs=tol)
    assert streamed.mean_cosine == pytest.approx(whole.mean_cosine, abs=1e-12)
    assert isoscore(iter(chunks)).score == pytest.approx(whole.isoscore, abs=tol)
    assert mean_pairwise_cosine(iter(chunks)).value == pytest.approx(whole.mean_cosine,
                                                                     abs=1e-12)
    # Shards merged, each with its own shift (its own first-chunk mean).
    shards = [IsotropyAccumulator().update_all(iter(chunks[i::3])) for i in range(3)]
    merged = shards[0].merge(shards[1]).merge(shards[2])
    assert merged.isoscore().score == pytest.approx(whole.isoscore, abs=tol)
    assert merged.mean_pairwise_cosine().value == pytest.approx(whole.mean_cosine, abs=1e-12)
    np.testing.assert_allclose(merged.covariance.covariance(), np.cov(X.astype(float).T),
                               rtol=1e-5 if dtype == np.float32 else 1e-10, atol=1e-12)
    np.testing.assert_allclose(merged.covariance.mean, X.astype(float).mean(0), atol=1e-10)


def test_mean_pairwise_cosine_matches_dense_matrix():
    X = anisotropic(400, 16, seed=13, offset=0.5)
    r = mean_pairwise_cosine(X)
    assert r.value == pytest.approx(mean_pairwise_cosine_ref(X), abs=1e-13)
    assert (r.n_points, r.dim) == (400, 16)
    same = np.tile(X[:1], (5, 1)) * np.arange(1, 6)[:, None]
    assert mean_pairwise_cosine(same).value == pytest.approx(1.0, abs=1e-14)
    assert mean_pairwise_cosine(np.array([[1.0, 0], [-1, 0]])).value == pytest.approx(-1.0)


def test_pair_similarity_wrapper():
    X = anisotropic(50, 8, seed=14).astype(np.float32)
    pairs = np.random.default_rng(15).integers(0, 50, (300, 2))
    cos, sq = pair_similarity(X, pairs)
    cos_ref, sq_ref = pair_similarity_ref(X, pairs)
    np.testing.assert_allclose(cos, cos_ref, atol=1e-12)
    np.testing.assert_allclose(sq, sq_ref, rtol=1e-12)
    cos0, sq0 = pair_similarity(X, [])
    assert cos0.shape == sq0.shape == (0,)
    with pytest.raises(ValueError, match=r"shape \(P, 2\)"):
        pair_similarity(X, [1, 2, 3])
    with pytest.raises(ValueError, match="integer"):
        pair_similarity(X, [[0.0, 1.0]])


def test_transposed_input_warns_and_says_what_the_score_means():
    X = anisotropic(2000, 30, seed=16)
    with pytest.warns(FewPointsWarning, match=r"only N=30 points in d=2000 .*pass X\.T"):
        r = isoscore(X.T)
    assert r.score <= (30 - 2) / (2000 - 1) + 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        isoscore(X)  # N >= d: no warning


@pytest.mark.parametrize("X,match", [
    (np.ones((10, 4)), "all identical"),
    (np.ones((10, 4), np.float32) * 3.5, "all identical"),
    (np.zeros((1, 4)), "at least 2 point"),
    (np.zeros((0, 4)), "at least 2 point"),
    (np.random.default_rng(0).standard_normal((10, 1)), "d >= 2"),
    (np.ones(5), r"2-D array of shape \(N points, d dimensions\).*x\[None, :\]"),
    (np.ones((3, 3), complex), "real numbers"),
])
def test_bad_input_raises_value_error(X, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewPointsWarning)
        with pytest.raises(ValueError, match=match):
            isoscore(X)


def test_non_finite_and_mismatched_chunks_raise():
    X = np.random.default_rng(1).standard_normal((20, 3))
    X[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        isoscore(X)
    with pytest.raises(ValueError, match="chunk 1 has d=4 .* d=3"):
        isoscore(iter([np.ones((3, 3)), np.ones((3, 4))]))
    with pytest.raises(ValueError, match="iterable of"):
        isoscore(5)
    Z = np.random.default_rng(2).standard_normal((30, 3))
    Z[25] = 0.0
    with pytest.raises(ValueError, match=r"point 20 overall.*row 5 has norm 0"):
        mean_pairwise_cosine(iter([Z[:20], Z[20:]]))
    with pytest.raises(ValueError, match="at least 2 points"):
        mean_pairwise_cosine(Z[:1])


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 60), d=st.integers(2, 20), seed=st.integers(0, 2**31),
       log_scale=st.floats(-4, 4), single=st.booleans())
def test_hypothesis_matches_eigenvalue_reference(n, d, seed, log_scale, single):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.01, 1, d) * 10.0**log_scale
    if single:
        X = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewPointsWarning)
        r = isoscore(X)
    assert 0.0 <= r.score <= 1.0 and 1.0 <= r.participation_ratio <= d
    assert r.participation_ratio == pytest.approx(participation_ratio_ref(X),
                                                  rel=1e-5 if single else 1e-9)
    assert math.ceil(r.participation_ratio * (1 - 1e-9)) == r.effective_dims
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewPointsWarning)
        assert participation_ratio(X) == r.participation_ratio
