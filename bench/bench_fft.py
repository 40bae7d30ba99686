"""qary_fft against numpy.fft.fftn, scipy.fft.fftn, a numpy butterfly WHT and pyfwht, with a
memory floor, every side at the same thread count.

Cases: q = 20, n = 4, batch 22 (q-SFT's inner transform at the paper setting, 56 MB);
q = 4, n = 10; q = 2, n = 20 and n = 24 (real Walsh-Hadamard, 8 MB and 134 MB; fftn over 24 length-2
axes takes tens of seconds, so at n = 24 only the butterfly and pyfwht run beside it). Each case
runs at 1 thread and at all cores (or only --threads N): inside ``pinned_threads`` every
pool a side may use is capped to that count (scipy's workers, OpenMP/OpenBLAS through
threadpoolctl) and plmscope gets the same nthreads; numpy.fft is single-threaded by design.
The plain baselines a user would write: for q > 2 ``scipy.fft.fftn`` on the (q,)*n reshaped
array; for the Walsh-Hadamard transform a numpy butterfly (``numpy_wht``: one add/subtract
per stage on a (.., 2, h) view, then the 2^-n scale qary_fft applies). The floor is one
``np.copy`` of the output (a fresh array, as every side returns one), timed in turns with
plmscope (a, b, a, b, ...): vs_copy = time / copy time. "passes" is how often plmscope
streams the array through memory: the input copy is fused into the cache-blocked low sites;
rows of up to 4 MB, when the batch spreads evenly over the threads, are finished in cache
one row per task (one pass: read the input, write the output); other rows past one block
take a second pass for their column panels. Run with OMP_WAIT_POLICY=passive on a loaded
machine: spinning OpenMP threads otherwise lose whole time slices at 2 threads. Times are
medians of --trials warm runs (one warm-up each), for every side. --profile adds, per case,
where plmscope's time goes: the same transform in place on a warm, already faulted array
(arithmetic and cache traffic only), and the page faults of a fresh output of that size
(np.empty_like(out) filled by numpy on one thread, minus the same fill of a faulted array),
which a fresh output costs every side, np.copy included.
Run: python bench/bench_fft.py [--threads N] [--profile]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import scipy.fft

sys.path.insert(0, os.path.dirname(__file__))
from common import (machine_line, median_time, paired_median_times, pinned_threads,  # noqa: E402
                    print_table, thread_counts)

from plmscope import _core  # noqa: E402
from plmscope.fourier import qary_fft  # noqa: E402

BLOCK_BYTES = 256 * 1024  # the core's cache block (cpp/src/qary_fft.cpp)
ROW_CACHE_BYTES = 4 * 1024 * 1024  # rows up to this size are done one row per task


def passes(q: int, n: int, batch: int, itemsize: int, threads: int) -> int:
    """Passes over memory, input copy included (execute() in cpp/src/qary_fft_kernels.inc)."""
    row = q**n * itemsize
    rounds = -(-batch // threads)
    if row <= BLOCK_BYTES or (row <= ROW_CACHE_BYTES and 4 * rounds * threads <= 5 * batch):
        return 1
    return 2


def numpy_wht(x: np.ndarray) -> np.ndarray:
    """Normalised Walsh-Hadamard transform of a length-2^n vector: the standard butterfly,
    one stage per site, in place on a copy with numpy slicing."""
    y = np.array(x, dtype=np.float64)
    h = 1
    while h < y.size:
        v = y.reshape(-1, 2, h)
        a = v[:, 0, :].copy()
        v[:, 0, :] += v[:, 1, :]
        np.subtract(a, v[:, 1, :], out=v[:, 1, :])
        h *= 2
    y *= 1.0 / y.size
    return y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=0,
                    help="one thread count for every side (default: 1 and all cores)")
    ap.add_argument("--trials", type=int, default=9)
    ap.add_argument("--profile", action="store_true",
                    help="also time the transform in place on a warm array, and the page "
                         "faults of a fresh output")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    try:
        import pyfwht
    except ImportError:
        pyfwht = None

    cases = [(20, 4, 22, False), (4, 10, 1, False), (2, 20, 1, True), (2, 24, 1, True)]
    rows = []
    for threads in thread_counts(args.threads):
        for q, n, batch, real in cases:
            shape = (batch, q**n)
            x = rng.standard_normal(shape) if real else (
                rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
            cube = x.reshape((batch,) + (q,) * n)
            axes = tuple(range(1, n + 1))
            with pinned_threads(threads) as pin:
                nt = pin.threads
                out = qary_fft(x, q, real=real, nthreads=nt)
                ref = scipy.fft.fftn(cube, axes=axes, workers=nt).reshape(shape) / q**n
                err = float(np.abs(out - ref).max())
                # the floor is timed in turns with plmscope, so both see the same machine
                t_ours, t_copy = paired_median_times(
                    lambda: qary_fft(x, q, real=real, nthreads=nt), lambda: np.copy(out),
                    args.trials)
                if q**n * batch <= 2**22:
                    t_np = median_time(lambda: np.fft.fftn(cube, axes=axes), args.trials)
                    t_sp = median_time(lambda: scipy.fft.fftn(cube, axes=axes, workers=nt),
                                       args.trials)
                else:  # fftn over 24 length-2 axes takes tens of seconds: the butterfly stands in
                    t_np = t_sp = float("nan")
                row = {
                    "threads": nt,
                    "case": f"q={q} n={n} batch={batch}" + (" real" if real else ""),
                    "MB": out.nbytes / 1e6, "plmscope_ms": t_ours * 1e3, "numpy_ms": t_np * 1e3,
                    "scipy_ms": t_sp * 1e3, "vs_numpy": t_np / t_ours, "vs_scipy": t_sp / t_ours,
                    "copy_ms": t_copy * 1e3, "vs_copy": t_ours / t_copy,
                    "passes": passes(q, n, batch, out.itemsize, nt), "max_err": err,
                }
                if q == 2 and real:
                    wht_err = float(np.abs(numpy_wht(x[0]) - out[0]).max())
                    if wht_err > 1e-9:
                        raise RuntimeError(f"numpy_wht disagrees with qary_fft by {wht_err}")
                    t_bf = median_time(lambda: numpy_wht(x[0]), args.trials)
                    row["butterfly_ms"], row["vs_butterfly"] = t_bf * 1e3, t_bf / t_ours
                if q == 2 and real and pyfwht is not None:
                    # An explicit CPU backend: pyfwht's default picks CUDA whenever it was
                    # compiled with it, even with no usable driver. fwht() copies its input,
                    # as qary_fft does, and does not divide by 2^n; its OpenMP pool is capped
                    # by pinned_threads like every other.
                    backend = "cpu" if nt == 1 else "openmp"
                    fw = pyfwht.fwht(x[0], backend=backend) / q**n
                    fw_err = float(np.abs(fw - out[0]).max())
                    if fw_err > 1e-9:
                        raise RuntimeError(f"pyfwht disagrees by {fw_err}: not the same transform")
                    t_fw = median_time(lambda: pyfwht.fwht(x[0], backend=backend), args.trials)
                    row["pyfwht_ms"], row["vs_pyfwht"] = t_fw * 1e3, t_fw / t_ours
                if args.profile:
                    warm = out.copy()
                    inplace = (lambda: _core.walsh_hadamard_inplace(warm, False, nt)) if real \
                        else (lambda: _core.qary_fft_inplace(warm, q, False, nt))
                    row["inplace_ms"] = median_time(inplace, args.trials) * 1e3
                    t_touch = median_time(lambda: np.empty_like(out).fill(0), args.trials)
                    t_fill = median_time(lambda: warm.fill(0), args.trials)
                    row["faults_ms"] = (t_touch - t_fill) * 1e3
            rows.append(row)
    cols = ["threads", "case", "MB", "plmscope_ms", "numpy_ms", "vs_numpy", "scipy_ms",
            "vs_scipy", "copy_ms", "vs_copy", "passes", "max_err"]
    if any("butterfly_ms" in r for r in rows):
        cols += ["butterfly_ms", "vs_butterfly"]
    if any("pyfwht_ms" in r for r in rows):
        cols += ["pyfwht_ms", "vs_pyfwht"]
    if args.profile:
        cols += ["inplace_ms", "faults_ms"]
    print(machine_line(args.threads))
    print("every side pinned to the row's thread count; medians of warm runs; "
          "vs_* = peer time / plmscope time; vs_copy = plmscope time / np.copy time")
    print_table(rows, cols)
    if pyfwht is None:
        print("pyfwht: not installed (pip install pyfwht) - no Walsh-Hadamard peer in this run")


if __name__ == "__main__":
    main()
