"""RayExecutor on a local Ray cluster: its per-shard overhead against plain Ray loops, and
how close `plmscope plan`'s prediction comes to a measured run.

1. Overhead: an oracle that does no work (returns zeros), S shards of m variants (n = 10).
   Sides: LocalExecutor (no Ray), RayExecutor with 2 actors, and the plain Ray code a user
   would write beside it, 2 actors holding the oracle and the results collected on the
   driver: ``ray.util.ActorPool.map_unordered`` over the same shards (``plain_ray_run``; one
   shard per actor in flight), and a ``ray.wait`` loop keeping two shards per actor in
   flight as RayExecutor does (``plain_wait_run``). The Ray sides keep their actors warm
   between runs (RayExecutor inside ``with``; the plain actors are started once): actor
   start-up varies by a second from run to run, which over a few hundred shards would swamp
   a cost of a millisecond per shard. Each actor asks for a quarter of a CPU, so all six
   stay up together on a 2-CPU cluster (they idle in turn; the oracle needs no CPU). The
   per-shard cost is the slope between two shard counts, (T(S2) - T(S1)) / (S2 - S1), so
   fixed per-run costs (RayExecutor sends the oracle's recipe to its kept actors) cancel
   out; each T is the median of --trials runs after one warm-up, the sides taking turns so
   they share the load. It bounds how many shards per second one driver can hand out (the
   planner assumes it keeps up). "vs pool" and "vs wait" = per-shard cost / that plain
   loop's: what RayExecutor's bookkeeping (shard checks, retries, progress, per-actor table)
   costs over a bare loop.
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


def start_plain_actors(ray, oracle, num_actors=2, num_cpus=1.0) -> list:
    """``num_actors`` PlainScorer actors holding ``oracle``."""
    scorer = ray.remote(PlainScorer).options(num_cpus=num_cpus)
    return [scorer.remote(oracle) for _ in range(num_actors)]


def plain_ray_run(actors, tasks, on_result) -> None:
    """The strongest plain baseline beside RayExecutor.run: an ActorPool handing each free
    actor the next (index, variants) shard, ``on_result(index, values)`` on the driver as
    shards finish."""
    from ray.util import ActorPool

    pool = ActorPool(actors)
    for index, values in pool.map_unordered(lambda a, t: a.score.remote(*t), tasks):
        on_result(index, values)


def plain_wait_run(ray, actors, tasks, on_result, inflight=2) -> None:
    """The same with ``inflight`` shards queued on each actor (RayExecutor's default depth),
    so an actor never waits for the driver: ``ray.wait`` for the first answer, hand that
    actor the next shard."""
    pending = iter(tasks)
    running = {}

    def submit(actor):
        task = next(pending, None)
        if task is not None:
            running[actor.score.remote(*task)] = actor

    for _ in range(inflight):
        for actor in actors:
            submit(actor)
    while running:
        (ref,), _ = ray.wait(list(running), num_returns=1)
        actor = running.pop(ref)
        submit(actor)
        on_result(*ray.get(ref))


class PlainRay:
    """A plain loop ("pool": plain_ray_run, "wait": plain_wait_run) with the executor
    interface, so one timing loop runs every side. The actors start on the first run, with
    its oracle, and are kept until the ``with`` block ends (as RayExecutor keeps its own
    inside one); later runs reuse them and their oracle."""

    def __init__(self, ray, num_actors=2, num_cpus=1.0, loop="pool"):
        if loop not in ("pool", "wait"):
            raise ValueError(f"loop must be 'pool' or 'wait', got {loop!r}")
        self.ray, self.num_actors, self.num_cpus, self.loop = ray, num_actors, num_cpus, loop
        self.actors = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []

    def run(self, oracle, tasks, on_result):
        if not self.actors:
            self.actors = start_plain_actors(self.ray, oracle, self.num_actors, self.num_cpus)
        if self.loop == "pool":
            plain_ray_run(self.actors, tasks, on_result)
        else:
            plain_wait_run(self.ray, self.actors, tasks, on_result)


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
        m, s1, s2 = 1000, 100, 1100
        small, big = tasks_of(s1, m), tasks_of(s2, m)
        print(f"1. executor overhead: shards of {m:,} variants (n = 10), an oracle doing no work, "
              f"warm actors; vs pool / vs wait = per-shard cost / that plain loop's")
        cpus = 0.25  # three Ray sides x 2 actors on 2 CPUs
        with pinned_threads(0) as pin, \
                RayExecutor(num_actors=2, num_cpus=cpus, progress=False) as executor, \
                PlainRay(ray, 2, cpus, loop="pool") as pool, \
                PlainRay(ray, 2, cpus, loop="wait") as wait:
            sides = [("local", LocalExecutor()), ("ray, 2 actors: RayExecutor", executor),
                     ("ray, 2 actors: plain ActorPool loop", pool),
                     ("ray, 2 actors: plain ray.wait loop, 2 in flight", wait)]
            times = {name: {s1: [], s2: []} for name, _ in sides}
            print(machine_line(pin.threads))
            for name, side in sides:  # warm-up: starts the actors
                run_once(side, Zeros(), small)
            for _ in range(args.trials):  # the sides take turns, so they share the load
                for name, side in sides:
                    for count, tasks in ((s1, small), (s2, big)):
                        times[name][count].append(run_once(side, Zeros(), tasks))
            load_after = os.getloadavg()[0]
        for name, _ in sides:
            t1, t2 = (statistics.median(times[name][c]) for c in (s1, s2))
            per_shard = (t2 - t1) / (s2 - s1)
            rows.append({"executor": name, f"T({s1}) s": t1, f"T({s2}) s": t2,
                         "per shard ms": per_shard * 1e3,
                         "shards/s": 1 / per_shard if per_shard > 0 else float("inf"),
                         "variants/s": m / per_shard if per_shard > 0 else float("inf")})
        pool_ms, wait_ms = rows[-2]["per shard ms"], rows[-1]["per shard ms"]
        for row in rows:
            row["vs pool"] = row["per shard ms"] / pool_ms
            row["vs wait"] = row["per shard ms"] / wait_ms
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
