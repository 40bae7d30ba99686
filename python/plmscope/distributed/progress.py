"""Progress of a distributed run: queries done / total, throughput per actor, a final table."""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass


@dataclass
class ActorStats:
    """What one actor did. ``busy_s`` is time spent inside the oracle (the actor's own clock),
    so ``queries / busy_s`` is its scoring throughput without transfer or queueing."""

    actor: str
    state: str = "starting"      # starting, running, then finished, unused, lost, failed, stopped
    host: str = ""
    pid: int = 0
    gpus: str = ""
    build_s: float = float("nan")     # the oracle's build (model load) on the actor
    reused_model: bool = False   # kept from an earlier run, it built on the model it held
    ready_s: float = float("nan")     # run start to ready: scheduling, process start, build
    shards: int = 0
    queries: int = 0
    busy_s: float = 0.0
    lost_shards: int = 0         # shards in flight on it when it died
    duplicates: int = 0          # shards it answered after another actor already had

    @property
    def throughput(self) -> float:
        return self.queries / self.busy_s if self.busy_s > 0 else float("nan")


class ClusterProgress:
    """A tqdm bar over all queries of a run, with per-actor throughput in its postfix."""

    def __init__(self, total: int, progress: bool | None):
        from tqdm.auto import tqdm

        self.total = total
        self.done = 0
        self.actors: dict[str, ActorStats] = {}
        self.started = time.perf_counter()
        self.retried = 0
        self._bar = tqdm(total=total, unit="query", desc="ray", dynamic_ncols=True,
                         disable=(not progress) if progress is not None else None)
        self.shown = not self._bar.disable

    def add_actor(self, name: str) -> ActorStats:
        stats = self.actors[name] = ActorStats(name)
        return stats

    def shard_done(self, stats: ActorStats, queries: int, seconds: float, fresh: bool) -> None:
        stats.shards += 1
        stats.queries += queries
        stats.busy_s += seconds
        if not fresh:
            stats.duplicates += 1
            return
        self.done += queries
        self._bar.update(queries)
        rates = [a.throughput for a in self.actors.values() if a.busy_s > 0]
        running = sum(a.state == "running" for a in self.actors.values())
        if rates:
            self._bar.set_postfix_str(
                f"{running} actors, per actor {min(rates):,.0f}/{statistics.median(rates):,.0f}/"
                f"{max(rates):,.0f} q/s (min/median/max)", refresh=False)

    def note(self, message: str) -> None:
        self._bar.write(message)

    def close(self) -> None:
        self._bar.close()

    def rows(self) -> list[dict]:
        return [{**asdict(a), "queries_per_s": a.throughput} for a in self.actors.values()]

    def table(self):
        """One row per actor (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def summary(self) -> str:
        wall = time.perf_counter() - self.started
        used = [a for a in self.actors.values() if a.shards]
        rate = self.done / wall if wall > 0 else float("nan")
        lines = [f"ray: {self.done:,} of {self.total:,} queries on {len(used)} actor(s) in "
                 f"{wall:,.1f} s ({rate:,.1f} queries/s overall), {self.retried} shard(s) retried, "
                 f"{sum(a.duplicates for a in self.actors.values())} duplicate answer(s) dropped"]
        header = f"{'actor':<8} {'state':<9} {'host':<16} {'gpus':<5} {'ready s':>8} " \
                 f"{'build s':>8} {'shards':>7} {'queries':>11} {'busy s':>9} {'queries/s':>10} " \
                 f"{'lost':>5}"
        lines.append(header)
        for a in self.actors.values():
            lines.append(f"{a.actor:<8} {a.state:<9} {a.host[:16]:<16} {a.gpus or '-':<5} "
                         f"{a.ready_s:>8.2f} {a.build_s:>8.2f} {a.shards:>7,} {a.queries:>11,} "
                         f"{a.busy_s:>9.2f} {a.throughput:>10,.1f} {a.lost_shards:>5}")
        return "\n".join(lines)
