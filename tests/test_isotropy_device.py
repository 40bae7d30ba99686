"""plmscope.isotropy on GPU arrays: routing to the CUDA similarity kernels, where the sums live,
mixing host and GPU chunks, and the numbers against the host path.

Two kinds of device here (the ``be`` fixture):
* "emulated" (everywhere, CI included): tests/emulated_cuda.py's CuPy stand-in, whose device
  memory is host memory, and the ``_core.cuda_*`` entry points emulated in numpy on the raw
  pointers. It runs the Python layer's device paths end to end and logs every kernel call.
* "torch" / "cupy" (marked ``gpu``): real CUDA arrays and kernels, where this build has CUDA
  and a device is visible; skipped, visibly, elsewhere. On a GPU machine:
      PYTHONPATH=python python3 -m pytest -q -ra tests/test_isotropy_device.py
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import emulated_cuda
from plmscope import _core, _device
from plmscope.isotropy import (
    CovarianceAccumulator, IsotropyAccumulator, ResidueIsotropy, UnitSumAccumulator,
    effective_dims, isoscore, isoscore_star, mean_pairwise_cosine, pair_similarity,
    participation_ratio, summarize,
)
from reference_geometry import isoscore_ref, mean_pairwise_cosine_ref, pair_similarity_ref
from test_isotropy_residues import proteins

GPU_READY = _core.has_cuda() and _core.cuda_device_count() > 0


def _library_sees_gpu(name: str) -> bool:
    if not GPU_READY:
        return False
    try:
        if name == "torch":
            import torch

            return torch.cuda.is_available()
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - not installed, or without a usable CUDA
        return False


def _gpu_param(name):
    return pytest.param(name, marks=[
        pytest.mark.gpu,
        pytest.mark.skipif(not _library_sees_gpu(name),
                           reason=f"needs a CUDA build of plmscope, a visible CUDA device and "
                                  f"{name} with CUDA"),
    ])


class Backend:
    """Moves numpy arrays to one kind of device array and back."""

    def __init__(self, name, monkeypatch):
        self.name = name
        self.log = emulated_cuda.install(monkeypatch) if name == "emulated" else None

    @property
    def emulated(self) -> bool:
        return self.name == "emulated"

    def to(self, a, device: int = 0):
        a = np.ascontiguousarray(a)
        if self.emulated:
            return emulated_cuda.on_device(a, device)
        if self.name == "torch":
            import torch

            return torch.as_tensor(a, device=f"cuda:{device}")
        import cupy

        with cupy.cuda.Device(device):
            return cupy.asarray(a)

    def get(self, x) -> np.ndarray:
        return x.get() if self.name in ("emulated", "cupy") else x.detach().cpu().numpy()

    def is_kind(self, x) -> bool:
        return _device.library_of(x) == ("torch" if self.name == "torch" else "cupy")


@pytest.fixture(autouse=True)
def _automatic_device(monkeypatch):
    monkeypatch.delenv(_device.ENV_DEVICE, raising=False)  # the tests pick devices themselves


@pytest.fixture(params=["emulated", _gpu_param("torch"), _gpu_param("cupy")])
def be(request, monkeypatch):
    return Backend(request.param, monkeypatch)


@pytest.fixture
def emu(monkeypatch):
    return Backend("emulated", monkeypatch)


def anisotropic(n, d, seed, offset=3.0):
    rng = np.random.default_rng(seed)
    spectrum = np.exp(-np.arange(d) / max(1.0, d / 4))
    q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return rng.standard_normal((n, d)) * spectrum @ q + offset


# ---- the numbers: GPU (or emulated GPU) against the host -----------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_scores_match_the_host(be, dtype):
    X = anisotropic(3000, 48, seed=1).astype(dtype)
    exact = X.astype(np.float64)  # the same values; the GPU sums float32 rows in float64
    got = summarize(be.to(X))
    host = summarize(X)
    ref = summarize(exact)
    assert (got.n_points, got.dim) == (3000, 48)
    assert got.isoscore == pytest.approx(ref.isoscore, rel=1e-10)
    assert got.isoscore == pytest.approx(host.isoscore, rel=1e-6)  # host: float32 products
    assert got.isoscore == pytest.approx(isoscore_ref(exact), rel=1e-9)
    assert got.participation_ratio == pytest.approx(ref.participation_ratio, rel=1e-10)
    assert got.effective_dims == ref.effective_dims == host.effective_dims
    assert got.mean_cosine == pytest.approx(ref.mean_cosine, rel=1e-10, abs=1e-12)
    assert got.mean_cosine == pytest.approx(mean_pairwise_cosine_ref(exact), rel=1e-9)
    x = be.to(X)
    assert isoscore(x).score == pytest.approx(ref.isoscore, rel=1e-10)
    assert participation_ratio(x) == pytest.approx(ref.participation_ratio, rel=1e-10)
    assert effective_dims(x) == ref.effective_dims
    assert mean_pairwise_cosine(x).value == pytest.approx(ref.mean_cosine, rel=1e-10, abs=1e-12)
    star = isoscore_star(x, 0.3, 1.0)
    assert star.score == pytest.approx(isoscore_star(exact, 0.3, 1.0).score, rel=1e-10)
    c0 = np.cov(exact[:500].T)
    assert isoscore_star(x, 0.5, be.to(c0)).score == \
        pytest.approx(isoscore_star(exact, 0.5, c0).score, rel=1e-9)


def test_sums_stay_on_the_device_and_the_shift_is_the_cpus(be):
    X = anisotropic(5000, 20, seed=2, offset=100.0).astype(np.float32)
    gpu = IsotropyAccumulator().update(be.to(X))
    host = IsotropyAccumulator().update(X)
    assert gpu.covariance.on_gpu and gpu.cosine.on_gpu
    assert be.is_kind(gpu.covariance._sum) and be.is_kind(gpu.covariance._scatter)
    assert be.is_kind(gpu.cosine.unit_sum)
    # The mean of the first 4096 rows, rounded to float32: the same bits as on the host.
    np.testing.assert_array_equal(gpu.covariance._host_state()[0], host.covariance._shift)
    np.testing.assert_allclose(gpu.covariance.covariance(), np.cov(X.astype(np.float64).T),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gpu.covariance.mean, X.astype(np.float64).mean(0), rtol=1e-12)
    assert gpu.covariance.on_gpu  # reading results leaves the sums where they are


def test_streaming_chunks_equal_in_memory(be):
    X = anisotropic(2500, 30, seed=3).astype(np.float32)
    bounds = [0, 700, 700, 1601, 2500]  # an empty chunk too
    chunks = [be.to(X[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    streamed = summarize(iter(chunks))
    whole = summarize(be.to(X))
    ref = summarize(X.astype(np.float64))
    assert streamed.n_points == 2500
    assert streamed.isoscore == pytest.approx(whole.isoscore, rel=1e-12)
    assert streamed.isoscore == pytest.approx(ref.isoscore, rel=1e-10)
    assert streamed.mean_cosine == pytest.approx(ref.mean_cosine, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("order", ["host first", "device first"])
def test_mixed_host_and_device_chunks(be, order):
    X = anisotropic(2400, 24, seed=4).astype(np.float32)
    parts = np.array_split(X, 4)
    on_gpu = [1, 3] if order == "host first" else [0, 2]
    chunks = [be.to(p) if i in on_gpu else p for i, p in enumerate(parts)]
    acc = IsotropyAccumulator()
    for i, c in enumerate(chunks):
        acc.update(c)
        assert acc.covariance.on_gpu == (i >= on_gpu[0])  # on the GPU from its first chunk on
    ref = summarize(X.astype(np.float64))
    got = acc.summary()
    assert got.n_points == 2400
    assert got.isoscore == pytest.approx(ref.isoscore, rel=1e-6)  # a host chunk: float32 blocks
    assert got.mean_cosine == pytest.approx(ref.mean_cosine, rel=1e-10, abs=1e-12)
    np.testing.assert_array_equal(acc.covariance._host_state()[0],
                                  IsotropyAccumulator().update(parts[0]).covariance._shift)


def test_merge_and_pickle_download_to_the_host(be):
    X = anisotropic(3000, 16, seed=5).astype(np.float32)
    a = IsotropyAccumulator().update(be.to(X[:1000]))
    b = IsotropyAccumulator().update(X[1000:2000])
    c = IsotropyAccumulator().update(be.to(X[2000:]))
    restored = pickle.loads(pickle.dumps(c))
    assert not restored.covariance.on_gpu and not restored.cosine.on_gpu
    assert isinstance(restored.covariance._scatter, np.ndarray)
    assert c.covariance.on_gpu  # pickling copies; the original stays on the GPU
    a.merge(b).merge(restored)
    assert not a.covariance.on_gpu and not a.cosine.on_gpu
    ref = summarize(X.astype(np.float64))
    assert a.n_points == 3000
    assert a.isoscore().score == pytest.approx(ref.isoscore, rel=1e-6)
    assert a.mean_pairwise_cosine().value == pytest.approx(ref.mean_cosine, rel=1e-10,
                                                           abs=1e-12)
    empty = IsotropyAccumulator().merge(c)  # into an empty one: the other's sums, on the host
    assert empty.isoscore().score == pytest.approx(summarize(X[2000:].astype(float)).isoscore,
                                                   rel=1e-10)
    a.update(be.to(X[:10]))  # a later GPU chunk moves the merged sums back to the GPU
    assert a.covariance.on_gpu and a.n_points == 3010


def test_float64_rows_keep_float64_precision(be):
    # Rows that differ only beyond float32's precision: rounding them to float32 would
    # collapse them; the float64 path keeps the covariance to ~1e-12.
    rng = np.random.default_rng(6)
    X = 1.0 + rng.standard_normal((500, 6)) * 1e-9
    got = CovarianceAccumulator().update(be.to(X)).covariance()
    np.testing.assert_allclose(got, np.cov(X.T), rtol=1e-6, atol=1e-30)
    assert isoscore(be.to(X)).score == pytest.approx(isoscore(X).score, rel=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_pair_similarity_matches_the_host(be, dtype):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((300, 40)).astype(dtype)
    pairs = rng.integers(0, 300, size=(1000, 2))
    ref_cos, ref_sq = pair_similarity_ref(X, pairs)
    x = be.to(X)
    for p in (pairs, be.to(pairs), be.to(pairs.astype(np.int32))):
        cos, sq = pair_similarity(x, p)
        assert be.is_kind(cos) and be.is_kind(sq)
        np.testing.assert_allclose(be.get(cos), ref_cos, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(be.get(sq), ref_sq, rtol=1e-12)
    cos, sq = pair_similarity(x, pairs, device="cpu")  # on the host, back to X's kind
    assert be.is_kind(cos) and be.is_kind(sq)
    host_cos, host_sq = pair_similarity(X, pairs)
    np.testing.assert_array_equal(be.get(cos), host_cos)
    np.testing.assert_array_equal(be.get(sq), host_sq)
    cos, sq = pair_similarity(x, np.zeros((0, 2), np.int64))
    assert be.get(cos).shape == (0,) and be.get(sq).shape == (0,)


def test_errors_hold_on_the_device(be):
    with pytest.raises(ValueError, match=r"at least 2 point\(s\), got N=1"):
        isoscore(be.to(np.ones((1, 4), np.float32)))
    with pytest.raises(ValueError, match="a mean pairwise cosine needs at least 2 points"):
        mean_pairwise_cosine(be.to(np.ones((1, 4), np.float32)))
    with pytest.raises(ValueError, match="are all identical"):
        isoscore(be.to(np.full((10, 4), 2.5, np.float32)))
    X = np.random.default_rng(8).standard_normal((50, 5)).astype(np.float32)
    X[17] = 0
    with pytest.raises(ValueError, match=r"X chunk 1 \(its row 0 is point 10 overall\): row 7 "
                                         r"has norm 0"):
        summarize(iter([be.to(X[:10]), be.to(X[10:])]))
    with pytest.raises(ValueError, match=r"pair 1 \(rows 2, 17\) has a row of norm 0"):
        pair_similarity(be.to(X), np.array([[0, 1], [2, 17]]))
    with pytest.raises(ValueError, match=r"pairs\[1, 1\] = 50 is not a row index in \[0, n=50\)"):
        pair_similarity(be.to(X), np.array([[0, 1], [2, 50]]))
    X[17] = np.nan
    with pytest.raises(ValueError, match="hold NaN or infinite values"):
        isoscore(be.to(X))
    with pytest.raises(ValueError, match=r"row 17 has norm \S+ \(or non-finite\)|row 17 has norm"):
        mean_pairwise_cosine(be.to(X))
    with pytest.raises(ValueError, match=r"X must be a 2-D array of shape \(N points, d "
                                         r"dimensions\), got shape \(5,\)"):
        isoscore(be.to(np.ones(5, np.float32)))
    with pytest.raises(ValueError, match="X chunk 1 has d=3 columns but earlier rows had d=5"):
        isoscore(iter([be.to(X[:5, :]), be.to(np.ones((4, 3), np.float32))]))


def test_residue_isotropy_on_the_device(be):
    data = proteins(25, 10, seed=9)
    host, gpu, mixed = ResidueIsotropy(buffer_rows=64), ResidueIsotropy(buffer_rows=64), \
        ResidueIsotropy(buffer_rows=64)
    for i, (seq, emb) in enumerate(data):
        host.add(seq, emb)
        gpu.add(seq, be.to(emb))
        mixed.add(seq, be.to(emb) if i % 2 else emb)
    assert gpu.groups["all"].covariance.on_gpu
    expected = host.table().set_index("residues")
    for res in (gpu, mixed):
        table = res.table().set_index("residues")
        assert list(table.index) == list(expected.index)
        np.testing.assert_array_equal(table["n_points"], expected["n_points"])
        np.testing.assert_allclose(table["isoscore"], expected["isoscore"], rtol=1e-6,
                                   equal_nan=True)
        np.testing.assert_allclose(table["mean_cosine"], expected["mean_cosine"], rtol=1e-9,
                                   atol=1e-12, equal_nan=True)
        np.testing.assert_array_equal(table["effective_dims"], expected["effective_dims"])
        assert list(table["note"]) == list(expected["note"])


def test_device_cpu_brings_rows_to_the_host_and_cuda_uploads(be):
    X = anisotropic(800, 12, seed=10).astype(np.float32)
    on_host = summarize(be.to(X), device="cpu")
    assert on_host == summarize(X)  # the host path exactly
    uploaded = IsotropyAccumulator(device="cuda").update(X)
    assert uploaded.covariance.on_gpu
    assert uploaded.isoscore().score == pytest.approx(summarize(X.astype(float)).isoscore,
                                                      rel=1e-10)
    cos, sq = pair_similarity(X, [[0, 1], [2, 3]], device="cuda")
    assert isinstance(cos, np.ndarray) and isinstance(sq, np.ndarray)  # host in, host out
    np.testing.assert_allclose(cos, pair_similarity(X, [[0, 1], [2, 3]])[0], rtol=1e-12)


# ---- torch-only dtypes on a real GPU --------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.skipif(not _library_sees_gpu("torch"), reason="needs a CUDA build of plmscope, a "
                    "visible CUDA device and torch with CUDA")
def test_bfloat16_and_half_torch_tensors_are_converted_on_the_device():
    import torch

    X = torch.as_tensor(anisotropic(1000, 32, seed=11), dtype=torch.float32)
    for dtype in (torch.bfloat16, torch.float16):
        x = X.to(dtype)
        exact = x.float().numpy().astype(np.float64)
        got = summarize(x.cuda())
        assert got.isoscore == pytest.approx(summarize(exact).isoscore, rel=1e-10)
        assert got.isoscore == pytest.approx(summarize(x).isoscore, rel=1e-6)  # host path
        cos, _ = pair_similarity(x.cuda(), np.array([[0, 1], [5, 9]]))
        np.testing.assert_allclose(cos.cpu().numpy(),
                                   pair_similarity_ref(exact, np.array([[0, 1], [5, 9]]))[0],
                                   rtol=1e-12)


@pytest.mark.gpu
@pytest.mark.skipif(not (_library_sees_gpu("torch") and _library_sees_gpu("cupy")),
                    reason="needs torch with CUDA and CuPy on a CUDA build with a device")
def test_torch_and_cupy_chunks_share_one_accumulator():
    import cupy
    import torch

    X = anisotropic(1200, 16, seed=12).astype(np.float32)
    acc = IsotropyAccumulator().update(torch.as_tensor(X[:600], device="cuda"))
    acc.update(cupy.asarray(X[600:]))  # viewed as a torch tensor, no copy
    assert _device.library_of(acc.covariance._sum) == "torch"
    assert acc.isoscore().score == pytest.approx(summarize(X.astype(float)).isoscore, rel=1e-10)


# ---- routing (emulated device): which kernel gets which arguments -----------------------------

def test_device_rows_go_to_the_cuda_kernels_with_their_own_memory(emu):
    X = anisotropic(300, 8, seed=13).astype(np.float32)
    x = emu.to(X)
    acc = IsotropyAccumulator().update(x)
    (name_c, args_c), (name_u, args_u) = sorted(emu.log.calls)
    assert (name_c, name_u) == ("cuda_covariance_accumulate", "cuda_unit_sum_accumulate")
    cov = acc.covariance
    assert args_c == (emulated_cuda.address(x), 300, 8, emulated_cuda.address(cov._shift),
                      emulated_cuda.address(cov._sum), emulated_cuda.address(cov._scatter), 0, 1)
    assert args_u == (emulated_cuda.address(x), "float32", 300, 8,
                      emulated_cuda.address(acc.cosine.unit_sum), 0, 1)
    emu.log.clear()
    mean_pairwise_cosine(x)
    isoscore(x)
    assert sorted(emu.log.names()) == ["cuda_covariance_accumulate", "cuda_unit_sum_accumulate"]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(2, 60), d=st.integers(2, 9), cuts=st.lists(st.integers(0, 60), max_size=4),
       where=st.lists(st.booleans(), min_size=5, max_size=5), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_any_split_between_host_and_device_gives_the_host_numbers(emu, n, d, cuts, where, seed,
                                                                  dtype):
    X = (np.random.default_rng(seed).standard_normal((n, d)) + 1.5).astype(dtype)
    bounds = [0, *sorted(c for c in cuts if c <= n), n]  # empty chunks included
    chunks = [emu.to(X[a:b]) if on else X[a:b]
              for (a, b), on in zip(zip(bounds[:-1], bounds[1:]), where)]
    got = IsotropyAccumulator().update_all(iter(chunks))
    ref = IsotropyAccumulator().update(X.astype(np.float64))
    assert got.n_points == n
    np.testing.assert_allclose(got.covariance.covariance(), ref.covariance.covariance(),
                               rtol=1e-5, atol=1e-6)
    assert got.mean_pairwise_cosine().value == pytest.approx(
        ref.mean_pairwise_cosine().value, rel=1e-9, abs=1e-12)


def test_host_rows_stay_on_the_host_kernels(emu):
    X = anisotropic(300, 8, seed=14).astype(np.float32)
    import torch

    for data in (X, torch.as_tensor(X), iter([X[:100], X[100:]])):
        emu.log.clear()
        summarize(data)
        pair_similarity(X, [[0, 1]])
        assert emu.log.gpu() == [] and len(emu.log.host()) >= 3


def test_device_conversions(emu):
    X = anisotropic(200, 6, seed=15)
    x64 = emu.to(X)
    isoscore(x64)  # float64: the library's float64 products, not the float32 kernel
    assert emu.log.names() == []
    mean_pairwise_cosine(x64)
    assert emu.log.calls[0][1][1] == "float64" and emu.log.calls[0][1][0] == \
        emulated_cuda.address(x64)
    emu.log.clear()
    x16 = emu.to(X.astype(np.float16))
    isoscore(x16)
    (name, args), = emu.log.calls
    assert name == "cuda_covariance_accumulate" and args[0] != emulated_cuda.address(x16)
    xi = emu.to(np.arange(40).reshape(10, 4) % 7)  # integers: float64, as on the host
    assert isoscore(xi).score == pytest.approx(
        isoscore((np.arange(40).reshape(10, 4) % 7).astype(float)).score, rel=1e-12)
    emu.log.clear()
    strided = emulated_cuda.EmuArray(np.asfortranarray(X.astype(np.float32)), 0)
    isoscore(strided)  # made contiguous on the device first
    assert emu.log.calls[0][1][0] != emulated_cuda.address(strided)
    with pytest.raises(ValueError, match="X must hold real numbers, got dtype complex64"):
        isoscore(emu.to(np.ones((3, 2), np.complex64)))


def test_pair_similarity_arguments(emu):
    X = np.random.default_rng(16).standard_normal((30, 5)).astype(np.float32)
    x = emu.to(X)
    cos, sq = pair_similarity(x, np.array([[0, 1], [2, 3], [4, 29]], np.int32))
    (name, args), = emu.log.calls
    assert name == "cuda_pair_similarity"
    assert args[:4] == (emulated_cuda.address(x), "float32", 30, 5)
    assert args[5] == 3 and args[6] == emulated_cuda.address(cos) and \
        args[7] == emulated_cuda.address(sq) and args[8:] == (0, 1)
    with pytest.raises(ValueError, match=r"pairs must be an integer array of shape \(P, 2\)"):
        pair_similarity(x, emu.to(np.zeros((3, 3), np.int64)))
    with pytest.raises(ValueError, match="pairs must hold integer row indices, got dtype float32"):
        pair_similarity(x, emu.to(np.zeros((3, 2), np.float32)))
    with pytest.raises(ValueError, match=r"pairs is a CuPy array on cuda:1 but X is on cuda:0"):
        pair_similarity(x, emu.to(np.zeros((3, 2), np.int64), device=1))


def test_mixed_chunks_upload_host_rows_once_the_sums_are_on_the_gpu(emu):
    X = anisotropic(400, 8, seed=17).astype(np.float32)
    acc = CovarianceAccumulator()
    acc.update(X[:100])
    assert emu.log.names() == ["covariance_accumulate"] and not acc.on_gpu
    acc.update(emu.to(X[100:200]))
    acc.update(X[200:])
    assert emu.log.names() == ["covariance_accumulate"] + ["cuda_covariance_accumulate"] * 2
    assert acc.on_gpu and acc.n_points == 400


def test_device_cpu_routes_device_rows_to_the_host_kernels(emu, monkeypatch):
    X = anisotropic(100, 8, seed=18).astype(np.float32)
    summarize(emu.to(X), device="cpu")
    pair_similarity(emu.to(X), [[0, 1]], device="cpu")
    res = ResidueIsotropy(device="cpu")
    res.add("ACDEF", emu.to(X[:5]))
    res.table()
    assert emu.log.gpu() == []
    assert set(emu.log.names()) == {"covariance_accumulate", "unit_sum_accumulate",
                                     "pair_similarity"}
    emu.log.clear()
    monkeypatch.setenv(_device.ENV_DEVICE, "cpu")  # the environment overrides "auto" too
    summarize(emu.to(X))
    assert sorted(emu.log.names()) == ["covariance_accumulate", "unit_sum_accumulate"]
    monkeypatch.setenv(_device.ENV_DEVICE, "cuda")
    emu.log.clear()
    summarize(X)
    assert sorted(emu.log.names()) == ["cuda_covariance_accumulate", "cuda_unit_sum_accumulate"]


def test_residue_isotropy_keeps_device_rows_on_the_device(emu):
    res = ResidueIsotropy(buffer_rows=10)
    for seq, emb in proteins(6, 4, seed=19):
        res.add(seq, emu.to(emb))
    res.table()
    assert emu.log.host() == [] and len(emu.log.gpu()) > 0


def test_rows_on_another_device_are_refused(emu):
    X = np.ones((4, 3), np.float32) + np.arange(12).reshape(4, 3)
    acc = IsotropyAccumulator().update(emu.to(X, device=0))
    with pytest.raises(ValueError, match=r"chunk is on cuda:1 but the earlier rows were summed "
                                         r"on cuda:0: move it with x.to\('cuda:0'\)"):
        acc.update(emu.to(X, device=1))
    with pytest.raises(ValueError, match=r"X is on cuda:1 but device='cuda:0'"):
        isoscore(emu.to(X, device=1), device="cuda:0")
    on_one = IsotropyAccumulator(device="cuda:1").update(X)  # host rows uploaded to cuda:1
    assert emulated_cuda.EmuArray is type(on_one.covariance._sum)
    assert on_one.covariance._sum.device.id == 1
    merged = IsotropyAccumulator().update(emu.to(X, device=0)).merge(on_one)  # via the host
    assert merged.n_points == 8 and not merged.covariance.on_gpu


def test_bad_device_arguments_fail_at_construction():
    for make in (CovarianceAccumulator, UnitSumAccumulator, IsotropyAccumulator,
                 ResidueIsotropy):
        with pytest.raises(ValueError, match=r"device='tpu' is not a device"):
            make(device="tpu")
    with pytest.raises(ValueError, match=r"device='tpu' is not a device"):
        isoscore(np.ones((3, 2)), device="tpu")


# ---- builds and machines without a GPU ---------------------------------------------------------

def _public_calls(x):
    return [
        lambda: isoscore(x), lambda: isoscore_star(x, 0.5, 1.0), lambda: summarize(x),
        lambda: mean_pairwise_cosine(x), lambda: effective_dims(x),
        lambda: participation_ratio(x), lambda: pair_similarity(x, [[0, 1]]),
        lambda: ResidueIsotropy().add("ACD", x), lambda: CovarianceAccumulator().update(x),
        lambda: UnitSumAccumulator().update(x),
    ]


@pytest.mark.parametrize("has_cuda,count,message", [
    (False, 0, (r"X \(a CuPy array on cuda:0\) needs the GPU, but this build of plmscope has "
                r"no CUDA kernels: rebuild with PLMSCOPE_ENABLE_CUDA=ON .*or pass device='cpu'")),
    (True, 0, r"no CUDA device is visible to this process .*or pass device='cpu'"),
])
def test_gpu_rows_without_cuda_say_what_to_do(monkeypatch, has_cuda, count, message):
    monkeypatch.setattr(_core, "has_cuda", lambda: has_cuda, raising=False)
    monkeypatch.setattr(_core, "cuda_device_count", lambda: count, raising=False)
    x = emulated_cuda.on_device(np.arange(9.0).reshape(3, 3))
    for call in _public_calls(x):
        with pytest.raises(ValueError, match=message.replace("X \\(", "\\S+ \\(")):
            call()
    with pytest.raises(_device.CudaUnavailableError):  # a ValueError that says why
        isoscore(x)
    with pytest.raises(ValueError, match=r"device='cuda' needs the GPU"):
        isoscore(np.ones((3, 2)), device="cuda")
    # ... and device="cpu" computes on the host instead.
    assert isoscore(x, device="cpu").score == isoscore(np.arange(9.0).reshape(3, 3)).score
    assert mean_pairwise_cosine(x, device="cpu").value == \
        mean_pairwise_cosine(np.arange(9.0).reshape(3, 3)).value


@pytest.mark.skipif(_core.has_cuda(), reason="this is a CUDA build: the test above covers its "
                                              "message with has_cuda patched")
def test_this_cpu_only_build_refuses_gpu_rows():
    x = emulated_cuda.on_device(np.arange(9.0).reshape(3, 3))
    with pytest.raises(ValueError, match="no CUDA kernels: rebuild with PLMSCOPE_ENABLE_CUDA=ON"):
        summarize(x)


def test_other_cuda_arrays_are_refused_with_advice():
    class Foreign:
        @property
        def __cuda_array_interface__(self):
            return {"shape": (4, 2), "typestr": "<f4", "data": (1, False), "version": 2}

    with pytest.raises(ValueError, match="convert with cupy.asarray"):
        isoscore(Foreign())
