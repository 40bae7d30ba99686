"""Shared timing helpers for the benchmarks: fixed seeds, warm-up, median of trials."""
from __future__ import annotations

import os
import statistics
import time


def median_time(fn, trials: int = 5, warmup: int = 1) -> float:
    """Median wall time of fn() in seconds over `trials` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(trials):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


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
