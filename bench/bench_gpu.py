"""GPU kernels against the device's memory bandwidth and the libraries peers, on one GPU.

1. qary_fft, q = 20 / n = 5 / batch 64 and q = 2 / n = 26 (complex64; also complex128 and
   the real float32 Walsh-Hadamard path): the in-place transform's effective bandwidth,
   2 x bytes / time (each value read and written once), against a device-to-device copy of
   the same bytes measured in the same run (target >= 60% of the copy's bandwidth); "passes"
   is how many times the kernels stream the array (shared-memory tiles hold a few digits
   each), and pass_bw = passes x 2 x bytes / time is the bandwidth the passes achieve. The peer
   is cupy.fft.fftn over the n axes (ratio = peer time / plmscope time). Forward and inverse
   alternate, so the data neither vanish nor overflow.
2. Pair-list cosine over 10^7 pairs of 1024-d float32 rows, and the covariance of
   10^6 x 1024 float32: against torch (float32, and float64 for the covariance, which is
   what plmscope accumulates in).
3. End-to-end q-SFT at the paper's configuration (q = 20, n = 10, b = 4, C = 2, NSO delays
   with 2 repeats: 7,040,000 queries) with the surrogate oracle of the published GB1
   transform, once with everything on the CPU and once with PLMSCOPE_DEVICE=cuda (the
   oracle's evaluate and the transforms on the GPU): design + transforms + decode time
   (target under 1 s). Needs plmscope.fourier.qsft; reported as skipped without it.

Fixed seeds, warm-up, median of --trials timings, each ended by a device synchronise.
Run on a GPU machine with a CUDA build (PLMSCOPE_ENABLE_CUDA=ON), torch and CuPy:
    PYTHONPATH=python python3 bench/bench_gpu.py [--trials 10] [--skip-qsft] [--sweep]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import median_time, print_table  # noqa: E402

import plmscope  # noqa: E402
from plmscope import _core  # noqa: E402
from plmscope.isotropy import gpu as isotropy_gpu  # noqa: E402
from plmscope.fourier import SparseFourier, qary_fft  # noqa: E402

SHARED = Path(os.environ.get("PLMSCOPE_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data"))
ROOT_BYTES = 32 * 16  # the FFT kernel's root table (cuda/qary_fft_tile.h fft_shared_bytes)


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


def bench_fft(torch, trials, sweep):
    try:
        import cupy
    except ImportError:
        cupy = None
    props = torch.cuda.get_device_properties(0)
    optin = props.shared_memory_per_block_optin
    rng = np.random.default_rng(0)
    sync = torch.cuda.synchronize
    cases = [("q=20 n=5 batch=64", 20, 5, 64, np.complex64),
             ("q=2 n=26", 2, 26, 1, np.complex64),
             ("q=2 n=26 real WHT", 2, 26, 1, np.float32),
             ("q=20 n=5 batch=64", 20, 5, 64, np.complex128)]
    rows, sweeps = [], []
    for label, q, n, batch, dtype in cases:
        real = not np.issubdtype(dtype, np.complexfloating)
        shape = (batch, q**n)
        host = rng.standard_normal(shape, dtype=np.float32)
        if not real:
            host = host + 1j * rng.standard_normal(shape, dtype=np.float32)
        data = torch.from_numpy(host.astype(dtype)).cuda()
        nbytes = data.numel() * data.element_size()
        stream = torch.cuda.current_stream().cuda_stream
        name = np.dtype(dtype).name

        def run(inverse, tile_bytes=0, chunk_bytes=0, threads=0, data=data):
            _core.cuda_qary_fft(data.data_ptr(), name, batch, q, n, inverse, 0, stream,
                                tile_bytes, chunk_bytes, threads)

        # Correctness of this very launch shape on the first row, against the CPU core.
        first = host[:1].astype(dtype)
        run(False)
        sync()
        err = float(np.abs(data[:1].cpu().numpy() - qary_fft(first, q, real=real)).max())
        scale = float(np.abs(qary_fft(first, q, real=real)).max())
        run(True)
        t = median_time(lambda: (run(False), run(True), sync()), trials, warmup=2) / 2
        src = torch.empty_like(data).copy_(data)
        dst = torch.empty_like(data)
        t_copy = median_time(lambda: (dst.copy_(src), sync()), trials, warmup=2)
        src = dst = None  # free before the next allocation
        api_in = torch.from_numpy(host.astype(dtype)).cuda()
        t_api = median_time(lambda: (qary_fft(api_in, q, real=real), sync()), trials, warmup=1)
        api_in = None
        t_peer = float("nan")
        if cupy is not None:
            cx = cupy.asarray(host.astype(np.complex64 if dtype == np.float32 else dtype))
            cx = cx.reshape((batch,) + (q,) * n)
            axes = tuple(range(1, n + 1))
            csync = cupy.cuda.Device().synchronize
            try:
                t_peer = median_time(lambda: (cupy.fft.fftn(cx, axes=axes), csync()), trials,
                                     warmup=1)
            except Exception as e:  # noqa: BLE001 - a peer that cannot do it is reported, not fatal
                print(f"cupy.fft.fftn failed for {label}: {type(e).__name__}: {e}")
            del cx
            cupy.get_default_memory_pool().free_all_blocks()
        passes = fft_passes(q, n, np.dtype(dtype).itemsize, auto_tile_bytes(optin))
        bw = 2 * nbytes / t / 1e9
        copy_bw = 2 * nbytes / t_copy / 1e9
        rows.append({
            "case": f"{label} {name}", "GB": nbytes / 1e9, "ms": t * 1e3, "GB/s": bw,
            "copy_GB/s": copy_bw, "vs_copy": bw / copy_bw, "passes": passes,
            "pass_vs_copy": passes * bw / copy_bw, "api_ms": t_api * 1e3,
            "cupy_ms": t_peer * 1e3, "vs_cupy": t_peer / t, "rel_err": err / scale,
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
                        sweeps.append({"case": f"{label} {name}", "tile_bytes": tile_bytes,
                                       "threads": threads, "chunk": "0.6 L2" if chunk == 0 else "off",
                                       "passes": fft_passes(q, n, np.dtype(dtype).itemsize,
                                                            tile_bytes),
                                       "ms": ts * 1e3, "vs_copy": (2 * nbytes / ts) / (copy_bw * 1e9)})
        del data
        torch.cuda.empty_cache()
    print("\nqary_fft (in place; vs_copy target >= 0.6; vs_cupy = cupy time / plmscope time)")
    print_table(rows, ["case", "GB", "ms", "GB/s", "copy_GB/s", "vs_copy", "passes",
                       "pass_vs_copy", "api_ms", "cupy_ms", "vs_cupy", "rel_err"])
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
    ours = lambda: isotropy_gpu.pair_similarity(x, pairs, cosine=True, sqdist=False)  # noqa: E731

    def peer():
        out = torch.empty(P, device="cuda")
        for s in range(0, P, 1_000_000):  # chunks: the gathered rows of all pairs are 80 GB
            p = pairs[s:s + 1_000_000]
            out[s:s + 1_000_000] = torch.nn.functional.cosine_similarity(x[p[:, 0]], x[p[:, 1]])
        return out

    err = float((ours()[0] - peer().double()).abs().max())
    t_ours = median_time(lambda: (ours(), sync()), trials, warmup=1)
    t_peer = median_time(lambda: (peer(), sync()), trials, warmup=1)
    rows.append({"case": "pair cosine 1e7 x 1024", "plmscope_ms": t_ours * 1e3,
                 "torch_ms": t_peer * 1e3, "vs_torch": t_peer / t_ours,
                 "GB/s": P * 2 * d * 4 / t_ours / 1e9, "max_abs_diff": err})
    x = pairs = None
    torch.cuda.empty_cache()

    # Covariance of 10^6 x 1024 float32 rows.
    N = 1_000_000
    x = torch.randn(N, d, device="cuda", generator=gen) * 2 + 1
    shift = x[:10_000].double().mean(0)

    def ours_cov():
        s = torch.zeros(d, dtype=torch.float64, device="cuda")
        S = torch.zeros(d, d, dtype=torch.float64, device="cuda")
        isotropy_gpu.covariance_accumulate(x, shift, s, S)
        return s, S

    def cov_from(s, S):  # sums about the shift: C = (S - s s^T / N) / (N - 1)
        S = torch.triu(S) + torch.triu(S, 1).T
        return (S - torch.outer(s, s) / N) / (N - 1)

    def peer64():
        xc = x.double() - shift
        return (xc.T @ xc - torch.outer(xc.sum(0), xc.sum(0)) / N) / (N - 1)

    ref = peer64()
    err = float((cov_from(*ours_cov()) - ref).abs().max() / ref.abs().max())
    err32 = float((torch.cov(x.T).double() - ref).abs().max() / ref.abs().max())
    t_ours = median_time(lambda: (ours_cov(), sync()), trials, warmup=1)
    t_32 = median_time(lambda: (torch.cov(x.T), sync()), trials, warmup=1)
    t_64 = median_time(lambda: (peer64(), sync()), trials, warmup=1)
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


def bench_qsft(devices=("cpu", "cuda")):
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
        previous = os.environ.get("PLMSCOPE_DEVICE")
        os.environ["PLMSCOPE_DEVICE"] = where
        try:
            oracle = SurrogateOracle(truth, noise_sd=7.9, seed=0)
            qsft.recover(oracle, q=20, n=10, b=4, num_subsample=2, delays="nso", num_repeat=2,
                         seed=0, progress=False)  # warm-up (plans, device copies)
            t0 = time.perf_counter()
            rec = qsft.recover(SurrogateOracle(truth, noise_sd=7.9, seed=0), q=20, n=10, b=4,
                               num_subsample=2, delays="nso", num_repeat=2, seed=0,
                               progress=False)
            wall = time.perf_counter() - t0
        finally:
            if previous is None:
                os.environ.pop("PLMSCOPE_DEVICE", None)
            else:
                os.environ["PLMSCOPE_DEVICE"] = previous
        tm = rec.timings
        core = sum(tm.get(k, 0.0) for k in ("design", "transform", "decode"))
        rows.append({"device": where, "queries": rec.num_queries, "design_s": tm.get("design"),
                     "oracle_s": tm.get("oracle"), "transform_s": tm.get("transform"),
                     "decode_s": tm.get("decode"), "refine_s": tm.get("refine"),
                     "design+transform+decode_s": core, "wall_s": wall,
                     "K": len(rec.transform),
                     "R2": r_squared(test_y, rec.transform.evaluate(test_x))})
    print("\nq-SFT end to end, q=20 n=10 b=4 C=2 NSO x2, surrogate of the GB1 transform "
          "(target: design+transform+decode under 1 s)")
    print_table(rows, ["device", "queries", "design_s", "oracle_s", "transform_s", "decode_s",
                       "refine_s", "design+transform+decode_s", "wall_s", "K", "R2"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--sweep", action="store_true", help="also sweep the FFT launch shapes")
    ap.add_argument("--skip-qsft", action="store_true")
    ap.add_argument("--only", choices=["fft", "similarity", "qsft"], default=None)
    args = ap.parse_args()
    torch = require_gpu()
    p = torch.cuda.get_device_properties(0)
    print(f"device: {p.name}, {p.multi_processor_count} SMs, "
          f"{getattr(p, 'L2_cache_size', 0) / 2**20:.0f} MiB L2, "
          f"{p.shared_memory_per_block_optin / 1024:.0f} KiB shared memory per block (opt-in); "
          f"torch {torch.__version__}")
    if args.only in (None, "fft"):
        bench_fft(torch, args.trials, args.sweep)
    if args.only in (None, "similarity"):
        bench_similarity(torch, args.trials)
    if args.only in (None, "qsft") and not args.skip_qsft:
        bench_qsft()


if __name__ == "__main__":
    main()
