"""The CUDA kernels against the CPU core and numpy, on the shapes the CPU tests use, for
torch CUDA tensors and CuPy arrays (whichever is installed with CUDA).

Runs only where this build has CUDA kernels and a device is visible; elsewhere every test
here is skipped, visibly (the skip summary lists the reason). On a GPU machine:
    cmake -S . -B build/cuda -G Ninja -DPLMSCOPE_ENABLE_CUDA=ON ... && cmake --build build/cuda
    PYTHONPATH=python python3 -m pytest -q -m gpu tests/test_gpu.py
PLMSCOPE_GPU_TESTS_ON_HOST=1 runs the same tests with numpy arrays on the CPU path instead,
to check the tests themselves on a machine without a GPU (it checks no kernel).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from plmscope import _core, _device
from plmscope.isotropy import gpu as isotropy_gpu
from plmscope.fourier import SparseFourier, qary_fft
from planted import gb1_like_surrogate
from reference import qary_fft_ref, r_squared, sparse_series_ref
from test_qary_fft import SIZES as FFT_SIZES

ON_HOST = os.environ.get("PLMSCOPE_GPU_TESTS_ON_HOST") == "1"
GPU_READY = _core.has_cuda() and _core.cuda_device_count() > 0

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not (GPU_READY or ON_HOST),
                       reason="needs a CUDA build of plmscope (PLMSCOPE_ENABLE_CUDA=ON) and a "
                              "visible CUDA device"),
]


# ---- array libraries ---------------------------------------------------------------------

class Backend:
    """Moves numpy arrays to one library's device arrays and back."""

    def __init__(self, name):
        self.name = name
        if name == "torch":
            import torch

            self.lib = torch
        elif name == "cupy":
            import cupy

            self.lib = cupy

    def to(self, a):
        a = np.asarray(a)
        if self.name == "torch":
            return self.lib.as_tensor(np.ascontiguousarray(a), device="cuda")
        if self.name == "cupy":
            return self.lib.asarray(a)
        return a

    def get(self, x):
        if self.name == "torch":
            return x.detach().cpu().numpy()
        if self.name == "cupy":
            return self.lib.asnumpy(x)
        return np.asarray(x)

    def is_kind(self, x) -> bool:
        if self.name == "torch":
            return isinstance(x, self.lib.Tensor) and x.is_cuda
        if self.name == "cupy":
            return isinstance(x, self.lib.ndarray)
        return isinstance(x, np.ndarray)

    def sync(self):
        if self.name == "torch":
            self.lib.cuda.synchronize()
        elif self.name == "cupy":
            self.lib.cuda.Device().synchronize()


def _available():
    names = []
    if GPU_READY:
        try:
            import torch

            if torch.cuda.is_available():
                names.append("torch")
        except ImportError:
            pass
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() > 0:
                names.append("cupy")
        except Exception:  # noqa: BLE001 - no CuPy, or CuPy without a usable CUDA
            pass
    if ON_HOST:
        names.append("numpy")
    return names or ["torch"]  # collected and skipped by pytestmark when there is no GPU


@pytest.fixture(params=_available())
def be(request):
    if request.param != "numpy" and not GPU_READY:
        pytest.skip("no CUDA device")
    return Backend(request.param)


def test_some_gpu_array_library_sees_the_device():
    if not GPU_READY:
        pytest.skip("host self-check run")
    assert {"torch", "cupy"} & set(_available()), "neither torch with CUDA nor CuPy sees the GPU"


# ---- qary_fft ------------------------------------------------------------------------------

@pytest.mark.parametrize("q,n", [s for s in FFT_SIZES if s[0] <= 32])
@pytest.mark.parametrize("batch", [(), (1,), (3,), (2, 2)])
def test_fft_matches_numpy_and_cpu_core_double(be, q, n, batch):
    rng = np.random.default_rng(q * 100 + n)
    if q**n * max(1, int(np.prod(batch))) > 2_000_000:
        batch = (1,)
    x = rng.standard_normal(batch + (q**n,)) + 1j * rng.standard_normal(batch + (q**n,))
    got = qary_fft(be.to(x), q)
    assert be.is_kind(got) and tuple(got.shape) == x.shape
    out = be.get(got)
    assert out.dtype == np.complex128
    np.testing.assert_allclose(out, qary_fft_ref(x, q), rtol=0, atol=1e-12)
    np.testing.assert_allclose(out, qary_fft(x, q), rtol=0, atol=1e-12)
    inv = be.get(qary_fft(be.to(x), q, inverse=True))
    np.testing.assert_allclose(inv, qary_fft_ref(x, q, inverse=True), rtol=0, atol=1e-9 * q**n)
    np.testing.assert_allclose(inv, qary_fft(x, q, inverse=True), rtol=0, atol=1e-9 * q**n)


