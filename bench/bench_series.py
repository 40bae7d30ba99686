"""SparseFourier.evaluate against the vectorised numpy expression, on 10^6 variants.

Cases: a q-SFT-like transform (q = 20, n = 10, K = 500 coefficients: one constant, then
orders 1..4 with probabilities 0.40, 0.35, 0.17, 0.08, distinct frequencies, values whose
scale halves with each order), and the published GB1 transform
``../shared/data/gb1-q20-n10/randomcoils.npz`` (K = 228; ``PLMSCOPE_DATA`` overrides
the folder) when it is present, each evaluated
at the same 10^6 uniformly random variants. The peer is
``Re(exp(2j pi ((x @ k.T) % q) / q) @ F)``, chunked over the variants so one chunk's
(chunk x K) complex matrix stays near 64 MB; the integer dot products go through a float64
matmul (exact: they are < 2^53), which is numpy's fastest way to form them. Both sides are
timed as a median of --trials runs after one warm-up (numpy: no warm-up, it runs for tens
of seconds). "max_abs_diff" is max |plmscope - numpy| over all variants; for the GB1 case
the R^2 at the file's test_x is printed as a check against the published 0.713.
Run: python bench/bench_series.py [--threads N] [--variants M] [--trials T]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import machine_line, median_time, print_table  # noqa: E402

from plmscope.fourier import SparseFourier  # noqa: E402

SHARED = Path(os.environ.get("PLMSCOPE_DATA")
              or Path(__file__).resolve().parents[2] / "shared" / "data")
GB1 = SHARED / "gb1-q20-n10" / "randomcoils.npz"
CHUNK_BYTES = 64 * 2**20


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


def numpy_evaluate(sf: SparseFourier, x: np.ndarray) -> np.ndarray:
    """Re(exp(2j pi ((x @ k.T) % q) / q) @ F), chunked over the rows of x."""
    q, K = sf.q, len(sf)
    kt = sf.frequencies.astype(np.float64).T
    chunk = max(1, CHUNK_BYTES // (16 * max(K, 1)))
    out = np.empty(x.shape[0])
    for m0 in range(0, x.shape[0], chunk):
        dots = x[m0:m0 + chunk].astype(np.float64) @ kt
        out[m0:m0 + chunk] = (np.exp(2j * np.pi * (dots % q) / q) @ sf.values).real
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=0, help="plmscope threads (0 = all cores)")
    ap.add_argument("--variants", type=int, default=10**6)
    ap.add_argument("--coefficients", type=int, default=500)
    ap.add_argument("--trials", type=int, default=5, help="plmscope trials")
    ap.add_argument("--numpy-trials", type=int, default=3)
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
    for name, sf in cases:
        ours = sf.evaluate(x, nthreads=args.threads)
        ref = numpy_evaluate(sf, x)
        t_ours = median_time(lambda: sf.evaluate(x, nthreads=args.threads), args.trials)
        t_np = median_time(lambda: numpy_evaluate(sf, x), args.numpy_trials, warmup=0)
        orders = np.bincount(sf.orders(), minlength=5)
        rows.append({
            "case": name, "M": x.shape[0], "K": len(sf),
            "orders 0-4": "/".join(str(c) for c in orders[:5]),
            "plmscope_ms": t_ours * 1e3, "numpy_ms": t_np * 1e3, "vs_numpy": t_np / t_ours,
            "ns/pair": t_ours * 1e9 / (x.shape[0] * len(sf)),
            "max_abs_diff": float(np.abs(ours - ref).max()),
        })
    print(machine_line(args.threads))
    print("vs_numpy = numpy time / plmscope time; ns/pair = plmscope time per variant x coefficient")
    print_table(rows, ["case", "M", "K", "orders 0-4", "plmscope_ms", "numpy_ms", "vs_numpy",
                       "ns/pair", "max_abs_diff"])
    if gb1 is None:
        print(f"published GB1 transform not found at {GB1}: only the synthetic case ran")
    else:
        with np.load(GB1) as data:
            y, yhat = data["test_y"], gb1.evaluate(data["test_x"])
        r2 = 1 - np.sum((y - yhat) ** 2) / np.sum((y - y.mean()) ** 2)
        print(f"GB1 check: R^2 at the file's {y.size} test variants = {r2:.4f} (published 0.713)")


if __name__ == "__main__":
    main()
