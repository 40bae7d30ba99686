"""Run the oracle batches of one q-SFT experiment on a Ray cluster.

:class:`RayExecutor` implements the executor protocol of
:func:`plmscope.fourier.qsft.recover`: ``run(oracle, tasks, on_result)`` with ``tasks`` a list
of ``(batch_index, variants)``. Each batch is cut into shards; one actor per GPU (or CPU
worker) builds the oracle once and scores shards; every finished batch goes to ``on_result``
on the driver at once, which checks it and writes it to the run's store before the next result
is taken. The answers therefore do not depend on where, in which order or how often a shard
ran, and a distributed run gives the same store and result as a local one.

Runs in a ``with executor:`` block keep their actors: the next run sends them its recipe
instead of starting new ones, so a model is loaded once per actor for all the runs of the block
(the q-SFT design and its held-out set, the landscapes of several repeats).

Faults: a shard whose actor dies (killed, crashed, out of memory, node lost) goes back to the
queue and the actor is replaced; a shard answered twice (a speculative copy) is dropped. A
driver that dies loses only the batches in flight: rerunning with the same store re-asks
nothing that was answered.
"""
from __future__ import annotations

import collections
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .._checks import check_int, check_number
from .actor import OracleActor, oracle_recipe
from .progress import ActorStats, ClusterProgress

logger = logging.getLogger("plmscope.distributed")

INSTALL_HINT = "pip install 'plmscope[distributed]' (or pip install ray)"