@pytest.mark.parametrize("q", range(2, 33))
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_fft_every_q_up_to_32(be, q, dtype):
    # Codelets (2, 3, 4, 5, 8), prime-factor and Cooley-Tukey splits, direct sums for primes.
    rng = np.random.default_rng(q)
    n = 3 if q <= 12 else 2
    x = (rng.standard_normal((3, q**n)) + 1j * rng.standard_normal((3, q**n))).astype(dtype)
    got = be.get(qary_fft(be.to(x), q))
    assert got.dtype == dtype
    ref = qary_fft_ref(x.astype(np.complex128), q)
    tol = 1e-12 if dtype == np.complex128 else 4e-6
    np.testing.assert_allclose(got, ref, rtol=0, atol=tol)
    np.testing.assert_allclose(got, qary_fft(x, q), rtol=0, atol=tol)


@pytest.mark.parametrize("q,n", [(2, 10), (3, 6), (20, 3), (6, 3), (8, 4), (4, 7)])
def test_fft_single_precision_stays_single(be, q, n):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, q**n)).astype(np.float32)
    got = qary_fft(be.to(x), q)
    out = be.get(got)
    assert out.dtype == np.complex64
    np.testing.assert_allclose(out, qary_fft_ref(x.astype(np.float64), q), atol=4e-6)
    np.testing.assert_allclose(be.get(qary_fft(got, q, inverse=True)).real, x, atol=1e-4)


def test_fft_walsh_hadamard_real(be):
    rng = np.random.default_rng(3)
    for n in (1, 4, 16, 20):
        x = rng.standard_normal((2, 2**n))
        w = qary_fft(be.to(x), 2, real=True)
        out = be.get(w)
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, qary_fft_ref(x, 2).real, atol=1e-12)
        np.testing.assert_allclose(out, qary_fft(x, 2, real=True), atol=1e-12)
        np.testing.assert_allclose(be.get(qary_fft(w, 2, inverse=True, real=True)), x, atol=1e-10)
        w32 = be.get(qary_fft(be.to(x.astype(np.float32)), 2, real=True))
        assert w32.dtype == np.float32
        np.testing.assert_allclose(w32, qary_fft(x.astype(np.float32), 2, real=True), atol=2e-6)


@pytest.mark.parametrize("q", [2, 3, 4, 5, 7, 20])
def test_fft_empty_batch_and_n0(be, q):
    out = qary_fft(be.to(np.zeros((0, q**2))), q)
    assert tuple(out.shape) == (0, q**2) and be.get(out).dtype == np.complex128
    x = np.array([[1.5], [-2.0]])  # q^0 = 1 value per row: the identity
    np.testing.assert_array_equal(be.get(qary_fft(be.to(x), q)), x.astype(np.complex128))


def test_fft_large_shapes_match_cpu_core(be):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 20**5)) + 1j * rng.standard_normal((2, 20**5))  # two passes
    np.testing.assert_allclose(be.get(qary_fft(be.to(x), 20)), qary_fft(x, 20), atol=1e-13)
    y = (rng.standard_normal(2**22) + 1j * rng.standard_normal(2**22)).astype(np.complex64)
    np.testing.assert_allclose(be.get(qary_fft(be.to(y), 2)), qary_fft(y, 2), atol=1e-6)
    z = rng.standard_normal(2**24).astype(np.float32)
    np.testing.assert_allclose(be.get(qary_fft(be.to(z), 2, real=True)),
                               qary_fft(z, 2, real=True), atol=1e-6)


def test_fft_input_unchanged_and_non_contiguous_input(be):
    rng = np.random.default_rng(6)
    base = rng.standard_normal((6, 400)) + 0j
    x = be.to(base)
    view = x[::2]  # rows of stride 2: not contiguous
    got = be.get(qary_fft(view, 20))
    np.testing.assert_allclose(got, qary_fft_ref(base[::2], 20), atol=1e-12)
    np.testing.assert_array_equal(be.get(x), base)


