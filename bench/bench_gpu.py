"""GPU kernels against the device's memory bandwidth, the published libraries and plain torch.

1. qary_fft, q = 20 / n = 5 / batch 64 and q = 2 / n = 26 (complex64; also complex128 and
   the real float32 Walsh-Hadamard path). Kernel: the in-place transform's effective
   bandwidth, 2 x bytes / time (each value read and written once), against a
   device-to-device copy of the same bytes measured in the same run (target >= 60% of the
   copy's bandwidth); "passes" is how many times the kernels stream the array (shared-memory
   tiles hold a few digits each), and pass_bw = passes x 2 x bytes / time is the bandwidth
   the passes achieve. Forward and inverse alternate, so the data neither vanish nor
   overflow. API: ``qary_fft(tensor, q)``, the call a user makes (out of place: the output
   allocation and the copy included), api_ms.
   Peers, all out of place on the same input tensor and checked against qary_fft's output
   (peer_rel_err): ``torch.fft.fftn`` over the n length-q axes (complex cases, norm="forward",
   qary_fft's scaling), a plain torch butterfly for q = 2 (one add and one subtract per
   stage on a (..., 2, h) view, ping-ponging between two buffers, then the 2^-n scale: the
   torch form of bench_fft's numpy_wht) and, when CuPy is installed, ``cupy.fft.fftn``
   over the n axes (the published library). vs_api = peer time / api time is the speed-up a
   user sees; vs_kernel = peer time / in-place kernel time is the kernel's alone. The
   baselines are module-level functions of any torch tensor (or numpy/CuPy array), so
   tests/test_bench_baselines.py checks them on the CPU.
2. Pair-list cosine over 10^7 pairs of 1024-d float32 rows, and the covariance of
   10^6 x 1024 float32: against torch (float32, and float64 for the covariance, which is
   what plmscope accumulates in). Every side returns what the user asked for (plmscope's
   covariance formed from its sums inside the timing).
3. End-to-end q-SFT at the paper's configuration (q = 20, n = 10, b = 4, C = 2, NSO delays
   with 2 repeats: 7,040,000 queries) with the surrogate oracle of the published GB1
   transform, once with everything on the CPU and once with PLMSCOPE_DEVICE=cuda (the
   oracle's evaluate and the transforms on the GPU), both inside ``pinned_threads`` at all
   cores (recover's nthreads the same): the median over --trials warm runs of every phase
   recover times (design, de-duplication, oracle, transform, decode, refine; regress when
   its decoder="auto" picks it), of all of them but the oracle's answers (what plmscope
   itself costs; target under 1 s) and of the whole wall time. Needs plmscope.fourier.qsft
   and the published transform under PLMSCOPE_DATA; reported as skipped without them.

Fixed seeds; every side of every comparison is timed the same way: 2 warm-up runs, then the
median of --trials (>= 3) timings, each ended by a device synchronise (the in-place kernel:
a forward and an inverse per timing, halved; the --sweep of launch shapes: 1 warm-up and
max(3, trials / 2) timings).
Run on a GPU machine with a CUDA build (PLMSCOPE_ENABLE_CUDA=ON), torch and (optional) CuPy:
    PYTHONPATH=python python3 bench/bench_gpu.py [--trials 10] [--skip-qsft] [--sweep]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import machine_line, median_time, pinned_threads, print_table  # noqa: E402

import plmscope  # noqa: E402
from plmscope._checks import qary_log  # noqa: E402
from plmscope import _core  # noqa: E402
from plmscope.isotropy import gpu as isotropy_gpu  # noqa: E402
from plmscope.fourier import SparseFourier, qary_fft  # noqa: E402

SHARED = Path(os.environ.get("PLMSCOPE_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data"))
ROOT_BYTES = 32 * 16  # the FFT kernel's root table (cuda/qary_fft_tile.h fft_shared_bytes)
WARMUP = 2  # runs before the timed ones, the same for every side (cuFFT plans, allocator)


# -- baselines: plain code a competent user would write, for any device -------------------

def torch_fftn(x, q: int, inverse: bool = False):
    """qary_fft by torch.fft over the n sites: the last axis viewed as (q,) * n in C order
    (most significant site first, qary_fft's index order); norm="forward" puts q^-n on the
    forward transform and nothing on the inverse, as qary_fft does. Out of place. The axes
    go three at a time: cuFFT's largest rank (torch splits the same way on CUDA), and MKL
    refuses a dozen length-2 axes in one call on the CPU."""
    import torch

    n = qary_log(x.shape[-1], q)
    y = x.reshape(tuple(x.shape[:-1]) + (q,) * n)
    transform = torch.fft.ifftn if inverse else torch.fft.fftn
    for first in range(-n, 0, 3):
        y = transform(y, dim=tuple(range(first, min(first + 3, 0))), norm="forward")
    return y.reshape(x.shape)


def xp_fftn(fft, x, q: int, inverse: bool = False):
    """The same with a numpy-style FFT module: ``cupy.fft`` on the GPU (``numpy.fft`` in
    the tests, the same API)."""
    n = qary_log(x.shape[-1], q)
    grid = x.reshape(tuple(x.shape[:-1]) + (q,) * n)
    transform = fft.ifftn if inverse else fft.fftn
    return transform(grid, axes=tuple(range(-n, 0)), norm="forward").reshape(x.shape)


def torch_wht(x, inverse: bool = False):
    """Walsh-Hadamard transform (qary_fft with q = 2, real=True for real x) as a plain
    torch butterfly: per stage one add and one subtract on (..., 2, h) views, written into
    a second buffer (no temporary copy), then the 2^-n scale on the forward transform.
    Out of place; the dtype of x is kept."""
    import torch

    n = qary_log(x.shape[-1], 2)
    y = x.clone(memory_format=torch.contiguous_format)
    spare = torch.empty_like(y)
    h = 1
    while h < y.shape[-1]:
        v, w = y.view(-1, 2, h), spare.view(-1, 2, h)
        torch.add(v[:, 0], v[:, 1], out=w[:, 0])
        torch.sub(v[:, 0], v[:, 1], out=w[:, 1])
        y, spare = spare, y
        h *= 2
    return y if inverse else y.mul_(0.5 ** n)


def torch_pair_cosine(x, pairs, chunk: int = 1_000_000):
    """Cosine of rows pairs[:, 0] and pairs[:, 1] of x, with torch's cosine_similarity on
    gathered rows in chunks of pairs (all gathered rows at once would not fit: 80 GB for
    10^7 pairs of 1024-d float32)."""
    import torch

    out = torch.empty(len(pairs), dtype=x.dtype, device=x.device)
    for s in range(0, len(pairs), chunk):
        p = pairs[s:s + chunk]
        out[s:s + chunk] = torch.nn.functional.cosine_similarity(x[p[:, 0]], x[p[:, 1]])
    return out


def torch_covariance64(x, shift):
    """Covariance of the rows of x (divided by N - 1) in float64 about a shift near the
    mean (against cancellation), with one matrix product: the float64 peer."""
    import torch

    xc = x.double() - shift
    total = xc.sum(0)
    return (xc.T @ xc - torch.outer(total, total) / x.shape[0]) / (x.shape[0] - 1)


def covariance_from_sums(s, S, N: int):
    """The covariance from plmscope's sums about the shift (S: upper triangle filled):
    C = (S - s s^T / N) / (N - 1)."""
    import torch

    S = torch.triu(S) + torch.triu(S, 1).T
    return (S - torch.outer(s, s) / N) / (N - 1)


# -- the benchmarks -----------------------------------------------------------------------

def require_gpu():
    if not plmscope.has_cuda():
        sys.exit("bench_gpu: this build of plmscope has no CUDA kernels; rebuild with "
                 "PLMSCOPE_ENABLE_CUDA=ON (cmake -DPLMSCOPE_ENABLE_CUDA=ON ...) and run on a GPU "
                 "machine")
    if _core.cuda_device_count() == 0:
        sys.exit("bench_gpu: no CUDA device is visible to this process; run it on a GPU machine")
    try:
        import torch
    except ImportError:
        sys.exit("bench_gpu: needs torch with CUDA (the peers and the timers use it)")
    if not torch.cuda.is_available():
        sys.exit("bench_gpu: torch cannot see the GPU (a CPU build of torch?)")
    return torch


def gpu_time(fn, sync, trials):
    """Median seconds of fn() followed by a device synchronise, after WARMUP runs."""
    return median_time(lambda: (fn(), sync()), trials, warmup=WARMUP)


def rel_err(torch, got, ref):
    got = torch.as_tensor(got, device=ref.device)
    return float((got - ref).abs().max() / ref.abs().max())


def fft_passes(q, n, itemsize, tile_bytes):
    """Passes of the plan in cuda/qary_fft_tile.h (plan_qary_fft), for the table."""
    capacity = (tile_bytes - ROOT_BYTES) // itemsize
    min_width = max(1, 32 // itemsize)
    d, stride, passes = 0, 1, 0
    while d < n:
        width = 1
        while stride > 1 and width * 2 <= min(stride, min_width):
            width *= 2
        g, span = 0, 1
        while d + g < n and span * q * width <= capacity:
            span *= q
            g += 1
        g, span = (g, span) if g else (1, q)
        d, stride, passes = d + g, stride * span, passes + 1
    return passes


def auto_tile_bytes(optin):
    return 128 * 1024 + 512 if optin >= 128 * 1024 + 512 else min(64 * 1024 + 512, optin)


def fft_peers(torch, q, real, cupy):
    """(name, fn) of the peers of one FFT case; fn takes the input tensor."""
    peers = []
    if not real:
        peers.append(("torch.fft.fftn", lambda x: torch_fftn(x, q)))
    if q == 2:
        peers.append(("torch butterfly", torch_wht))
    if cupy is not None:
        peers.append(("cupy.fft.fftn", lambda x: xp_fftn(cupy.fft, cupy.asarray(x), q)))
    return peers


def bench_fft(torch, trials, sweep):
    try:
        import cupy
    except ImportError:
        cupy = None
    props = torch.cuda.get_device_properties(0)
    optin = props.shared_memory_per_block_optin
    rng = np.random.default_rng(0)
    sync = torch.cuda.synchronize  # the whole device: CuPy's streams too
    cases = [("q=20 n=5 batch=64", 20, 5, 64, np.complex64),
             ("q=2 n=26", 2, 26, 1, np.complex64),
             ("q=2 n=26 real WHT", 2, 26, 1, np.float32),
             ("q=20 n=5 batch=64", 20, 5, 64, np.complex128)]
    rows, peer_rows, sweeps = [], [], []
    for label, q, n, batch, dtype in cases:
        real = not np.issubdtype(dtype, np.complexfloating)
        shape = (batch, q**n)
        host = rng.standard_normal(shape, dtype=np.float32)
        if not real:
            host = host + 1j * rng.standard_normal(shape, dtype=np.float32)
        host = host.astype(dtype)
        data = torch.from_numpy(host).cuda()
        nbytes = data.numel() * data.element_size()
        stream = torch.cuda.current_stream().cuda_stream
        name = np.dtype(dtype).name
        case = f"{label} {name}"

        def run(inverse, tile_bytes=0, chunk_bytes=0, threads=0, data=data):
            _core.cuda_qary_fft(data.data_ptr(), name, batch, q, n, inverse, 0, stream,
                                tile_bytes, chunk_bytes, threads)

        # Correctness of this very launch shape on the first row, against the CPU core.
        first = host[:1]
        run(False)
        sync()
        err = float(np.abs(data[:1].cpu().numpy() - qary_fft(first, q, real=real)).max())
        scale = float(np.abs(qary_fft(first, q, real=real)).max())
        run(True)
        t = median_time(lambda: (run(False), run(True), sync()), trials, warmup=WARMUP) / 2
        src = torch.empty_like(data).copy_(data)
        dst = torch.empty_like(data)
        t_copy = gpu_time(lambda: dst.copy_(src), sync, trials)
        src = dst = None  # free before the next allocation
        # The API and every peer: out of place, on one input tensor, timed alike.
        data.copy_(torch.from_numpy(host))
        ref = qary_fft(data, q, real=real)
        t_api = gpu_time(lambda: qary_fft(data, q, real=real), sync, trials)
        for peer, fn in fft_peers(torch, q, real, cupy):
            try:
                peer_err = rel_err(torch, fn(data), ref)
                t_peer = gpu_time(lambda: fn(data), sync, trials)
            except Exception as e:  # noqa: BLE001 - a peer that cannot do it is reported, not fatal
                print(f"{peer} failed for {case}: {type(e).__name__}: {e}")
                continue
            finally:
                if cupy is not None:
                    cupy.get_default_memory_pool().free_all_blocks()
            peer_rows.append({"case": case, "peer": peer, "peer_ms": t_peer * 1e3,
                              "api_ms": t_api * 1e3, "vs_api": t_peer / t_api,
                              "kernel_ms": t * 1e3, "vs_kernel": t_peer / t,
                              "peer_rel_err": peer_err})
        ref = None
        passes = fft_passes(q, n, np.dtype(dtype).itemsize, auto_tile_bytes(optin))
        bw = 2 * nbytes / t / 1e9
        copy_bw = 2 * nbytes / t_copy / 1e9
        rows.append({
            "case": case, "GB": nbytes / 1e9, "kernel_ms": t * 1e3, "GB/s": bw,
            "copy_GB/s": copy_bw, "vs_copy": bw / copy_bw, "passes": passes,
            "pass_vs_copy": passes * bw / copy_bw, "api_ms": t_api * 1e3,
            "rel_err": err / scale,
        })
        if sweep:
            for tile_bytes in (16 * 1024 + 512, 48 * 1024, 64 * 1024 + 512, 96 * 1024 + 512,
                               128 * 1024 + 512, 192 * 1024 + 512):
                if tile_bytes > optin:
                    continue
                for threads in (128, 256, 512):
                    for chunk in (0, -1):
                        ts = median_time(lambda: (run(False, tile_bytes, chunk, threads),
                                                  run(True, tile_bytes, chunk, threads), sync()),
                                         max(3, trials // 2), warmup=1) / 2
                        sweeps.append({"case": case, "tile_bytes": tile_bytes,
                                       "threads": threads, "chunk": "0.6 L2" if chunk == 0 else "off",
                                       "passes": fft_passes(q, n, np.dtype(dtype).itemsize,
                                                            tile_bytes),
                                       "ms": ts * 1e3, "vs_copy": (2 * nbytes / ts) / (copy_bw * 1e9)})
        data = None
        torch.cuda.empty_cache()
    print("\nqary_fft kernel (in place; vs_copy target >= 0.6) and API call qary_fft(tensor, q) "
          "(out of place)")
    print_table(rows, ["case", "GB", "kernel_ms", "GB/s", "copy_GB/s", "vs_copy", "passes",
                       "pass_vs_copy", "api_ms", "rel_err"])
    print("\npeers, out of place on the same tensor (vs_api = peer time / api time: what a user "
          "gains; vs_kernel = peer time / in-place kernel time)")
    print_table(peer_rows, ["case", "peer", "peer_ms", "api_ms", "vs_api", "kernel_ms",
                            "vs_kernel", "peer_rel_err"])
    if cupy is None:
        print("cupy: not installed - no cupy.fft.fftn peer in this run")
    if sweeps:
        print("\nlaunch-shape sweep (tile_bytes, threads, L2 chunking)")
        print_table(sweeps, ["case", "tile_bytes", "threads", "chunk", "passes", "ms", "vs_copy"])


def bench_similarity(torch, trials):
    sync = torch.cuda.synchronize
    gen = torch.Generator(device="cuda").manual_seed(0)
    rows = []
    # Pair-list cosine: 10^7 pairs of rows of a 10^5 x 1024 float32 matrix.
    N, d, P = 100_000, 1024, 10_000_000
    x = torch.randn(N, d, device="cuda", generator=gen)
    pairs = torch.randint(0, N, (P, 2), device="cuda", generator=gen, dtype=torch.int64)
    def ours():
        return isotropy_gpu.pair_similarity(x, pairs, cosine=True, sqdist=False)[0]

    def peer():
        return torch_pair_cosine(x, pairs)

    err = float((ours() - peer().double()).abs().max())
    t_ours = gpu_time(ours, sync, trials)
    t_peer = gpu_time(peer, sync, trials)
    rows.append({"case": "pair cosine 1e7 x 1024", "plmscope_ms": t_ours * 1e3,
                 "torch_ms": t_peer * 1e3, "vs_torch": t_peer / t_ours,
                 "GB/s": P * 2 * d * 4 / t_ours / 1e9, "max_abs_diff": err})
    x = pairs = None
    torch.cuda.empty_cache()

    # Covariance of 10^6 x 1024 float32 rows.
    N = 1_000_000
    x = torch.randn(N, d, device="cuda", generator=gen) * 2 + 1
    shift = x[:10_000].double().mean(0)

    def ours_cov():  # the sums, then the covariance the user asked for
        s = torch.zeros(d, dtype=torch.float64, device="cuda")
        S = torch.zeros(d, d, dtype=torch.float64, device="cuda")
        isotropy_gpu.covariance_accumulate(x, shift, s, S)
        return covariance_from_sums(s, S, N)

    peer32 = lambda: torch.cov(x.T)  # noqa: E731
    peer64 = lambda: torch_covariance64(x, shift)  # noqa: E731
    ref = peer64()
    err = float((ours_cov() - ref).abs().max() / ref.abs().max())
    err32 = float((peer32().double() - ref).abs().max() / ref.abs().max())
    ref = None
    t_ours = gpu_time(ours_cov, sync, trials)
    t_32 = gpu_time(peer32, sync, trials)
    t_64 = gpu_time(peer64, sync, trials)
    rows.append({"case": "covariance 1e6 x 1024 vs torch.cov fp32", "plmscope_ms": t_ours * 1e3,
                 "torch_ms": t_32 * 1e3, "vs_torch": t_32 / t_ours,
                 "GFLOP/s": N * d * (d + 1) / t_ours / 1e9, "max_abs_diff": err32})
    rows.append({"case": "covariance 1e6 x 1024 vs torch fp64", "plmscope_ms": t_ours * 1e3,
                 "torch_ms": t_64 * 1e3, "vs_torch": t_64 / t_ours,
                 "GFLOP/s": N * d * (d + 1) / t_ours / 1e9, "max_abs_diff": err})
    print("\nsimilarity (vs_torch = torch time / plmscope time; max_abs_diff: relative for the "
          "covariance, against float64)")
    print_table(rows, ["case", "plmscope_ms", "torch_ms", "vs_torch", "GB/s", "GFLOP/s",
                       "max_abs_diff"])


@contextlib.contextmanager
def device_env(where):
    """PLMSCOPE_DEVICE=where for the block, restored after."""
    previous = os.environ.get("PLMSCOPE_DEVICE")
    os.environ["PLMSCOPE_DEVICE"] = where
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PLMSCOPE_DEVICE", None)
        else:
            os.environ["PLMSCOPE_DEVICE"] = previous


# Every phase recover times (Recovery.timings; regress only with decoder="regress").
QSFT_PHASES = ("design", "dedup", "oracle", "transform", "decode", "refine", "regress")


def bench_qsft(trials, devices=("cpu", "cuda")):
    try:
        from plmscope.fourier import SurrogateOracle, qsft
    except ImportError as e:
        print(f"\nq-SFT end to end: skipped: plmscope.fourier.qsft is not in this build ({e})")
        return

    def r_squared(y, yhat):
        return float(1.0 - np.sum((y - yhat) ** 2) / np.sum((y - np.mean(y)) ** 2))

    data_file = SHARED / "gb1-q20-n10" / "randomcoils.npz"
    if not data_file.exists():
        print(f"\nq-SFT end to end: skipped: {data_file} is missing")
        return
    truth = SparseFourier.load(data_file, q=20)
    with np.load(data_file) as data:
        test_x, test_y = data["test_x"], data["test_y"]
    rows = []
    for where in devices:
        with pinned_threads(0) as pin, device_env(where):
            config = dict(q=20, n=10, b=4, num_subsample=2, delays="nso", num_repeat=2, seed=0,
                          progress=False, nthreads=pin.threads)
            print(f"\nq-SFT on {where}: {machine_line(pin.threads)}")
            walls, timings = [], []
            for trial in range(WARMUP + trials):  # the first WARMUP runs: plans, device copies
                oracle = SurrogateOracle(truth, noise_sd=7.9, seed=0)
                t0 = time.perf_counter()
                rec = qsft.recover(oracle, **config)
                if trial >= WARMUP:
                    walls.append(time.perf_counter() - t0)
                    timings.append(rec.timings)
        med = {k: statistics.median(tm.get(k, 0.0) for tm in timings) for k in QSFT_PHASES}
        core = statistics.median(sum(tm.get(k, 0.0) for k in QSFT_PHASES if k != "oracle")
                                 for tm in timings)
        rows.append({"device": where, "queries": rec.num_queries,
                     **{f"{k}_s": med[k] for k in QSFT_PHASES},
                     "all_but_oracle_s": core, "wall_s": statistics.median(walls),
                     "K": len(rec.transform),
                     "R2": r_squared(test_y, rec.transform.evaluate(test_x))})
    print(f"\nq-SFT end to end, q=20 n=10 b=4 C=2 NSO x2, surrogate of the GB1 transform, "
          f"medians of {trials} warm runs at all cores (all_but_oracle = every phase but the "
          f"oracle's answers; target under 1 s)")
    print_table(rows, ["device", "queries"] + [f"{k}_s" for k in QSFT_PHASES]
                + ["all_but_oracle_s", "wall_s", "K", "R2"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10, help="timed runs per side (>= 3)")
    ap.add_argument("--sweep", action="store_true", help="also sweep the FFT launch shapes")
    ap.add_argument("--skip-qsft", action="store_true")
    ap.add_argument("--only", choices=["fft", "similarity", "qsft"], default=None)
    args = ap.parse_args()
    if args.trials < 3:
        ap.error(f"--trials must be at least 3 (a median of fewer is one run), got {args.trials}")
    torch = require_gpu()
    p = torch.cuda.get_device_properties(0)
    print(f"device: {p.name}, {p.multi_processor_count} SMs, "
          f"{getattr(p, 'L2_cache_size', 0) / 2**20:.0f} MiB L2, "
          f"{p.shared_memory_per_block_optin / 1024:.0f} KiB shared memory per block (opt-in); "
          f"torch {torch.__version__}")
    print(machine_line(0))
    if args.only in (None, "fft"):
        bench_fft(torch, args.trials, args.sweep)
    if args.only in (None, "similarity"):
        bench_similarity(torch, args.trials)
    if args.only in (None, "qsft") and not args.skip_qsft:
        bench_qsft(args.trials)


if __name__ == "__main__":
    main()