def require_ray():
    """The ``ray`` module, or ImportError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f"running on a Ray cluster needs Ray: {INSTALL_HINT}") from exc
    return ray


def _faults(ray) -> tuple:
    """Errors that mean the worker, not the oracle, failed: the shard is retried elsewhere."""
    e = ray.exceptions
    return (e.RayActorError, e.WorkerCrashedError, e.NodeDiedError, e.ObjectLostError,
            e.OutOfMemoryError)


@dataclass
class _Shard:
    id: int
    batch: int
    piece: int
    variants: np.ndarray
    failures: int = 0
    copies: int = 0          # submissions in flight
    submitted: float = 0.0   # perf_counter of the first submission in flight


@dataclass
class _Actor:
    name: str
    slot: int
    generation: int
    handle: object
    stats: ActorStats
    running: set = field(default_factory=set)   # refs of its shards in flight


def _positive_int(name: str, value, allow_none: bool = True):
    return check_int(name, value, 1, allow_none=allow_none)


def _resource(name: str, value):
    return check_number(name, value, 0, " (per actor; fractions share a device)", allow_none=True)


class RayExecutor:
    """Score q-SFT oracle batches with Ray actors, one per GPU or CPU worker.

    Parameters
    ----------
    address : "auto", "ray://host:port", "host:port" or None
        Ray cluster to join ("auto": the one started on this machine with ``ray start``).
        None starts a local cluster in this process. An already initialised Ray is used as is.
    num_actors : int or None
        Actors to start. None: one per GPU of the cluster, or one per ``num_cpus`` CPUs when
        the actors use no GPU. Never more than there are shards.
    num_gpus, num_cpus : float or None
        Resources of one actor. ``num_gpus`` None: 1 when the cluster has GPUs, else 0.
        ``num_cpus`` None: 1.
    shard_size : int or None
        Variants per actor call; a batch of ``recover``'s ``batch_size`` is cut into shards of
        at most this many (None: one shard per batch). Smaller shards balance better and lose
        less work to a fault; larger ones cost less overhead.
    max_retries : int
        How often a shard may be lost to a dead actor, and how often each actor is replaced,
        before the run gives up.
    inflight : int
        Shards queued on an actor at once, so a GPU never waits for the driver.
    speculative : bool
        When the queue is empty, idle actors also run copies of the oldest shards still in
        flight; the first answer wins (helps when one device is slow). The oracle is then asked
        some variants twice.
    oracle_factory : OracleSpec, zero-argument callable or None
        What the actors build their oracle from, instead of the oracle given to ``run``
        (an oracle with a ``spec`` already sends only its spec).
    runtime_env : dict or None
        Ray runtime environment of the actors (e.g. ``{"pip": [...]}``, ``{"env_vars": ...}``).
    progress : bool or None
        Progress bar and final per-actor table on stderr: True always, False never, None on a
        terminal. The table is also logged (logger ``plmscope.distributed``, INFO) and kept in
        :attr:`actor_table` / :attr:`summary` after a run.

    Each :meth:`run` starts its actors and stops them at its end, unless the executor is used
    as a context manager: inside ``with executor:`` a run that finishes keeps its actors for
    the next run, which gives them its oracle's recipe; an actor holding the model of that
    recipe's spec (same ``model_key``) reuses it instead of loading it again. The block's end
    (or :meth:`close`) stops them.
    """

    def __init__(self, address: str | None = "auto", num_actors: int | None = None,
                 num_gpus: float | None = None, num_cpus: float | None = None,
                 shard_size: int | None = None, max_retries: int = 3, inflight: int = 2,
                 speculative: bool = False, oracle_factory=None, runtime_env: dict | None = None,
                 progress: bool | None = None, poll_s: float = 1.0):
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ValueError(f"address must be 'auto', a cluster address (host:port or "
                             f"ray://host:port) or None for a local cluster, got {address!r}")
        self.address = address
        self.num_actors = _positive_int("num_actors", num_actors)
        self.num_gpus = _resource("num_gpus", num_gpus)
        self.num_cpus = _resource("num_cpus", num_cpus)
        self.shard_size = _positive_int("shard_size", shard_size)
        self.max_retries = check_int("max_retries", max_retries, 0)
        self.inflight = _positive_int("inflight", inflight, allow_none=False)
        self.speculative = bool(speculative)
        if oracle_factory is not None:
            oracle_recipe(None, oracle_factory)  # fail here, not on the cluster
        self.oracle_factory = oracle_factory
        if runtime_env is not None and not isinstance(runtime_env, dict):
            raise ValueError(f"runtime_env must be a dict or None, got "
                             f"{type(runtime_env).__name__}")
        self.runtime_env = runtime_env
        self.progress = progress
        self.poll_s = float(poll_s)
        self.actor_table = None
        self.summary = ""
        self._actors: list[_Actor] = []
        self._keep = False
        self._pool: list = []   # handles of the actors kept from the last run, by slot

    def __repr__(self) -> str:
        return (f"RayExecutor(address={self.address!r}, num_actors={self.num_actors}, "
                f"num_gpus={self.num_gpus}, num_cpus={self.num_cpus}, "
                f"shard_size={self.shard_size}, max_retries={self.max_retries})")

    @property
    def actors(self) -> list:
        """Handles of the actors alive or starting (during a run; afterwards empty, or inside
        a ``with`` block the actors kept for the next run)."""
        if not self._actors:
            return list(self._pool)
        return [a.handle for a in self._actors if a.stats.state in ("starting", "running")]

    def __enter__(self):
        self._keep = True
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the actors kept between runs and keep none from now on."""
        self._keep = False
        pool, self._pool = self._pool, []
        if not pool:
            return
        ray = require_ray()
        if ray.is_initialized():
            for handle in pool:
                ray.kill(handle, no_restart=True)

    # -- setup -----------------------------------------------------------------------------

    def _connect(self, ray) -> None:
        if ray.is_initialized():
            return
        try:
            ray.init(address=self.address)
        except ConnectionError as exc:
            raise ValueError(
                f"no Ray cluster found at address={self.address!r} ({exc}); start one with "
                "`ray start --head` (then address='auto'), give its address, or pass "
                "address=None to start a local cluster") from exc

    def _resources(self, ray, num_shards: int) -> tuple[int, float, float]:
        total = ray.cluster_resources()
        have_gpus, have_cpus = float(total.get("GPU", 0)), float(total.get("CPU", 0))
        gpus = self.num_gpus if self.num_gpus is not None else (1.0 if have_gpus >= 1 else 0.0)
        cpus = self.num_cpus if self.num_cpus is not None else 1.0
        count = self.num_actors
        if count is None:
            if gpus > have_gpus or cpus > have_cpus:
                raise ValueError(
                    f"one actor needs num_gpus={gpus:g}, num_cpus={cpus:g} but the cluster has "
                    f"{have_gpus:g} GPU(s) and {have_cpus:g} CPU(s); lower them, or pass "
                    "num_actors to wait for an autoscaling cluster")
            if gpus > 0:
                count = int(have_gpus // gpus)
            else:
                count = int(have_cpus // cpus) if cpus > 0 else 1
        return max(1, min(count, num_shards)), gpus, cpus

    def _shards(self, tasks) -> tuple[list[_Shard], dict[int, int]]:
        shards, pieces = [], {}
        for batch, variants in tasks:
            variants = np.ascontiguousarray(variants)
            m = variants.shape[0]
            size = self.shard_size or max(m, 1)
            starts = range(0, m, size) if m else [0]
            pieces[batch] = len(starts)
            for piece, lo in enumerate(starts):
                shards.append(_Shard(len(shards), batch, piece, variants[lo:lo + size]))
        return shards, pieces

    # -- the run ---------------------------------------------------------------------------

    def run(self, oracle: Callable, tasks: Sequence[tuple[int, np.ndarray]],
            on_result: Callable[[int, np.ndarray], None]) -> None:
        """Score every task on the cluster; ``on_result(batch, values)`` once per batch, on
        this thread, as soon as the batch's last shard arrives."""
        ray = require_ray()
        recipe = oracle_recipe(oracle, self.oracle_factory)
        tasks = list(tasks)
        if not tasks:
            return
        self._connect(ray)
        shards, num_pieces = self._shards(tasks)
        count, gpus, cpus = self._resources(ray, len(shards))
        options = {"num_gpus": gpus, "num_cpus": cpus, "max_restarts": 0, "max_task_retries": 0}
        if self.runtime_env is not None:
            options["runtime_env"] = self.runtime_env
        pool, self._pool = self._pool, []
        run = _Run(ray, self, ray.remote(OracleActor).options(**options), ray.put(recipe),
                   shards, num_pieces, on_result, pool)
        self._actors = run.actors
        try:
            run.loop(count)
        finally:
            self._pool = run.close(keep=self._keep)
            self.actor_table = run.progress.table()
            self.summary = run.progress.summary()
            self._actors = []
            logger.info("%s", self.summary)
            if run.progress.shown:
                print(self.summary, file=sys.stderr)


class _Run:
    """The state of one :meth:`RayExecutor.run`: the shard queue, the actors and their
    shards in flight, the answers gathered per batch."""

    def __init__(self, ray, config: RayExecutor, actor_class, recipe_ref, shards, num_pieces,
                 on_result, pool=()):
        self.ray, self.config = ray, config
        self.pool = list(pool)        # actors kept from the last run, by slot
        self.actor_class, self.recipe_ref = actor_class, recipe_ref
        self.shards, self.num_pieces, self.on_result = shards, num_pieces, on_result
        self.faults = _faults(ray)
        self.unschedulable = getattr(ray.exceptions, "ActorUnschedulableError", ())
        self.progress = ClusterProgress(sum(s.variants.shape[0] for s in shards), config.progress)
        self.queue = collections.deque(range(len(shards)))
        self.running: dict = {}       # shard ref -> (actor, shard)
        self.starting: dict = {}      # ready ref -> actor
        self.answered: set[int] = set()
        self.pieces: dict[int, dict[int, np.ndarray]] = collections.defaultdict(dict)
        self.batches_left = len(num_pieces)
        self.actors: list[_Actor] = []
        self.build_errors: list[BaseException] = []

    # -- actors ----------------------------------------------------------------------------

    def start(self, slot: int, generation: int) -> None:
        name = f"a{slot}" if generation == 0 else f"a{slot}.{generation}"
        handle = self.actor_class.remote(self.recipe_ref)
        actor = _Actor(name, slot, generation, handle, self.progress.add_actor(name))
        self.actors.append(actor)
        self.starting[handle.ready.remote()] = actor

    def reuse(self, slot: int, handle) -> None:
        """A kept actor takes this run's recipe (its answer counts as its ready())."""
        actor = _Actor(f"a{slot}", slot, 0, handle, self.progress.add_actor(f"a{slot}"))
        self.actors.append(actor)
        self.starting[handle.use.remote(self.recipe_ref)] = actor

    def on_ready(self, ref) -> None:
        actor = self.starting.pop(ref)
        try:
            info = self.ray.get(ref)
        except self.faults as exc:
            self.lose(actor, exc)
            return
        except self.unschedulable as exc:
            actor.stats.state = "failed"
            self.build_errors.append(exc)
            return
        except Exception as exc:  # the oracle failed to build: the oracle's error, not a fault
            actor.stats.state = "failed"
            self.ray.kill(actor.handle, no_restart=True)
            self.build_errors.append(exc)
            self.progress.note(f"ray: actor {actor.name} could not build the oracle: "
                               f"{type(exc).__name__}: {exc}")
            return
        stats = actor.stats
        stats.state = "running"
        stats.host, stats.pid, stats.gpus = info["host"], info["pid"], info["gpus"]
        stats.build_s = info["build_s"]
        stats.reused_model = info["reused_model"]
        stats.ready_s = time.perf_counter() - self.progress.started

    def lose(self, actor: _Actor, error: BaseException) -> None:
        """The actor died: requeue its shards, replace it while the budget lasts."""
        actor.stats.state = "lost"
        self.ray.kill(actor.handle, no_restart=True)
        max_retries = self.config.max_retries
        for ref in list(actor.running):
            _, shard = self.running.pop(ref)
            shard.copies -= 1
            if shard.id in self.answered or shard.copies > 0:
                continue
            actor.stats.lost_shards += 1
            shard.failures += 1
            if shard.failures > max_retries:
                raise RuntimeError(
                    f"shard {shard.id} (batch {shard.batch}) was lost {shard.failures} times "
                    f"(max_retries={max_retries}); last error: {error}") from error
            self.queue.appendleft(shard.id)
            self.progress.retried += 1
        actor.running.clear()
        self.progress.note(f"ray: actor {actor.name} lost ({type(error).__name__}); "
                           f"{actor.stats.lost_shards} shard(s) requeued")
        if actor.generation < max_retries:
            self.start(actor.slot, actor.generation + 1)

    # -- shards ----------------------------------------------------------------------------

    def submit(self, actor: _Actor, shard: _Shard) -> None:
        ref = actor.handle.score.remote(shard.variants)
        self.running[ref] = (actor, shard)
        actor.running.add(ref)
        if shard.copies == 0:
            shard.submitted = time.perf_counter()
        shard.copies += 1

    def on_shard(self, ref) -> None:
        if ref not in self.running:  # its actor was lost meanwhile
            return
        actor, shard = self.running[ref]
        try:
            values, seconds = self.ray.get(ref)
        except self.faults as exc:
            self.lose(actor, exc)
            return
        del self.running[ref]
        actor.running.discard(ref)
        shard.copies -= 1
        fresh = shard.id not in self.answered
        self.progress.shard_done(actor.stats, shard.variants.shape[0], seconds, fresh)
        if not fresh:  # a copy answered first
            return
        self.answered.add(shard.id)
        got = self.pieces[shard.batch]
        got[shard.piece] = values
        if len(got) == self.num_pieces[shard.batch]:
            del self.pieces[shard.batch]
            whole = got[0] if len(got) == 1 else np.concatenate([got[i] for i in range(len(got))])
            self.on_result(shard.batch, whole)
            self.batches_left -= 1

    def dispatch(self) -> None:
        ready = [a for a in self.actors if a.stats.state == "running"]
        for depth in range(1, self.config.inflight + 1):  # everyone gets one before anyone two
            for actor in sorted(ready, key=lambda a: len(a.running)):
                while self.queue and len(actor.running) < depth:
                    shard = self.shards[self.queue.popleft()]
                    if shard.id not in self.answered:
                        self.submit(actor, shard)
        if self.config.speculative and not self.queue:
            for actor in ready:
                if actor.running:
                    continue
                candidates = [s for _, s in self.running.values()
                              if s.copies == 1 and s.id not in self.answered]
                if not candidates:
                    break
                self.submit(actor, min(candidates, key=lambda s: s.submitted))

    # -- the loop --------------------------------------------------------------------------

    def loop(self, count: int) -> None:
        for slot in range(count):
            if slot < len(self.pool):
                self.reuse(slot, self.pool[slot])
            else:
                self.start(slot, 0)
        while self.batches_left:
            refs = list(self.running) + list(self.starting)
            if not refs:
                if self.build_errors:
                    raise self.build_errors[0]
                raise RuntimeError(
                    f"no Ray actor left to score {len(self.queue)} shard(s): every actor was "
                    f"lost more than max_retries={self.config.max_retries} times; rerun with the "
                    "same store to resume")
            done, _ = self.ray.wait(refs, num_returns=1, timeout=self.config.poll_s)
            for ref in done:
                if ref in self.starting:
                    self.on_ready(ref)
                else:
                    self.on_shard(ref)
            self.dispatch()

    def close(self, keep: bool = False) -> list:
        """Release every actor (also when the driver stops midway); with ``keep``, a finished
        run instead returns the handles of its live actors by slot, and of the kept ones it
        did not need, for the next run."""
        keep = keep and not self.batches_left
        kept = {}
        for actor in self.actors:
            if actor.stats.state in ("starting", "running"):
                if self.batches_left:
                    actor.stats.state = "stopped"
                elif actor.stats.state == "running":
                    actor.stats.state = "finished"
                else:
                    actor.stats.state = "unused"
                if keep:
                    kept[actor.slot] = actor.handle
                else:
                    self.ray.kill(actor.handle, no_restart=True)
        used = {actor.slot for actor in self.actors}
        for slot, handle in enumerate(self.pool):
            if slot in used:
                continue
            if keep:
                kept[slot] = handle
            else:
                self.ray.kill(handle, no_restart=True)
        self.progress.close()
        return [kept[slot] for slot in sorted(kept)]


def run_queries(oracle: Callable, variants: np.ndarray, executor=None,
                batch_size: int = 10_000) -> np.ndarray:
    """Scores of every row of ``variants`` through ``executor`` (None: in this process), in
    batches of ``batch_size``: for queries outside q-SFT's design (held-out test sets, full
    landscapes) that should run where the model is."""
    from ..fourier.qsft import LocalExecutor, check_answers

    batch_size = _positive_int("batch_size", batch_size, allow_none=False)
    variants = np.ascontiguousarray(variants)
    if variants.ndim != 2:
        raise ValueError(f"variants must be an (m, n) array, got shape {variants.shape}")
    m = variants.shape[0]
    values = np.empty(m, dtype=np.float64)
    tasks = [(i, variants[lo:lo + batch_size]) for i, lo in enumerate(range(0, m, batch_size))]
    got: set[int] = set()

    def on_result(index: int, answer) -> None:
        lo = index * batch_size
        batch = variants[lo:lo + batch_size]
        values[lo:lo + batch.shape[0]] = check_answers(answer, batch, index)
        got.add(index)

    (executor or LocalExecutor()).run(oracle, tasks, on_result)
    if len(got) != len(tasks):
        raise RuntimeError(f"the executor answered {len(got)} of {len(tasks)} batches")
    return values