@pytest.mark.skipif(ON_HOST, reason="launch shapes exist only on the GPU")
@pytest.mark.parametrize("q,n,dtype", [(20, 4, np.complex64), (3, 9, np.complex128),
                                       (2, 18, np.complex64), (2, 20, np.float32),
                                       (32, 3, np.complex128)])
def test_fft_launch_shape_does_not_change_the_result(be, q, n, dtype):
    # Tiles, chunks and threads regroup the same butterflies: bitwise the same result.
    from plmscope.fourier import gpu

    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, q**n)).astype(dtype)
    real = not np.issubdtype(dtype, np.complexfloating)
    dev = _device.describe(be.to(x))
    ref = be.get(gpu.qary_fft(dev, q, real=real))
    cpu = qary_fft(x, q, real=real)
    np.testing.assert_allclose(ref, cpu, atol=4e-6 if dtype in (np.complex64, np.float32) else 1e-12)
    for tile_bytes, chunk_bytes, threads in [(16 * 1024 + 512, 0, 128), (64 * 1024 + 512, -1, 512),
                                             (0, 1 << 20, 64), (32 * 1024 + 512, 1, 256)]:
        got = be.get(gpu.qary_fft(dev, q, real=real, tile_bytes=tile_bytes,
                                  chunk_bytes=chunk_bytes, threads=threads))
        np.testing.assert_array_equal(got, ref)


@pytest.mark.skipif(ON_HOST, reason="streams exist only on the GPU")
def test_fft_runs_on_the_callers_stream(be):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 20**4)) + 0j
    if be.name == "torch":
        s = be.lib.cuda.Stream()
        with be.lib.cuda.stream(s):
            dx = be.to(x)
            out = qary_fft(dx, 20)
            back = qary_fft(out, 20, inverse=True)
        s.synchronize()
    else:
        s = be.lib.cuda.Stream(non_blocking=True)
        with s:
            dx = be.to(x)
            out = qary_fft(dx, 20)
            back = qary_fft(out, 20, inverse=True)
        s.synchronize()
    np.testing.assert_allclose(be.get(out), qary_fft(x, 20), atol=1e-12)
    np.testing.assert_allclose(be.get(back).real, x.real, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(q=st.integers(2, 32), n=st.integers(0, 4), batch=st.integers(0, 3),
       seed=st.integers(0, 2**31), scale=st.floats(1e-3, 1e3))
def test_fft_hypothesis(q, n, batch, seed, scale):
    be = Backend(_available()[0])
    if q**n > 30_000:
        n = 1
    rng = np.random.default_rng(seed)
    x = scale * (rng.standard_normal((batch, q**n)) + 1j * rng.standard_normal((batch, q**n)))
    np.testing.assert_allclose(be.get(qary_fft(be.to(x), q)), qary_fft_ref(x, q),
                               atol=1e-12 * scale * q)


def test_fft_device_override_keeps_the_kind(be):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 64)) + 0j
    on_cpu = qary_fft(be.to(x), 4, device="cpu")  # copied to the host and back
    assert be.is_kind(on_cpu)
    np.testing.assert_allclose(be.get(on_cpu), qary_fft_ref(x, 4), atol=1e-12)
    if be.name != "numpy":
        host_in = qary_fft(x, 4, device="cuda")  # numpy in, computed on the GPU, numpy out
        assert isinstance(host_in, np.ndarray)
        np.testing.assert_allclose(host_in, qary_fft_ref(x, 4), atol=1e-12)


# ---- SparseFourier.evaluate ------------------------------------------------------------------

def random_series(rng, q, n, K):
    freqs = rng.integers(0, q, size=(K, n))
    freqs[rng.random((K, n)) < 0.6] = 0  # mostly low orders, as recovered transforms are
    values = rng.standard_normal(K) + 1j * rng.standard_normal(K)
    return SparseFourier(freqs, values, q)


