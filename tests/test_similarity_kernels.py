"""The C++ similarity kernels (plmscope._core) against numpy references."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from plmscope import _core
from reference_geometry import mean_pairwise_cosine_ref, pair_similarity_ref, scatter_ref

ISAS = ["avx512", "avx2", "baseline"]
ORDER = {name: i for i, name in enumerate(reversed(ISAS))}


@pytest.fixture(params=ISAS)
def isa(request, monkeypatch):
    """Each compiled copy of the kernel, through PLMSCOPE_SIMD (the one cap for all kernels)."""
    monkeypatch.delenv("PLMSCOPE_SIMD", raising=False)
    widest = _core.simd_level()
    if ORDER[request.param] > ORDER[widest]:
        pytest.skip(f"this CPU has no {request.param}")
    monkeypatch.setenv("PLMSCOPE_SIMD", request.param)
    assert _core.simd_level() == request.param
    return request.param


def accumulate(x, shift, nthreads=0):
    d = x.shape[1]
    s, S = np.zeros(d), np.full((d, d), -3.0)
    S[np.triu_indices(d)] = 0.0
    _core.covariance_accumulate(x, shift, s, S, nthreads)
    return s, S


@pytest.mark.parametrize("n,d", [(1, 1), (2, 3), (255, 16), (256, 24), (257, 48), (600, 49),
                                 (100, 97), (40, 200)])
def test_covariance_matches_numpy_upper_triangle(isa, n, d):
    rng = np.random.default_rng(n * 1000 + d)
    x = (rng.standard_normal((n, d)) * rng.uniform(0.1, 10, d) + 50).astype(np.float32)
    shift = x[: max(1, n // 3)].mean(0, dtype=np.float64).astype(np.float32).astype(float)
    s, S = accumulate(x, shift)
    s_ref, S_ref = scatter_ref(x, shift)
    iu = np.triu_indices(d)
    # float32 sums over blocks of 256 rows
    np.testing.assert_allclose(s, s_ref, rtol=0, atol=1e-6 * n * np.abs(x - shift).max())
    scale = np.sqrt(np.outer(np.diag(S_ref), np.diag(S_ref)))[iu]
    assert np.all(np.abs(S[iu] - S_ref[iu]) <= 2e-6 * scale + 1e-12)
    assert np.all(S[np.tril_indices(d, -1)] == -3.0), "the lower triangle must stay untouched"


def test_covariance_threads_and_chunking_do_not_change_bits(isa):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1000, 130)).astype(np.float32)
    shift = np.full(130, 0.01)
    one = accumulate(x, shift, nthreads=1)
    two = accumulate(x, shift, nthreads=2)
    many = accumulate(x, shift, nthreads=7)
    for a, b in [(one, two), (one, many)]:
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[0], b[0])
    s, S = accumulate(x[:512], shift)
    _core.covariance_accumulate(np.ascontiguousarray(x[512:]), shift, s, S, 2)
    np.testing.assert_array_equal(S[np.triu_indices(130)], one[1][np.triu_indices(130)])


@pytest.mark.parametrize("n,d", [(1024, 512), (2300, 999), (1024, 1024)])
def test_covariance_of_wide_embeddings_with_outlier_dimensions(isa, n, d):
    """Wide embeddings (2300 rows: eight full 256-row blocks and a 252-row tail) with column
    scales spread over six orders of magnitude, like PLM outlier dimensions: every entry
    stays accurate relative to its own scale, sqrt(S_ii S_jj)."""
    rng = np.random.default_rng(d)
    scales = np.exp(rng.uniform(np.log(1e-3), np.log(1e3), d))
    x = (rng.standard_normal((n, d)) * scales + 7.0 * scales).astype(np.float32)
    x[:, :3] *= np.float32(40.0)  # a few massive dimensions
    shift = x[:200].mean(0, dtype=np.float64).astype(np.float32).astype(float)
    s, S = accumulate(x, shift, nthreads=1)
    s_ref, S_ref = scatter_ref(x, shift)
    iu = np.triu_indices(d)
    scale = np.sqrt(np.outer(np.diag(S_ref), np.diag(S_ref)))[iu]
    assert np.max(np.abs(S[iu] - S_ref[iu]) / scale) <= 2e-6
    np.testing.assert_allclose(s, s_ref, rtol=0, atol=1e-6 * np.abs(x - shift).sum(0).max())
    assert np.all(S[np.tril_indices(d, -1)] == -3.0), "the lower triangle must stay untouched"
    for threads in (2, 3):
        s2, S2 = accumulate(x, shift, nthreads=threads)
        np.testing.assert_array_equal(S2, S)
        np.testing.assert_array_equal(s2, s)


def test_covariance_with_a_smaller_thread_team_than_asked(tmp_path):
    """OpenMP may start fewer threads than asked (OMP_THREAD_LIMIT): the threads then take
    over the missing shares, and the bits stay the same."""
    script = (
        "import numpy as np, sys\n"
        "from plmscope import _core\n"
        "x = np.random.default_rng(5).standard_normal((2048, 1024)).astype(np.float32)\n"
        "s, S = np.zeros(1024), np.zeros((1024, 1024))\n"
        "_core.covariance_accumulate(x, np.zeros(1024), s, S, int(sys.argv[1]))\n"
        "np.save(sys.argv[2], np.concatenate([s, S.ravel()]))\n"
    )
    env = dict(os.environ, OMP_THREAD_LIMIT="2",
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = []
    for threads in (1, 5):
        path = tmp_path / f"t{threads}.npy"
        subprocess.run([sys.executable, "-c", script, str(threads), str(path)], env=env,
                       check=True)
        out.append(np.load(path))
    np.testing.assert_array_equal(out[0], out[1])


def test_covariance_moments_match_numpy():
    rng = np.random.default_rng(3)
    for d, m in [(1, 2), (2, 3), (5, 40), (130, 300), (257, 1000)]:
        x = rng.standard_normal((m, d)) * rng.uniform(0.1, 10, d) + 4
        shift = x[:2].mean(0)
        s_ref, S_ref = scatter_ref(x, shift)
        S = np.triu(S_ref) + np.tril(np.full((d, d), np.nan), -1)  # only the upper is read
        trace, frob2 = _core.covariance_moments(S, s_ref, m)
        C = np.cov(x.T, ddof=1).reshape(d, d)
        assert trace == pytest.approx(np.trace(C), rel=1e-12)
        assert frob2 == pytest.approx(np.vdot(C, C), rel=1e-12)
    with pytest.raises(ValueError, match="at least 2 rows"):
        _core.covariance_moments(np.zeros((3, 3)), np.zeros(3), 1)
    with pytest.raises(ValueError, match="scatter"):
        _core.covariance_moments(np.zeros((3, 2)), np.zeros(3), 5)


def test_covariance_empty_and_binding_checks():
    s, S = np.zeros(3), np.zeros((3, 3))
    _core.covariance_accumulate(np.zeros((0, 3), np.float32), np.zeros(3), s, S, 0)
    assert not S.any() and not s.any()
    with pytest.raises(ValueError, match="shift"):
        _core.covariance_accumulate(np.zeros((2, 3), np.float32), np.zeros(2), s, S, 0)
    with pytest.raises(ValueError, match="scatter"):
        _core.covariance_accumulate(np.zeros((2, 3), np.float32), np.zeros(3), s,
                                    np.zeros((3, 2)), 0)
    with pytest.raises(TypeError):  # float64 rows are not silently cast
        _core.covariance_accumulate(np.zeros((2, 3)), np.zeros(3), s, S, 0)


def test_simd_cap_is_checked(monkeypatch):
    monkeypatch.setenv("PLMSCOPE_SIMD", "sse9")
    with pytest.raises(ValueError, match="PLMSCOPE_SIMD must be 'baseline', 'avx2' or 'avx512'"):
        _core.simd_level()
    with pytest.raises(ValueError, match="PLMSCOPE_SIMD"):
        _core.covariance_accumulate(np.ones((2, 3), np.float32), np.zeros(3), np.zeros(3),
                                    np.zeros((3, 3)), 0)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 300), d=st.integers(1, 60), seed=st.integers(0, 2**31),
       scale=st.floats(1e-3, 1e3), isa_name=st.sampled_from(ISAS))
def test_covariance_hypothesis(n, d, seed, scale, isa_name):
    # A cap above the CPU's widest set runs the widest.
    saved = os.environ.get("PLMSCOPE_SIMD")
    os.environ["PLMSCOPE_SIMD"] = isa_name
    try:
        rng = np.random.default_rng(seed)
        x = (rng.standard_normal((n, d)) * scale).astype(np.float32)
        shift = (rng.standard_normal(d) * scale * 0.1).astype(np.float32).astype(float)
        s, S = accumulate(x, shift)
        s_ref, S_ref = scatter_ref(x, shift)
        iu = np.triu_indices(d)
        tol = 2e-6 * np.sqrt(np.outer(np.diag(S_ref), np.diag(S_ref)))[iu] + 1e-30
        assert np.all(np.abs(S[iu] - S_ref[iu]) <= tol)
        np.testing.assert_allclose(s, s_ref, rtol=0, atol=1e-6 * scale * max(n, 1))
    finally:
        if saved is None:
            os.environ.pop("PLMSCOPE_SIMD", None)
        else:
            os.environ["PLMSCOPE_SIMD"] = saved


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,d", [(1, 1), (2, 5), (300, 33), (1000, 3), (20000, 70)])
def test_unit_sum_matches_numpy(dtype, n, d):
    rng = np.random.default_rng(n + d)
    x = (rng.standard_normal((n, d)) + 0.5).astype(dtype)
    u = np.zeros(d)
    _core.unit_sum_accumulate(x, u, 0)
    ref = (x.astype(np.float64) / np.linalg.norm(x.astype(np.float64), axis=1,
                                                    keepdims=True)).sum(0)
    np.testing.assert_allclose(u, ref, rtol=1e-12, atol=1e-12 * n)
    u2 = np.zeros(d)
    _core.unit_sum_accumulate(x, u2, 1)
    np.testing.assert_array_equal(u, u2)
    if 2 <= n <= 1000:
        mean = (u @ u - n) / (n * (n - 1))
        assert mean == pytest.approx(mean_pairwise_cosine_ref(x), abs=1e-12)


def test_unit_sum_names_zero_and_nan_rows():
    x = np.ones((5, 3), np.float32)
    x[3] = 0
    with pytest.raises(ValueError, match="row 3 has norm 0"):
        _core.unit_sum_accumulate(x, np.zeros(3), 0)
    x[3] = np.nan
    with pytest.raises(ValueError, match="row 3"):
        _core.unit_sum_accumulate(x, np.zeros(3), 0)
    u = np.zeros(3)
    _core.unit_sum_accumulate(np.zeros((0, 3)), u, 0)
    assert not u.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,d,P", [(2, 1, 1), (10, 7, 100), (300, 130, 5000), (5, 4, 0)])
def test_pair_similarity_matches_numpy(dtype, n, d, P):
    rng = np.random.default_rng(P + d)
    x = rng.standard_normal((n, d)).astype(dtype)
    pairs = rng.integers(0, n, size=(P, 2))
    pairs[: min(P, 3), 1] = pairs[: min(P, 3), 0]  # a row against itself: cos 1, dist 0
    cos, sq = _core.pair_similarity(x, pairs, True, True, 0)
    cos_ref, sq_ref = pair_similarity_ref(x, pairs)
    np.testing.assert_allclose(cos, cos_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sq, sq_ref, rtol=1e-12, atol=1e-12)
    assert np.all(sq[: min(P, 3)] == 0.0)
    only_sq = _core.pair_similarity(x, pairs, False, True, 1)
    assert only_sq[0] is None
    np.testing.assert_array_equal(only_sq[1], sq)


def test_pair_similarity_errors():
    x = np.ones((3, 2), np.float32)
    with pytest.raises(ValueError, match=r"pairs\[1, 1\] = 3 is not a row index"):
        _core.pair_similarity(x, np.array([[0, 1], [2, 3]]), True, True, 0)
    with pytest.raises(ValueError, match=r"pairs\[0, 0\] = -1"):
        _core.pair_similarity(x, np.array([[-1, 1]]), True, True, 0)
    x[2] = 0
    with pytest.raises(ValueError, match="pair 1 .rows 0, 2. has a row of norm 0"):
        _core.pair_similarity(x, np.array([[0, 1], [0, 2]]), True, True, 0)
    _, sq = _core.pair_similarity(x, np.array([[0, 2]]), False, True, 0)
    assert sq[0] == 2.0  # distances are defined for zero rows


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 40), d=st.integers(1, 40), P=st.integers(0, 60),
       seed=st.integers(0, 2**31), single=st.booleans())
def test_unit_sum_and_pairs_hypothesis(n, d, P, seed, single):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, d)) + 0.1).astype(np.float32 if single else np.float64)
    u = np.zeros(d)
    _core.unit_sum_accumulate(x, u, 0)
    if n:
        xf = x.astype(np.float64)
        np.testing.assert_allclose(u, (xf / np.linalg.norm(xf, axis=1, keepdims=True)).sum(0),
                                   rtol=1e-12, atol=1e-12 * n)
    else:
        assert not u.any()
    pairs = rng.integers(0, max(n, 1), size=(P if n else 0, 2))
    cos, sq = _core.pair_similarity(x, pairs, True, True, 0)
    assert cos.shape == sq.shape == (len(pairs),)
    if len(pairs):
        cos_ref, sq_ref = pair_similarity_ref(x, pairs)
        np.testing.assert_allclose(cos, cos_ref, atol=1e-12)
        np.testing.assert_allclose(sq, sq_ref, rtol=1e-12, atol=1e-300)
