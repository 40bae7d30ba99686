"""How long the oracle queries of a run take on G devices, from one device's throughput.

The model is the executor's own schedule: the queries are cut into batches of ``batch_size``
and each batch into shards of at most ``shard_size``; every device first loads the model
(``load_s``), then takes the next shard as soon as it is free (the executor queues ahead, so
no device waits for the driver); a shard of m variants takes m / throughput seconds. The
wall time is when the last device finishes: ceil(shards / G) rounds when shards are equal,
which is where adding devices stops paying.
"""
from __future__ import annotations

import heapq
import math
import numbers
from dataclasses import dataclass

from .._checks import check_int, check_number


@dataclass(frozen=True)
class RunEstimate:
    """Predicted cost of the oracle queries of one run on ``gpus`` devices."""

    gpus: int
    num_queries: int
    num_shards: int
    max_shards_per_gpu: int
    wall_s: float            # load + scoring, until the last device finishes
    gpu_hours: float         # devices x wall time (what a cluster bills)
    efficiency: float        # scoring time on one device / (gpus x scoring wall time)


def shard_sizes(num_queries: int, batch_size: int, shard_size: int | None) -> list[int]:
    """Sizes of the shards, in the order the executor hands them out."""
    sizes = []
    for lo in range(0, num_queries, batch_size):
        m = min(batch_size, num_queries - lo)
        step = shard_size or m
        sizes += [min(step, m - s) for s in range(0, m, step)]
    return sizes


def _check(name, value, low, integer):
    return check_int(name, value, low) if integer else check_number(name, value, low)


def estimate_run(num_queries: int, throughput: float, gpus: int, batch_size: int = 10_000,
                 shard_size: int | None = None, load_s: float = 0.0) -> RunEstimate:
    """Wall time of scoring ``num_queries`` variants on ``gpus`` devices that each score
    ``throughput`` variants per second after ``load_s`` seconds of model loading."""
    _check("num_queries", num_queries, 0, True)
    _check("gpus", gpus, 1, True)
    _check("batch_size", batch_size, 1, True)
    if shard_size is not None:
        _check("shard_size", shard_size, 1, True)
    _check("load_s", load_s, 0, False)
    if isinstance(throughput, bool) or not isinstance(throughput, numbers.Real) \
            or not throughput > 0 or not math.isfinite(throughput):
        raise ValueError(f"throughput must be a number of variants per second > 0, got "
                         f"throughput={throughput!r}")
    sizes = shard_sizes(num_queries, batch_size, shard_size)
    free = [(0.0, g) for g in range(min(gpus, max(len(sizes), 1)))]
    counts = [0] * len(free)
    for m in sizes:  # each shard to the device that frees up first (ties: lowest index)
        t, g = heapq.heappop(free)
        counts[g] += 1
        heapq.heappush(free, (t + m / throughput, g))
    scoring = max(t for t, _ in free)
    serial = num_queries / throughput
    return RunEstimate(
        gpus=gpus, num_queries=num_queries, num_shards=len(sizes),
        max_shards_per_gpu=max(counts) if sizes else 0, wall_s=load_s + scoring,
        gpu_hours=gpus * (load_s + scoring) / 3600.0,
        efficiency=serial / (gpus * scoring) if scoring > 0 else 1.0)
