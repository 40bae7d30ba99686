"""The plain baselines the benchmarks time plmscope against compute what plmscope computes,
so a ratio in a bench table compares two ways to the same answer. bench/bench_gpu.py's
baselines take tensors on any device; here they run on CPU tensors against the CPU core.
No timing anywhere."""
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from plmscope import _core
from plmscope.fourier import qary_fft
from plmscope.isotropy import pair_similarity

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
import bench_distributed  # noqa: E402
import bench_gpu  # noqa: E402


def random(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if np.issubdtype(dtype, np.complexfloating):
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


# -- qary_fft's peers -----------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 5, 11])
@pytest.mark.parametrize("batch", [(), (3,)])
@pytest.mark.parametrize("inverse", [False, True])
def test_torch_butterfly_is_the_real_walsh_hadamard_transform(n, batch, inverse):
    x = random(batch + (2**n,), np.float64, seed=n)
    got = bench_gpu.torch_wht(torch.from_numpy(x), inverse=inverse)
    assert got.dtype == torch.float64 and got.shape == x.shape
    np.testing.assert_allclose(got.numpy(), qary_fft(x, 2, inverse=inverse, real=True),
                               rtol=1e-12, atol=1e-12)


def test_torch_butterfly_leaves_its_input_and_keeps_float32():
    x = random((2, 2**8), np.float32, seed=1)
    tensor = torch.from_numpy(x.copy())
    got = bench_gpu.torch_wht(tensor)
    np.testing.assert_array_equal(tensor.numpy(), x)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), qary_fft(x, 2, real=True), rtol=1e-5, atol=1e-6)


def test_torch_butterfly_on_complex_input_is_the_q2_transform():
    x = random((4, 2**6), np.complex128, seed=2)
    got = bench_gpu.torch_wht(torch.from_numpy(x))
    np.testing.assert_allclose(got.numpy(), qary_fft(x, 2), rtol=1e-12, atol=1e-12)


# q = 3 and 20 with n >= 2 fix the index order: reversed or transposed sites give another
# answer for random input.
@pytest.mark.parametrize("q,n", [(2, 1), (2, 7), (2, 12), (3, 1), (3, 2), (3, 4), (3, 5),
                                 (20, 1), (20, 2), (20, 3)])
@pytest.mark.parametrize("inverse", [False, True])
def test_torch_fftn_over_the_sites_is_qary_fft(q, n, inverse):
    x = random((2, q**n), np.complex128, seed=q * 10 + n)
    got = bench_gpu.torch_fftn(torch.from_numpy(x), q, inverse=inverse)
    assert got.shape == x.shape
    np.testing.assert_allclose(got.numpy(), qary_fft(x, q, inverse=inverse),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("q,n", [(20, 2), (2, 12)])
def test_torch_fftn_on_complex64_keeps_single_precision(q, n):
    x = random((3, q**n), np.complex64, seed=5)
    got = bench_gpu.torch_fftn(torch.from_numpy(x), q)
    assert got.dtype == torch.complex64
    np.testing.assert_allclose(got.numpy(), qary_fft(x, q), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("q,n", [(2, 1), (3, 4), (20, 1), (20, 3)])
def test_numpy_style_fftn_is_qary_fft(q, n):
    """xp_fftn is the cupy.fft peer; numpy.fft has the same API."""
    x = random((2, q**n), np.complex128, seed=n)
    np.testing.assert_allclose(bench_gpu.xp_fftn(np.fft, x, q), qary_fft(x, q),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bench_gpu.xp_fftn(np.fft, x, q, inverse=True),
                               qary_fft(x, q, inverse=True), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("length,q", [(12, 2), (400, 3), (21, 20)])
def test_baselines_reject_a_length_that_is_no_power_of_q(length, q):
    x = torch.zeros(length, dtype=torch.complex128)
    with pytest.raises(ValueError, match="q\\*\\*n"):
        bench_gpu.torch_fftn(x, q)
    with pytest.raises(ValueError, match="q\\*\\*n"):
        bench_gpu.xp_fftn(np.fft, x.numpy(), q)
    if q == 2:
        with pytest.raises(ValueError, match="q\\*\\*n"):
            bench_gpu.torch_wht(x.real)


# -- the similarity peers, and plmscope's covariance formed from its sums ------------------

def test_torch_pair_cosine_in_chunks_is_plmscope_pair_similarity():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 16)).astype(np.float32)
    pairs = rng.integers(0, 50, size=(37, 2)).astype(np.int64)
    got = bench_gpu.torch_pair_cosine(torch.from_numpy(x), torch.from_numpy(pairs), chunk=10)
    cosine, _ = pair_similarity(x, pairs, nthreads=1)
    np.testing.assert_allclose(got.numpy(), cosine, rtol=1e-5, atol=1e-6)


def test_covariances_of_both_sides_are_numpy_cov():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((300, 8)) * 2 + 1).astype(np.float32)
    shift = x[:20].astype(np.float64).mean(0)
    want = np.cov(x.astype(np.float64), rowvar=False)
    peer = bench_gpu.torch_covariance64(torch.from_numpy(x), torch.from_numpy(shift))
    np.testing.assert_allclose(peer.numpy(), want, rtol=1e-10, atol=1e-12)
    s, S = np.zeros(8), np.zeros((8, 8))
    _core.covariance_accumulate(x, shift, s, S, 1)  # the upper triangle, float32 blocks
    ours = bench_gpu.covariance_from_sums(torch.from_numpy(s), torch.from_numpy(S), len(x))
    np.testing.assert_allclose(ours.numpy(), want, rtol=1e-5, atol=1e-5)


# -- the plain Ray loop of bench_distributed ------------------------------------------------

class RowSums:
    """A picklable oracle whose answers tell the shards apart (workers import this module)."""

    def __call__(self, x):
        return np.asarray(x, dtype=np.float64).sum(axis=1)


@pytest.fixture(scope="module", autouse=True)
def bench_on_worker_path():
    """Ray workers import bench_distributed (the actor class) by name: bench/ goes on the
    PYTHONPATH that the ray_cluster fixture hands to them (autouse: set before it)."""
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(BENCH)] + ([saved] if saved else []))
    yield
    if saved is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = saved


def test_plain_ray_names_the_loops_it_knows():
    with pytest.raises(ValueError, match="loop must be 'pool' or 'wait'"):
        bench_distributed.PlainRay(None, loop="actorpool")


@pytest.mark.slow  # starts a Ray cluster
@pytest.mark.parametrize("loop", ["pool", "wait"])
def test_plain_ray_loops_answer_every_shard_once_and_reuse_their_actors(ray_cluster, loop):
    got = {}

    def collect(index, values):
        assert index not in got
        got[index] = np.asarray(values)

    with bench_distributed.PlainRay(ray_cluster, num_actors=2, num_cpus=0.5, loop=loop) as plain:
        for num in (7, 3):  # the second run on the actors the first started
            tasks = bench_distributed.tasks_of(num, 13, seed=num)
            got.clear()
            plain.run(RowSums(), tasks, collect)
            assert sorted(got) == [index for index, _ in tasks]
            for index, variants in tasks:
                np.testing.assert_array_equal(got[index], RowSums()(variants))
            assert len(plain.actors) == 2
    assert plain.actors == []
