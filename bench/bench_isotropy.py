"""IsoScore of N x d float32 embeddings: plmscope against the isoscore package and numpy.

Data: N x d float32 (default 100,000 x 1,024, seed 0), Gaussian with a decaying spectrum in
a random rotation plus an offset of 3 (PLM embeddings are anisotropic and off-centre).

IsoScore rows:
  plmscope        plmscope.isotropy.isoscore: C++ float32 kernel (upper triangle only,
                  float32 sums over 256 rows, float64 accumulators), then tr(C)^2/||C||_F^2
                  in one pass over the upper triangle
  isoscore pkg    IsoScore.IsoScore (2.0.1): torch.cov in float32 + torch.linalg.svdvals
  numpy f32 BLAS  the same algorithm without the kernel: float32 X^T X per 4,096-row chunk
                  (numpy calls OpenBLAS ssyrk for c.T @ c) added into float64
  numpy f64 BLAS  centred float64 X^T X (the accurate reference for |err|)
Each at all threads and at one thread. Kernel rows compare only the covariance accumulation
(the part the C++ kernel replaces). Floor: np.copy of X (one pass over the data).
Other rows: mean pairwise cosine (O(N d) unit-vector sum vs numpy normalise-and-sum) and
cosine + squared distance of 1,000,000 random pairs (fused kernel vs numpy gather).

Ratios are peer time / plmscope time in this run. Run: python bench/bench_isotropy.py
[--n 100000 --d 1024 --trials 3 --isa avx2] (--isa sets PLMSCOPE_SIMD). Check the load (uptime) first: other
processes on the same cores distort every number.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import median_time, print_table  # noqa: E402

from plmscope import _core  # noqa: E402
from plmscope.isotropy import isoscore, mean_pairwise_cosine, pair_similarity  # noqa: E402


def cores_used(fn) -> float:
    """CPU seconds / wall seconds of one call: how many cores it really got (other processes
    on a shared machine show up as less than the threads asked for)."""
    import time

    w, c = time.perf_counter(), time.process_time()
    fn()
    return (time.process_time() - c) / (time.perf_counter() - w)


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


def numpy_f32_scatter(X: np.ndarray, shift: np.ndarray) -> np.ndarray:
    d = X.shape[1]
    S = np.zeros((d, d))
    s32 = shift.astype(np.float32)
    for i in range(0, len(X), 4096):
        c = X[i:i + 4096] - s32
        S += c.T @ c
    return S


def numpy_f64_score(X: np.ndarray) -> float:
    mean = X.mean(axis=0, dtype=np.float64)
    d = X.shape[1]
    S = np.zeros((d, d))
    for i in range(0, len(X), 8192):
        c = X[i:i + 8192].astype(np.float64) - mean
        S += c.T @ c
    C = S / (len(X) - 1)
    pr = np.trace(C) ** 2 / np.vdot(C, C)
    return (pr - 1) / (d - 1)


def score_from_scatter(S: np.ndarray, n: int) -> float:
    C = S / (n - 1)  # shift = mean of all rows here, so no correction term
    return (np.trace(C) ** 2 / np.vdot(C, C) - 1) / (C.shape[0] - 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=1024)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-package", action="store_true", help="leave out the isoscore package")
    ap.add_argument("--isa", default=None, choices=["avx512", "avx2", "baseline"],
                    help="cap the kernels' instruction set (PLMSCOPE_SIMD), to see each copy "
                         "on one CPU")
    args = ap.parse_args()
    if args.isa:
        os.environ["PLMSCOPE_SIMD"] = args.isa
    import torch

    X = make_data(args.n, args.d, args.seed)
    n, d = X.shape
    cores = os.cpu_count()
    torch_threads = torch.get_num_threads()
    exact = numpy_f64_score(X)
    shift = X.mean(axis=0, dtype=np.float64).astype(np.float32).astype(np.float64)

    def kernel_scatter(nthreads):
        s, S = np.zeros(d), np.zeros((d, d))
        _core.covariance_accumulate(X, shift, s, S, nthreads)
        return S

    rows = []
    for threads in (0, 1):
        label = f"{cores if threads == 0 else 1} thr"
        t_ours = median_time(lambda t=threads: isoscore(X, nthreads=t), args.trials)
        ours = isoscore(X, nthreads=threads).score
        rows.append({"task": "IsoScore", "impl": "plmscope", "threads": label,
                     "seconds": t_ours, "vs_plmscope": 1.0, "abs_err": abs(ours - exact),
                     "cores_used": cores_used(lambda t=threads: isoscore(X, nthreads=t))})
        if not args.skip_package:
            from IsoScore import IsoScore as peer

            torch.set_num_threads(torch_threads if threads == 0 else 1)
            t_pkg = median_time(lambda: peer.IsoScore(X), args.trials)
            pkg = float(peer.IsoScore(X))
            used = cores_used(lambda: peer.IsoScore(X))
            torch.set_num_threads(torch_threads)
            rows.append({"task": "IsoScore", "impl": "isoscore pkg", "threads": label,
                         "seconds": t_pkg, "vs_plmscope": t_pkg / t_ours,
                         "abs_err": abs(pkg - exact), "cores_used": used})
        t_kern = median_time(lambda t=threads: kernel_scatter(t), args.trials)
        rows.append({"task": "covariance", "impl": "plmscope kernel", "threads": label,
                     "seconds": t_kern, "vs_plmscope": 1.0,
                     "abs_err": abs(score_from_scatter(
                         np.triu(kernel_scatter(threads)) + np.triu(kernel_scatter(threads), 1).T,
                         n) - exact)})
        if threads == 0:
            t_np32 = median_time(lambda: numpy_f32_scatter(X, shift), args.trials)
            rows.append({"task": "covariance", "impl": "numpy f32 BLAS", "threads": label,
                         "seconds": t_np32, "vs_plmscope": t_np32 / t_kern,
                         "abs_err": abs(score_from_scatter(numpy_f32_scatter(X, shift), n)
                                        - exact)})
            t_np64 = median_time(lambda: numpy_f64_score(X), max(1, args.trials - 1))
            rows.append({"task": "covariance", "impl": "numpy f64 BLAS", "threads": label,
                         "seconds": t_np64, "vs_plmscope": t_np64 / t_kern, "abs_err": 0.0})
    t_copy = median_time(lambda: np.copy(X), args.trials)
    rows.append({"task": "floor", "impl": "np.copy(X)", "threads": "1 thr", "seconds": t_copy})

    # Mean pairwise cosine, O(N d).
    t_cos = median_time(lambda: mean_pairwise_cosine(X), args.trials)

    def numpy_cosine():
        u = (X / np.linalg.norm(X, axis=1, keepdims=True)).sum(axis=0, dtype=np.float64)
        return (u @ u - n) / (n * (n - 1))

    t_cos_np = median_time(numpy_cosine, args.trials)
    err = abs(mean_pairwise_cosine(X).value - numpy_cosine())
    rows.append({"task": "mean cosine", "impl": "plmscope", "threads": f"{cores} thr",
                 "seconds": t_cos, "vs_plmscope": 1.0, "abs_err": err})
    rows.append({"task": "mean cosine", "impl": "numpy", "threads": f"{cores} thr",
                 "seconds": t_cos_np, "vs_plmscope": t_cos_np / t_cos})

    # Pair distances over a protein subset that stays in cache, as in the alignment study.
    rng = np.random.default_rng(args.seed + 1)
    sub = X[: min(n, 4000)]
    pairs = rng.integers(0, len(sub), size=(1_000_000, 2))
    t_pair = median_time(lambda: pair_similarity(sub, pairs), args.trials)

    def numpy_pairs():
        cos = np.empty(len(pairs))
        sq = np.empty(len(pairs))
        for i in range(0, len(pairs), 65536):
            a = sub[pairs[i:i + 65536, 0]].astype(np.float64)
            b = sub[pairs[i:i + 65536, 1]].astype(np.float64)
            cos[i:i + 65536] = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
            sq[i:i + 65536] = ((a - b) ** 2).sum(1)
        return cos, sq

    t_pair_np = median_time(numpy_pairs, max(1, args.trials - 1))
    c1, s1 = pair_similarity(sub, pairs)
    c2, s2 = numpy_pairs()
    rows.append({"task": "1M pair dists", "impl": "plmscope", "threads": f"{cores} thr",
                 "seconds": t_pair, "vs_plmscope": 1.0,
                 "abs_err": float(max(np.abs(c1 - c2).max(), np.abs(s1 - s2).max() / s2.max()))})
    rows.append({"task": "1M pair dists", "impl": "numpy gather", "threads": f"{cores} thr",
                 "seconds": t_pair_np, "vs_plmscope": t_pair_np / t_pair})

    print(f"N={n:,} d={d:,} float32, cores {cores}, covariance kernel "
          f"{_core.simd_level()}, torch threads {torch_threads}, load "
          f"{os.getloadavg()[0]:.2f}; IsoScore (float64 reference) = {exact:.6f}")
    print("vs_plmscope = peer seconds / plmscope seconds at the same thread count; abs_err = "
          "|score - float64 reference| (pairs: max |cos diff|, max relative |dist diff|); "
          "cores_used = CPU s / wall s of one more call")
    print_table(rows, ["task", "impl", "threads", "seconds", "vs_plmscope", "abs_err",
                       "cores_used"])
    pkg1 = next((r for r in rows if r["impl"] == "isoscore pkg" and r["threads"] == "1 thr"),
                None)
    if pkg1:
        print(f"plmscope ({cores} thr) vs isoscore package on one core: "
              f"{pkg1['seconds'] / rows[0]['seconds']:.2f}x")


if __name__ == "__main__":
    main()
