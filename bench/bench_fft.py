"""qary_fft against numpy.fft.fftn, scipy.fft.fftn and pyfwht, with a memory floor.

Cases: q = 20, n = 4, batch 22 (q-SFT's inner transform at the paper setting); q = 4,
n = 10; q = 2, n = 20 (real Walsh-Hadamard, also against pyfwht's OpenMP backend). The
floor is np.copy of the output's bytes; "passes" is the number of times plmscope's
transform streams the array (the input copy, the cache-blocked low sites and, when q^n
exceeds a block, the column panels of the high sites), and "vs floor" is
time / (passes x copy time). A batch of rows that each fit in cache (q = 20, n = 4) is
transformed one row per task, so its panel pass reads the row back from cache, not memory,
and vs_floor can drop below 1. Run: python bench/bench_fft.py [--threads N]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import scipy.fft

sys.path.insert(0, os.path.dirname(__file__))
from common import machine_line, median_time, print_table  # noqa: E402

from plmscope.fourier import qary_fft  # noqa: E402

BLOCK_BYTES = 128 * 1024  # the core's cache block (cpp/src/qary_fft.cpp)


def passes(q: int, n: int, itemsize: int) -> int:
    return 2 + (q**n * itemsize > BLOCK_BYTES)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=0, help="plmscope threads (0 = all cores)")
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    try:
        import pyfwht
    except ImportError:
        pyfwht = None

    cases = [(20, 4, 22, False), (4, 10, 1, False), (2, 20, 1, True)]
    rows = []
    for q, n, batch, real in cases:
        shape = (batch, q**n)
        x = rng.standard_normal(shape) if real else (
            rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
        out = qary_fft(x, q, real=real, nthreads=args.threads)
        ref = np.fft.fftn(x.reshape((batch,) + (q,) * n), axes=range(1, n + 1)).reshape(shape)
        err = float(np.abs(out - ref / q**n).max())
        t_ours = median_time(lambda: qary_fft(x, q, real=real, nthreads=args.threads), args.trials)
        t_np = median_time(lambda: np.fft.fftn(x.reshape((batch,) + (q,) * n),
                                               axes=range(1, n + 1)), args.trials)
        t_sp = median_time(lambda: scipy.fft.fftn(x.reshape((batch,) + (q,) * n),
                                                  axes=range(1, n + 1), workers=-1), args.trials)
        t_copy = median_time(lambda: np.copy(out), args.trials)
        p = passes(q, n, out.itemsize)
        row = {
            "case": f"q={q} n={n} batch={batch}" + (" real" if real else ""),
            "MB": out.nbytes / 1e6, "plmscope_ms": t_ours * 1e3, "numpy_ms": t_np * 1e3,
            "scipy_ms": t_sp * 1e3, "vs_numpy": t_np / t_ours, "vs_scipy": t_sp / t_ours,
            "copy_ms": t_copy * 1e3, "passes": p, "vs_floor": t_ours / (p * t_copy),
            "max_err": err,
        }
        if q == 2 and real and pyfwht is not None:
            # An explicit CPU backend: pyfwht's default picks CUDA whenever it was compiled
            # with it, even with no usable driver. fwht() copies its input, as qary_fft does,
            # and does not divide by 2^n.
            backend = "cpu" if args.threads == 1 else "openmp"
            fw_err = float(np.abs(pyfwht.fwht(x[0], backend=backend) / q**n - ref[0] / q**n).max())
            if fw_err > 1e-9:
                raise RuntimeError(f"pyfwht disagrees with numpy by {fw_err}: not the same transform")
            t_fw = median_time(lambda: pyfwht.fwht(x[0], backend=backend), args.trials)
            row["pyfwht_ms"] = t_fw * 1e3
            row["vs_pyfwht"] = t_fw / t_ours
        rows.append(row)
    cols = ["case", "MB", "plmscope_ms", "numpy_ms", "vs_numpy", "scipy_ms", "vs_scipy",
            "copy_ms", "passes", "vs_floor", "max_err"]
    if any("pyfwht_ms" in r for r in rows):
        cols += ["pyfwht_ms", "vs_pyfwht"]
    print(machine_line(args.threads))
    print("vs_* = peer time / plmscope time; vs_floor = time / (passes x copy)")
    print_table(rows, cols)
    if pyfwht is None:
        print("pyfwht: not installed (pip install pyfwht) - no Walsh-Hadamard peer in this run")


if __name__ == "__main__":
    main()