@pytest.mark.parametrize("q,n,K,M", [(2, 1, 2, 5), (3, 4, 10, 100), (20, 10, 228, 3000),
                                     (5, 6, 0, 10), (4, 3, 7, 0), (256, 2, 5, 50),
                                     (7, 200, 30, 129), (20, 10, 228, 1_000_000)])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_evaluate_matches_cpu_core_and_reference(be, q, n, K, M, dtype):
    if q > np.iinfo(dtype).max + 1:
        dtype = np.int64
    rng = np.random.default_rng(q + n + K)
    sf = random_series(rng, q, n, K)
    x = rng.integers(0, q, size=(M, n)).astype(dtype)
    got = sf.evaluate(be.to(x))
    assert be.is_kind(got) and tuple(got.shape) == (M,)
    out = be.get(got)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, sf.evaluate(x), atol=1e-10)
    if M <= 3000:
        np.testing.assert_allclose(out, sparse_series_ref(sf.frequencies, sf.values, q, x),
                                   atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(q=st.integers(2, 40), n=st.integers(1, 12), K=st.integers(0, 300),
       M=st.integers(0, 2100), seed=st.integers(0, 2**31))
def test_evaluate_hypothesis(q, n, K, M, seed):
    be = Backend(_available()[0])
    rng = np.random.default_rng(seed)
    sf = random_series(rng, q, n, K)
    x = rng.integers(0, q, size=(M, n))
    np.testing.assert_allclose(be.get(sf.evaluate(be.to(x))), sf.evaluate(x), atol=1e-9)


def test_evaluate_gb1_like_transform_r2(be, tmp_path):
    """A transform in the published GB1 format (tests/reproduction: the real one)."""
    path = tmp_path / "gb1.npz"
    gb1_like_surrogate(path, test_size=10_000)
    sf = SparseFourier.load(path, q=20)
    data = np.load(path)
    yhat = be.get(sf.evaluate(be.to(data["test_x"].astype(np.int64))))
    want = sparse_series_ref(sf.frequencies, sf.values, 20, data["test_x"])
    np.testing.assert_allclose(yhat, want, atol=1e-10)
    assert abs(r_squared(data["test_y"], yhat) - r_squared(data["test_y"], want)) < 1e-12


def test_evaluate_errors(be):
    sf = SparseFourier([[1, 2]], [1.0], q=3)
    with pytest.raises(ValueError, match=r"x\[1, 0\] = 3 is outside \[0, q=3\)"):
        sf.evaluate(be.to(np.array([[0, 0], [3, 0]])))
    with pytest.raises(ValueError, match=r"x\[0, 1\] = -1 is outside"):
        sf.evaluate(be.to(np.array([[0, -1]])))
    with pytest.raises(ValueError, match="x has n=3 sites per variant but this transform has n=2"):
        sf.evaluate(be.to(np.zeros((4, 3), np.int64)))


def test_evaluate_reuses_device_copies(be):
    if be.name == "numpy":
        pytest.skip("no device copies on the host")
    from plmscope.fourier import gpu

    sf = SparseFourier([[1, 2], [0, 1]], [1.0, 2j], q=3)
    x = be.to(np.array([[0, 1], [2, 2]]))
    first = be.get(sf.evaluate(x))
    cached = gpu._RESIDENT[sf]
    np.testing.assert_array_equal(be.get(sf.evaluate(x)), first)
    assert gpu._RESIDENT[sf] is cached and len(cached) == 1


# ---- similarity kernels ---------------------------------------------------------------------
# numpy references (float64) of cpp/include/plmscope/similarity.h's definitions.

def covariance_ref(x, shift):
    c = x.astype(np.float64) - shift
    return c.sum(axis=0), c.T @ c


def unit_sum_ref(x):
    x = x.astype(np.float64)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).sum(axis=0)


def pair_ref(x, pairs):
    x = x.astype(np.float64)
    a, b = x[pairs[:, 0]], x[pairs[:, 1]]
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return cos, ((a - b) ** 2).sum(1)


def _gpu_only(be):
    if be.name == "numpy":
        pytest.skip("the similarity entry points take device arrays only")


