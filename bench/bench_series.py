"""SparseFourier.evaluate against the strongest plain numpy form, on 10^6 variants.

Cases: a q-SFT-like transform (q = 20, n = 10, K = 500 coefficients: one constant, then
orders 1..4 with probabilities 0.40, 0.35, 0.17, 0.08, distinct frequencies, values whose
scale halves with each order), and the published GB1 transform
``../shared/data/gb1-q20-n10/randomcoils.npz`` (K = 228; ``PLMSCOPE_DATA`` overrides
the folder) when it is present, each evaluated at the same 10^6 uniformly random variants.

Sides, each run inside ``pinned_threads`` at the same thread count (1 and all cores unless
--threads is given) and timed as a warm median (one warm-up, then --trials runs):
  plmscope      SparseFourier.evaluate(x, nthreads=threads) (C++)
  numpy table   the table-lookup form a careful numpy user writes: T[k, j] = Re(F_k w^j)
                precomputed (K x q), the dot products <k, x> by a float64 BLAS matmul
                (exact: they are < 2^53), then out = sum_k T[k, <k, x> mod q], a real gather;
                chunked so one chunk's (chunk x K) matrix stays near 4 MB, in cache; with
                more than one thread the chunks go to a thread pool of that size
  numpy exp     (--exp-form only) the naive form Re(exp(2j pi ((x @ k.T) % q) / q) @ F),
                dominated by M x K complex exp calls: a weak baseline, kept only to compare
                with earlier figures (headline ratios are against the table form)
Ratios are numpy time / plmscope time at the same thread count in the same run.
"max_abs_diff" is max |plmscope - numpy table| over all variants; for the GB1 case the R^2
at the file's test_x is printed as a check against the published 0.713.
Run: python bench/bench_series.py [--threads N] [--variants M] [--trials T] [--exp-form]
"""
from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import (machine_line, median_time, pinned_threads, print_table,  # noqa: E402
                    thread_counts)

from plmscope.fourier import SparseFourier  # noqa: E402

SHARED = Path(os.environ.get("PLMSCOPE_DATA")
              or Path(__file__).resolve().parents[2] / "shared" / "data")
GB1 = SHARED / "gb1-q20-n10" / "randomcoils.npz"
CHUNK_BYTES = 64 * 2**20  # the exp form's complex chunk
TABLE_CHUNK_BYTES = 4 * 2**20  # the table form's chunk: stays in cache (measured faster)


def qsft_like(rng: np.random.Generator, q: int, n: int, K: int) -> SparseFourier:
    """K distinct frequencies: the constant, then orders 1..4 drawn as a q-SFT result has
    them (mostly low), with complex values whose scale halves per order."""
    seen = {bytes(n)}
    freqs = [np.zeros(n, dtype=np.uint8)]
    while len(freqs) < K:
        order = rng.choice([1, 2, 3, 4], p=[0.40, 0.35, 0.17, 0.08])
        k = np.zeros(n, dtype=np.uint8)
        k[rng.choice(n, order, replace=False)] = rng.integers(1, q, order)
        if k.tobytes() not in seen:
            seen.add(k.tobytes())
            freqs.append(k)
    freqs = np.array(freqs)
    scale = 0.5 ** np.count_nonzero(freqs, axis=1)
    values = scale * (rng.standard_normal(K) + 1j * rng.standard_normal(K))
    return SparseFourier(freqs, values, q)


def numpy_table(sf: SparseFourier, workers: int):
    """The table-lookup numpy form as a function of x: Re(F_k w^j) for every k and residue j
    is precomputed once, so each variant costs K integer lookups instead of K complex exps.
    With workers > 1 the chunks go to a thread pool (numpy's matmul, gather and sum release
    the GIL) with BLAS at one thread inside it, as a careful user would thread it."""
    q, K = sf.q, len(sf)
    w = np.exp(2j * np.pi * np.arange(q) / q)
    table = (sf.values[:, None] * w[None, :]).real.ravel()  # row k holds Re(F_k w^j)
    offsets = (np.arange(K) * q).astype(np.int32)
    kt = sf.frequencies.astype(np.float64).T
    chunk = max(1, TABLE_CHUNK_BYTES // (8 * max(K, 1)))

    def evaluate(x: np.ndarray) -> np.ndarray:
        out = np.empty(x.shape[0])

        def one(m0: int) -> None:
            idx = (x[m0:m0 + chunk].astype(np.float64) @ kt).astype(np.int32)
            idx %= q
            idx += offsets
            out[m0:m0 + chunk] = table[idx].sum(axis=1)

        starts = range(0, x.shape[0], chunk)
        if workers == 1:
            for m0 in starts:
                one(m0)
        else:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1), ThreadPoolExecutor(workers) as pool:
                list(pool.map(one, starts))
        return out

    return evaluate


