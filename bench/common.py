"""Shared timing helpers for the benchmarks: fixed seeds, warm-up, median of trials."""
from __future__ import annotations

import os
import statistics
import time


def median_time(fn, trials: int = 5, warmup: int = 1) -> float:
    """Median wall time of fn() in seconds over `trials` runs after `warmup` runs."""
    return median_times(fn, trials=trials, warmup=warmup)[0]


def paired_median_times(fa, fb, trials: int = 5, warmup: int = 1) -> tuple[float, float]:
    """Median wall times of fa() and fb() in seconds, the calls alternating (a, b, a, b, ...)
    after `warmup` calls of each, so both sides see the same machine: on a shared VM the
    load and the state of freed memory (pages handed back to the host cost ~2.5 ms/MB to
    touch again) drift between two blocks of trials timed one after the other."""
    return median_times(fa, fb, trials=trials, warmup=warmup)


def median_times(*fns, trials: int = 5, warmup: int = 1) -> tuple[float, ...]:
    """Median wall time in seconds of each fn, the calls taking turns, after `warmup`
    rounds of them all."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(trials):
        for fn, spent in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - t0)
    return tuple(statistics.median(t) for t in times)


def print_table(rows: list[dict], columns: list[str]) -> None:
    """Print rows as an aligned text table (floats to 4 significant digits)."""
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths)))


def machine_line(threads: int) -> str:
    """Cores, threads asked for, the 1-minute load average and the OpenMP wait policy:
    on a shared machine a load above the core count slows the threaded kernels, most of
    all with OpenMP's default spin-waiting (OMP_WAIT_POLICY=passive avoids it)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    policy = os.environ.get("OMP_WAIT_POLICY", "default")
    return (f"cores: {os.cpu_count()}  threads: {threads or 'all'}  load: {load:.2f}  "
            f"OMP_WAIT_POLICY: {policy}")


class pinned_threads:
    """Run a benchmark side with exactly `threads` threads in every pool a peer might use.

    `with pinned_threads(1): ...` caps OpenMP/OpenBLAS/MKL (threadpoolctl), torch's intra-op
    pool and scipy.fft's workers for the block, and restores them after; 0 means all cores.
    Our own kernels take `nthreads` explicitly: pass `pinned.threads` (the resolved count) so
    plmscope and its peer run with the same number. Every bench times every side inside one,
    so none can compare a 2-thread plmscope with a 1-thread peer by accident."""

    def __init__(self, threads: int):
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
            raise ValueError(f"threads must be an integer >= 0 (0 = all cores), got {threads!r}")
        self.threads = threads or (os.cpu_count() or 1)

    def __enter__(self):
        from contextlib import ExitStack
        self._stack = ExitStack()
        try:  # load scipy's own OpenBLAS first, or threadpoolctl cannot see (and cap) it
            import scipy.linalg  # noqa: F401
        except ImportError:
            pass
        try:
            from threadpoolctl import threadpool_limits
            self._stack.enter_context(threadpool_limits(limits=self.threads))
        except ImportError:  # threadpoolctl comes with scikit-learn (dev extra)
            raise RuntimeError("pinned_threads needs threadpoolctl: pip install '.[dev]'")
        try:
            import scipy.fft
            self._stack.enter_context(scipy.fft.set_workers(self.threads))
        except ImportError:
            pass
        try:
            import torch
            before = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            self._stack.callback(torch.set_num_threads, before)
        except ImportError:
            pass
        return self

    def __exit__(self, *exc):
        self._stack.close()
        return False


def thread_counts(arg: int) -> list[int]:
    """The thread counts a bench reports: 1 and all cores (or only `arg` when given)."""
    cores = os.cpu_count() or 1
    return [arg] if arg else sorted({1, cores})
