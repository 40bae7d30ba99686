"""IsoScore of N x d float32 embeddings: plmscope against the isoscore package and numpy.

Data: N x d float32 (default 100,000 x 1,024, seed 0), Gaussian with a decaying spectrum in
a random rotation plus an offset of 3 (PLM embeddings are anisotropic and off-centre).

Every side runs inside ``pinned_threads`` at the same thread count (1 and all cores unless
--threads is given: OpenBLAS, torch and plmscope's own nthreads alike) and is timed as a
warm median (one warm-up, then --trials runs).

IsoScore rows:
  plmscope        plmscope.isotropy.isoscore: C++ float32 kernel (upper triangle only,
                  float32 sums over 256 rows, float64 accumulators), then tr(C)^2/||C||_F^2
                  in one pass over the upper triangle
  isoscore pkg    IsoScore.IsoScore (2.0.1, the published peer): torch.cov in float32 +
                  torch.linalg.svdvals
  numpy f32 BLAS  the ten-line numpy version: float64 column means, then per 4,096-row chunk
                  the centred float32 c.T @ c (OpenBLAS ssyrk) added into a float64 sum,
                  then (tr(C)^2/||C||_F^2 - 1)/(d - 1) (docs/geometry.md)
  numpy f64 BLAS  the same in float64 throughout (dsyrk): the accurate reference for abs_err
Floor: np.copy of X (one pass over the data). Other rows: mean pairwise cosine (plmscope's
O(N d) unit-vector sum vs numpy normalise-and-sum) and cosine + squared distance of
--pairs (250,000) random pairs (plmscope's fused kernel vs a numpy gather); with more than
one thread the numpy side of these two runs its chunks on a thread pool of that size (numpy
releases the GIL).

Ratios are peer time / plmscope time at the same thread count in this run; cores_used is
CPU seconds / wall seconds over a side's timed runs (less than the threads asked for means
other processes took the cores). Run: python bench/bench_isotropy.py [--threads N]
[--n 100000 --d 1024 --trials 3 --isa avx2] (--isa sets PLMSCOPE_SIMD). Check the load
(uptime) first: other processes on the same cores distort every number.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import (machine_line, median_time, pinned_threads, print_table,  # noqa: E402
                    thread_counts)

from plmscope import _core  # noqa: E402
from plmscope.isotropy import isoscore, mean_pairwise_cosine, pair_similarity  # noqa: E402


def timed(fn, trials: int) -> tuple[float, float]:
    """(warm median seconds, CPU seconds / wall seconds over the warm-up and trials)."""
    w, c = time.perf_counter(), time.process_time()
    t = median_time(fn, trials)
    return t, (time.process_time() - c) / (time.perf_counter() - w)


def make_data(n: int, d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    spectrum = np.exp(-np.arange(d) / (d / 8)).astype(np.float32)
    X = np.empty((n, d), dtype=np.float32)
    rot = (q * spectrum[:, None]).astype(np.float32)
    for i in range(0, n, 8192):
        z = rng.standard_normal((min(8192, n - i), d), dtype=np.float32)
        X[i:i + len(z)] = z @ rot + 3.0
    return X


def numpy_isoscore(X: np.ndarray, dtype) -> float:
    """IsoScore as a careful numpy user writes it: centred X^T X by chunks through BLAS."""
    mean = X.mean(axis=0, dtype=np.float64)
    centre = mean.astype(dtype)
    d = X.shape[1]
    S = np.zeros((d, d))
    for i in range(0, len(X), 4096):
        c = X[i:i + 4096].astype(dtype, copy=False) - centre
        S += c.T @ c
    C = S / (len(X) - 1)
    pr = np.trace(C) ** 2 / np.vdot(C, C)
    return float((pr - 1) / (d - 1))


def on_pool(fn, starts, workers: int) -> None:
    if workers == 1:
        for s in starts:
            fn(s)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(fn, starts))


def numpy_cosine(X: np.ndarray, workers: int) -> float:
    n = len(X)
    sums = {}

    def one(i):
        c = X[i:i + 8192]
        sums[i] = (c / np.linalg.norm(c, axis=1, keepdims=True)).sum(axis=0, dtype=np.float64)

    on_pool(one, range(0, n, 8192), workers)
    u = np.sum(list(sums.values()), axis=0)
    return float((u @ u - n) / (n * (n - 1)))


def numpy_pairs(sub: np.ndarray, pairs: np.ndarray, workers: int):
    cos = np.empty(len(pairs))
    sq = np.empty(len(pairs))

    def one(i):
        a = sub[pairs[i:i + 16384, 0]].astype(np.float64)
        b = sub[pairs[i:i + 16384, 1]].astype(np.float64)
        cos[i:i + 16384] = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
        sq[i:i + 16384] = ((a - b) ** 2).sum(1)

    on_pool(one, range(0, len(pairs), 16384), workers)
    return cos, sq


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=0,
                    help="threads for every side (0 = report 1 thread and all cores)")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=1024)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=250_000, help="random pairs for the distances")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-package", action="store_true", help="leave out the isoscore package")
    ap.add_argument("--isa", default=None, choices=["avx512", "avx2", "baseline"],
                    help="cap the kernels' instruction set (PLMSCOPE_SIMD), to see each copy "
                         "on one CPU")
    args = ap.parse_args()
    if args.isa:
        os.environ["PLMSCOPE_SIMD"] = args.isa
    if not args.skip_package:
        from IsoScore import IsoScore as peer

    X = make_data(args.n, args.d, args.seed)
    n, d = X.shape
    exact = numpy_isoscore(X, np.float64)
    rng = np.random.default_rng(args.seed + 1)
    sub = X[: min(n, 4000)]  # a protein subset that stays in cache, as in the alignment study
    pairs = rng.integers(0, len(sub), size=(args.pairs, 2))

    rows = []

    def add(task, impl, threads, t, used, t_ref=None, err=None):
        rows.append({"task": task, "impl": impl, "threads": threads, "seconds": t,
                     "vs_plmscope": (t / t_ref) if t_ref else 1.0, "abs_err": err,
                     "cores_used": used, "load": os.getloadavg()[0]})

    for threads in thread_counts(args.threads):
        with pinned_threads(threads) as pinned:
            t = pinned.threads
            t_ours, used = timed(lambda: isoscore(X, nthreads=t), args.trials)
            add("IsoScore", "plmscope", t, t_ours, used,
                err=abs(isoscore(X, nthreads=t).score - exact))
            if not args.skip_package:
                t_pkg, used = timed(lambda: peer.IsoScore(X), args.trials)
                add("IsoScore", "isoscore pkg", t, t_pkg, used, t_ours,
                    abs(float(peer.IsoScore(X)) - exact))
            for name, dtype in (("numpy f32 BLAS", np.float32), ("numpy f64 BLAS", np.float64)):
                t_np, used = timed(lambda: numpy_isoscore(X, dtype), args.trials)
                add("IsoScore", name, t, t_np, used, t_ours,
                    abs(numpy_isoscore(X, dtype) - exact))

            t_cos, used = timed(lambda: mean_pairwise_cosine(X, nthreads=t), args.trials)
            add("mean cosine", "plmscope", t, t_cos, used,
                err=abs(mean_pairwise_cosine(X, nthreads=t).value - numpy_cosine(X, t)))
            t_cos_np, used = timed(lambda: numpy_cosine(X, t), args.trials)
            add("mean cosine", "numpy", t, t_cos_np, used, t_cos)

            t_pair, used = timed(lambda: pair_similarity(sub, pairs, nthreads=t), args.trials)
            c1, s1 = pair_similarity(sub, pairs, nthreads=t)
            c2, s2 = numpy_pairs(sub, pairs, t)
            add("pair dists", "plmscope", t, t_pair, used,
                err=float(max(np.abs(c1 - c2).max(), np.abs(s1 - s2).max() / s2.max())))
            t_pair_np, used = timed(lambda: numpy_pairs(sub, pairs, t), args.trials)
            add("pair dists", "numpy gather", t, t_pair_np, used, t_pair)
    t_copy, used = timed(lambda: np.copy(X), args.trials)
    add("floor", "np.copy(X)", 1, t_copy, used)

    print(f"N={n:,} d={d:,} float32, covariance kernel {_core.simd_level()}; "
          f"IsoScore (float64 reference) = {exact:.6f}")
    print(machine_line(args.threads) + "  (load: 1-minute average at the end; per row below)")
    print("vs_plmscope = peer seconds / plmscope seconds at the same thread count; abs_err = "
          "|score - float64 reference| (cosine: |plmscope - numpy|; pairs: max |cos diff|, max "
          "relative |dist diff|); cores_used = CPU s / wall s over the side's timed runs")
    print_table(rows, ["task", "impl", "threads", "seconds", "vs_plmscope", "abs_err",
                       "cores_used", "load"])


if __name__ == "__main__":
    main()