def numpy_exp(sf: SparseFourier, x: np.ndarray) -> np.ndarray:
    """The naive form Re(exp(2j pi ((x @ k.T) % q) / q) @ F), chunked over the rows of x."""
    q, K = sf.q, len(sf)
    kt = sf.frequencies.astype(np.float64).T
    chunk = max(1, CHUNK_BYTES // (16 * max(K, 1)))
    out = np.empty(x.shape[0])
    for m0 in range(0, x.shape[0], chunk):
        dots = x[m0:m0 + chunk].astype(np.float64) @ kt
        out[m0:m0 + chunk] = (np.exp(2j * np.pi * (dots % q) / q) @ sf.values).real
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=0,
                    help="threads for every side (0 = report 1 thread and all cores)")
    ap.add_argument("--variants", type=int, default=10**6)
    ap.add_argument("--coefficients", type=int, default=500)
    ap.add_argument("--trials", type=int, default=5, help="timed runs per side after a warm-up")
    ap.add_argument("--exp-form", action="store_true",
                    help="also time the naive complex-exp numpy form (tens of seconds)")
    ap.add_argument("--exp-trials", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    q, n = 20, 10
    cases = [(f"q-SFT-like q={q} n={n}", qsft_like(rng, q, n, args.coefficients))]
    gb1 = None
    if GB1.exists():
        gb1 = SparseFourier.load(GB1, q=20)
        cases.append(("published GB1 q=20 n=10", gb1))
    x = rng.integers(0, q, size=(args.variants, n), dtype=np.uint8)

    rows = []
    for threads in thread_counts(args.threads):
        for name, sf in cases:
            with pinned_threads(threads) as pinned:
                t = pinned.threads
                table = numpy_table(sf, t)
                ours = sf.evaluate(x, nthreads=t)
                diff = float(np.abs(ours - table(x)).max())
                t_ours = median_time(lambda: sf.evaluate(x, nthreads=t), args.trials)
                t_tab = median_time(lambda: table(x), args.trials)
                row = {"case": name, "threads": t, "load": os.getloadavg()[0],
                       "M": x.shape[0], "K": len(sf),
                       "plmscope_ms": t_ours * 1e3, "table_ms": t_tab * 1e3,
                       "vs_table": t_tab / t_ours,
                       "ns/pair": t_ours * 1e9 / (x.shape[0] * len(sf)),
                       "max_abs_diff": diff}
                if args.exp_form:
                    t_exp = median_time(lambda: numpy_exp(sf, x), args.exp_trials)
                    row.update(exp_ms=t_exp * 1e3, vs_exp=t_exp / t_ours)
            rows.append(row)
    print(machine_line(args.threads) + "  (load: 1-minute average at the end; per row in "
          "the table, at the row's end)")
    print("vs_table = numpy table-lookup time / plmscope time (same threads, same run); "
          "vs_exp = the naive complex-exp form's; ns/pair = plmscope time per variant x "
          "coefficient")
    columns = ["case", "threads", "load", "M", "K", "plmscope_ms", "table_ms", "vs_table"]
    if args.exp_form:
        columns += ["exp_ms", "vs_exp"]
    print_table(rows, columns + ["ns/pair", "max_abs_diff"])
    if gb1 is None:
        print(f"published GB1 transform not found at {GB1}: only the synthetic case ran")
    else:
        with np.load(GB1) as data:
            y, yhat = data["test_y"], gb1.evaluate(data["test_x"])
        r2 = 1 - np.sum((y - yhat) ** 2) / np.sum((y - y.mean()) ** 2)
        print(f"GB1 check: R^2 at the file's {y.size} test variants = {r2:.4f} (published 0.713)")


if __name__ == "__main__":
    main()
