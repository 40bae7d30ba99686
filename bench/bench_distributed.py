"""RayExecutor on a local Ray cluster: its per-shard overhead against a plain Ray loop, and
how close `plmscope plan`'s prediction comes to a measured run.

1. Overhead: an oracle that does no work (returns zeros), S shards of m variants (n = 10).
   Sides: LocalExecutor (no Ray), RayExecutor with 2 actors, and the plain Ray code a user
   would write beside it: 2 actors holding the oracle, ``ray.util.ActorPool.map_unordered``
   over the same shards, results collected on the driver (``plain_ray_run``; ActorPool keeps
   one shard per actor in flight, RayExecutor two). Every Ray side starts its actors inside
   the timed run and stops them at its end. The per-shard cost is the slope between two shard
   counts, (T(S2) - T(S1)) / (S2 - S1), so actor start-up cancels out; each T is the median
   of --trials runs after one warm-up. It bounds how many shards per second one driver can
   hand out (the planner assumes it keeps up). "vs plain" = per-shard cost / the plain
   loop's: what RayExecutor's bookkeeping (shard checks, retries, progress, per-actor table)
   costs over the bare loop.
2. Prediction: a simulated device that takes m / rate seconds per shard (sleeping, so it
   needs no CPU and 1..4 actors fit on a 2-core machine), the run timed end to end against
   ``estimate_run(queries, rate, actors, ...)`` with the actors' mean start-up (ready_s) as
   the load time.

Fixed seed; the driver of every side runs inside ``bench/common.py``'s ``pinned_threads`` at
all cores (the machine line says how many and the load).
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
from common import machine_line, pinned_threads, print_table  # noqa: E402

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


class PlainScorer:
    """The actor a plain Ray loop uses: it holds the oracle and scores one shard per call."""

    def __init__(self, oracle):
        self.oracle = oracle

    def score(self, index, variants):
        return index, self.oracle(variants)


def plain_ray_run(ray, oracle, tasks, on_result, num_actors=2, num_cpus=1.0) -> None:
    """The strongest plain baseline beside RayExecutor.run: ``num_actors`` PlainScorer actors,
    an ActorPool handing each free actor the next shard, ``on_result(index, values)`` on the
    driver as shards finish; the actors are stopped at the end, as RayExecutor's are."""
    from ray.util import ActorPool

    scorer = ray.remote(PlainScorer).options(num_cpus=num_cpus)
    actors = [scorer.remote(oracle) for _ in range(num_actors)]
    try:
        pool = ActorPool(actors)
        for index, values in pool.map_unordered(lambda a, t: a.score.remote(*t), tasks):
            on_result(index, values)
    finally:
        for actor in actors:
            ray.kill(actor)


class PlainRay:
    """plain_ray_run with the executor interface, so one timing loop runs every side."""

    def __init__(self, ray, num_actors, num_cpus):
        self.ray, self.num_actors, self.num_cpus = ray, num_actors, num_cpus

    def run(self, oracle, tasks, on_result):
        plain_ray_run(self.ray, oracle, tasks, on_result, self.num_actors, self.num_cpus)


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
        sides = [("local", LocalExecutor),
                 ("ray, 2 actors: RayExecutor", lambda: RayExecutor(num_actors=2, num_cpus=1,
                                                                    progress=False)),
                 ("ray, 2 actors: plain ActorPool loop", lambda: PlainRay(ray, 2, 1))]
        times = {name: {s1: [], s2: []} for name, _ in sides}
        print(f"1. executor overhead: shards of {m:,} variants (n = 10), an oracle doing no work; "
              f"vs plain = per-shard cost / the plain ActorPool loop's")
        with pinned_threads(0) as pin:
            print(machine_line(pin.threads))
            for name, make in sides:  # warm-up: the cluster's worker pool, imports
                run_once(make(), Zeros(), small)
            for _ in range(args.trials):  # the sides take turns, so they share the load
                for name, make in sides:
                    for count, tasks in ((s1, small), (s2, big)):
                        times[name][count].append(run_once(make(), Zeros(), tasks))
            load_after = os.getloadavg()[0]
        for name, _ in sides:
            t1, t2 = (statistics.median(times[name][c]) for c in (s1, s2))
            per_shard = (t2 - t1) / (s2 - s1)
            rows.append({"executor": name, f"T({s1}) s": t1, f"T({s2}) s": t2,
                         "per shard ms": per_shard * 1e3,
                         "shards/s": 1 / per_shard if per_shard > 0 else float("inf"),
                         "variants/s": m / per_shard if per_shard > 0 else float("inf")})
        plain = rows[-1]["per shard ms"]
        for row in rows:
            row["vs plain"] = row["per shard ms"] / plain
        print_table(rows, list(rows[0]))
        print(f"load at the end: {load_after:.2f}")

        with pinned_threads(0):
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
                rows.append({"actors": actors, "measured s": wall,
                             "predicted s": predicted.wall_s, "mean ready s": load,
                             "measured/predicted": wall / predicted.wall_s})
            print(f"\n2. prediction: {num} shards of {size} variants on simulated devices at "
                  f"{rate:,.0f} variants/s")
            print_table(rows, list(rows[0]))
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
