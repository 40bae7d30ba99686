"""RayExecutor on a local Ray cluster: its per-shard overhead, and how close `plmscope plan`'s
prediction comes to a measured run.

1. Overhead: an oracle that does no work (returns zeros), S shards of m variants (n = 10),
   LocalExecutor against RayExecutor with 2 actors. The per-shard cost is the slope between
   two shard counts, (T(S2) - T(S1)) / (S2 - S1), so actor start-up cancels out; it bounds
   how many shards per second one driver can hand out (the planner assumes it keeps up).
2. Prediction: a simulated device that takes m / rate seconds per shard (sleeping, so it
   needs no CPU and 1..4 actors fit on a 2-core machine), the run timed end to end against
   ``estimate_run(queries, rate, actors, ...)`` with the actors' mean start-up (ready_s) as
   the load time.

Fixed seed, one warm-up run (starts the cluster's worker pool), median of N trials.
Run: python bench/bench_distributed.py [--trials 3] [--cpus 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import median_time, print_table  # noqa: E402

from plmscope.distributed import RayExecutor, estimate_run  # noqa: E402
from plmscope.fourier.qsft import LocalExecutor  # noqa: E402


class Zeros:
    def __call__(self, x):
        return np.zeros(len(x))


class SimulatedDevice:
    """Scores ``rate`` variants per second (sleeps m / rate per call)."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, x):
        time.sleep(len(x) / self.rate)
        return np.zeros(len(x))


def tasks_of(num, size, n=10, seed=0):
    rng = np.random.default_rng(seed)
    return [(i, rng.integers(0, 20, size=(size, n)).astype(np.uint8)) for i in range(num)]


def run_once(executor, oracle, tasks) -> float:
    t0 = time.perf_counter()
    executor.run(oracle, tasks, lambda i, v: None)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    args = ap.parse_args()
    import ray

    ray.init(num_cpus=args.cpus, num_gpus=0, include_dashboard=False, logging_level="ERROR")
    try:
        rows = []
        m, s1, s2 = 1000, 50, 250
        small, big = tasks_of(s1, m), tasks_of(s2, m)
        for name, make in [("local", LocalExecutor),
                           ("ray, 2 actors", lambda: RayExecutor(num_actors=2, num_cpus=1,
                                                                 progress=False))]:
            t1 = median_time(lambda: run_once(make(), Zeros(), small), args.trials)
            t2 = median_time(lambda: run_once(make(), Zeros(), big), args.trials)
            per_shard = (t2 - t1) / (s2 - s1)
            rows.append({"executor": name, f"T({s1}) s": t1, f"T({s2}) s": t2,
                         "per shard ms": per_shard * 1e3,
                         "shards/s": 1 / per_shard if per_shard > 0 else float("inf"),
                         "variants/s": m / per_shard if per_shard > 0 else float("inf")})
        print(f"1. executor overhead: shards of {m:,} variants (n = 10), an oracle doing no work")
        print_table(rows, list(rows[0]))

        rate, size, num = 5000.0, 500, 40
        tasks = tasks_of(num, size)
        rows = []
        for actors in (1, 2, 4):
            walls, loads = [], []
            for _ in range(args.trials + 1):  # the first run is the warm-up
                ex = RayExecutor(num_actors=actors, num_cpus=args.cpus / 4, progress=False)
                walls.append(run_once(ex, SimulatedDevice(rate), tasks))
                loads.append(float(ex.actor_table["ready_s"].mean()))
            wall, load = statistics.median(walls[1:]), statistics.median(loads[1:])
            predicted = estimate_run(num * size, rate, actors, batch_size=size, load_s=load)
            rows.append({"actors": actors, "measured s": wall, "predicted s": predicted.wall_s,
                         "mean ready s": load, "measured/predicted": wall / predicted.wall_s})
        print(f"\n2. prediction: {num} shards of {size} variants on simulated devices at "
              f"{rate:,.0f} variants/s")
        print_table(rows, list(rows[0]))
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