@pytest.mark.parametrize("n,d", [(1, 1), (37, 5), (300, 70), (1000, 130), (5000, 64), (257, 200)])
def test_covariance_accumulate_streams_chunks(be, n, d):
    _gpu_only(be)
    rng = np.random.default_rng(n + d)
    x = (rng.standard_normal((n, d)) * 2 + 3).astype(np.float32)
    shift = x[: max(1, n // 3)].astype(np.float64).mean(axis=0)
    s, S = be.to(np.zeros(d)), be.to(np.full((d, d), 7.0))  # lower triangle must stay 7
    half = n // 2
    for chunk in (x[:half], x[half:]):  # two chunks, accumulated
        isotropy_gpu.covariance_accumulate(be.to(chunk), be.to(shift), s, S)
    ref_s, ref_S = covariance_ref(x, shift)
    got_S = be.get(S)
    iu = np.triu_indices(d)
    np.testing.assert_allclose(be.get(s), ref_s, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(got_S[iu], ref_S[iu] + 7.0, rtol=1e-12, atol=1e-8)
    assert np.all(got_S[np.tril_indices(d, -1)] == 7.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unit_sum_accumulate(be, dtype):
    _gpu_only(be)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2049, 96)).astype(dtype)
    u = be.to(np.ones(96))
    isotropy_gpu.unit_sum_accumulate(be.to(x), u)
    np.testing.assert_allclose(be.get(u), unit_sum_ref(x) + 1.0, rtol=1e-12, atol=1e-10)
    x[3] = 0
    u0 = be.to(np.zeros(96))
    with pytest.raises(ValueError, match="row 3 has norm 0"):
        isotropy_gpu.unit_sum_accumulate(be.to(x), u0)
    np.testing.assert_array_equal(be.get(u0), np.zeros(96))  # untouched on failure


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,d,P", [(2, 1, 1), (50, 33, 500), (1000, 1024, 20_000), (5, 8, 0)])
def test_pair_similarity(be, dtype, n, d, P):
    _gpu_only(be)
    rng = np.random.default_rng(n + d + P)
    x = rng.standard_normal((n, d)).astype(dtype)
    pairs = rng.integers(0, n, size=(P, 2)).astype(np.int64)
    cos, sq = isotropy_gpu.pair_similarity(be.to(x), be.to(pairs))
    assert be.is_kind(cos) and be.is_kind(sq)
    ref_cos, ref_sq = pair_ref(x, pairs)
    np.testing.assert_allclose(be.get(cos), ref_cos, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(be.get(sq), ref_sq, rtol=1e-12, atol=1e-10)
    only_sq = isotropy_gpu.pair_similarity(be.to(x), be.to(pairs), cosine=False)
    assert only_sq[0] is None
    np.testing.assert_array_equal(be.get(only_sq[1]), be.get(sq))


def test_pair_similarity_errors(be):
    _gpu_only(be)
    x = np.ones((4, 3), np.float32)
    x[2] = 0
    with pytest.raises(ValueError, match=r"pairs\[1, 1\] = 4 is not a row index in \[0, n=4\)"):
        isotropy_gpu.pair_similarity(be.to(x), be.to(np.array([[0, 1], [1, 4]])))
    with pytest.raises(ValueError, match=r"pair 1 \(rows 1, 2\) has a row of norm 0"):
        isotropy_gpu.pair_similarity(be.to(x), be.to(np.array([[0, 1], [1, 2]])))
    _, sq = isotropy_gpu.pair_similarity(be.to(x), be.to(np.array([[1, 2]])), cosine=False)
    np.testing.assert_allclose(be.get(sq), [3.0])  # distances need no norm


def test_similarity_matches_cpu_core(be):
    _gpu_only(be)
    if not hasattr(_core, "pair_similarity"):
        pytest.skip("the CPU similarity kernels (cpp/src/similarity.cpp) are not in this build")
    rng = np.random.default_rng(12)
    x = rng.standard_normal((700, 130)).astype(np.float32)
    shift = x[:100].astype(np.float64).mean(axis=0)
    pairs = rng.integers(0, 700, size=(3000, 2)).astype(np.int64)
    s, S = np.zeros(130), np.zeros((130, 130))
    _core.covariance_accumulate(x, shift, s, S)
    gs, gS = be.to(np.zeros(130)), be.to(np.zeros((130, 130)))
    isotropy_gpu.covariance_accumulate(be.to(x), be.to(shift), gs, gS)
    iu = np.triu_indices(130)
    np.testing.assert_allclose(be.get(gS)[iu], S[iu], rtol=1e-5, atol=1e-4)  # CPU: float32 blocks
    np.testing.assert_allclose(be.get(gs), s, rtol=1e-9, atol=1e-9)
    u = np.zeros(130)
    _core.unit_sum_accumulate(x, u)
    gu = be.to(np.zeros(130))
    isotropy_gpu.unit_sum_accumulate(be.to(x), gu)
    np.testing.assert_allclose(be.get(gu), u, rtol=1e-10, atol=1e-10)
    cos, sq = _core.pair_similarity(x, pairs, True, True)
    gcos, gsq = isotropy_gpu.pair_similarity(be.to(x), be.to(pairs))
    np.testing.assert_allclose(be.get(gcos), cos, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(be.get(gsq), sq, rtol=1e-10, atol=1e-10)
