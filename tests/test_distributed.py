"""RayExecutor on a local Ray cluster (2 CPUs, started once for the module): a distributed run
equals a local one, a killed or crashed actor loses nothing, a stopped driver resumes from the
store without re-asking, a copy answered twice counts once."""
import os
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import ray

from plmscope.distributed import RayExecutor, run_queries
from plmscope.fourier import SparseFourier, SurrogateOracle, qsft, random_real_transform

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


@pytest.fixture(scope="module")
def cluster(ray_cluster):
    return ray_cluster


def truth(q=4, n=6, seed=0):
    """A real sparse function: frequencies of order 1..3 with their mirrors."""
    return random_real_transform(q, n, {1: (2, 1.0), 2: (2, 1.0), 3: (2, 1.0)}, 0.7,
                                 np.random.default_rng(seed))


# -- test oracles (picklable; module-level so the workers import them) ---------------------

class Slow:
    def __init__(self, inner, delay):
        self.inner, self.delay = inner, delay

    def __call__(self, x):
        time.sleep(self.delay)
        return self.inner(x)


class Recording:
    """Writes every batch it is asked into a folder, so the driver sees what the actors asked."""

    def __init__(self, inner, folder):
        self.inner, self.folder = inner, Path(folder)

    def __call__(self, x):
        np.save(self.folder / f"{uuid.uuid4().hex}.npy", np.asarray(x))
        return self.inner(x)

    @staticmethod
    def asked(folder) -> list[bytes]:
        return [row.tobytes() for f in sorted(Path(folder).glob("*.npy")) for row in np.load(f)]


class CrashOnce:
    """The first worker to reach its second call exits hard (a segfault, an OOM kill)."""

    def __init__(self, inner, marker):
        self.inner, self.marker, self.calls = inner, Path(marker), 0

    def __call__(self, x):
        self.calls += 1
        if self.calls == 2:
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass
            else:
                os._exit(1)
        return self.inner(x)


class Gated:
    """Holds the shard starting with ``row`` until the driver has received other batches
    (``flag`` exists): only an executor that streams results can finish."""

    def __init__(self, inner, row, flag, timeout=60.0):
        self.inner, self.row, self.flag, self.timeout = inner, bytes(row), Path(flag), timeout

    def __call__(self, x):
        if np.asarray(x)[0].tobytes() == self.row:
            deadline = time.monotonic() + self.timeout
            while not self.flag.exists():
                if time.monotonic() > deadline:
                    raise TimeoutError("the driver saw no result while this shard was held")
                time.sleep(0.02)
        return self.inner(x)


class HoldFirstCall:
    """The first call anywhere sleeps ``hold`` seconds; every later one is quick."""

    def __init__(self, inner, marker, hold):
        self.inner, self.marker, self.hold = inner, Path(marker), hold

    def __call__(self, x):
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return self.inner(x)
        time.sleep(self.hold)
        return self.inner(x)


class BadOracle:
    def __call__(self, x):
        raise ValueError("the model rejected variant " + str(np.asarray(x)[0].tolist()))


class StopAfter:
    """An executor whose driver 'dies' (KeyboardInterrupt) after ``count`` saved results."""

    def __init__(self, inner, count):
        self.inner, self.count = inner, count

    def run(self, oracle, tasks, on_result):
        seen = []

        def wrapped(index, values):
            on_result(index, values)
            seen.append(index)
            if len(seen) == self.count:
                raise KeyboardInterrupt("driver stopped")

        self.inner.run(oracle, tasks, wrapped)


class Twice:
    """Forwards every result twice, as a retried shard whose first answer was late would."""

    def __init__(self, inner):
        self.inner = inner

    def run(self, oracle, tasks, on_result):
        def wrapped(index, values):
            on_result(index, values)
            on_result(index, np.array(values, copy=True))

        self.inner.run(oracle, tasks, wrapped)


RUN = dict(q=4, n=6, b=3, num_subsample=2, delays="nso", num_repeat=1, seed=3, batch_size=100)


def store_contents(path):
    path = Path(path)
    files = sorted(p.name for p in (path / "answers").glob("*.npy"))
    return (path / "config.json").read_text(), files, [np.load(path / "answers" / f) for f in files]


def assert_same_store(a, b):
    cfg_a, files_a, arr_a = store_contents(a)
    cfg_b, files_b, arr_b = store_contents(b)
    assert cfg_a == cfg_b and files_a == files_b
    for x, y in zip(arr_a, arr_b):
        np.testing.assert_array_equal(x, y)


def assert_same_recovery(a, b):
    np.testing.assert_array_equal(a.transform.frequencies, b.transform.frequencies)
    np.testing.assert_array_equal(a.transform.values, b.transform.values)
    assert a.num_queries == b.num_queries


def tasks_of(num, size, q=5, n=7, seed=0):
    rng = np.random.default_rng(seed)
    return [(i, rng.integers(0, q, size=(size, n)).astype(np.uint8)) for i in range(num)]


def collect(executor, oracle, tasks):
    got = {}

    def on_result(index, values):
        assert index not in got, f"batch {index} answered twice"
        got[index] = np.array(values)

    executor.run(oracle, tasks, on_result)
    return got


@pytest.mark.slow  # starts a Ray cluster
def test_distributed_run_equals_local_run(cluster, tmp_path):
    oracle = SurrogateOracle(truth(), noise_sd=0.3, seed=1)
    local = qsft.recover(oracle, store=tmp_path / "local", **RUN)
    ex = RayExecutor(num_actors=2, num_cpus=1, shard_size=37)
    distributed = qsft.recover(oracle, store=tmp_path / "ray", executor=ex, **RUN)
    assert_same_recovery(local, distributed)
    assert_same_store(tmp_path / "local", tmp_path / "ray")
    table = ex.actor_table
    # an actor that started after the other had taken every shard stays unused
    assert list(table["actor"]) == ["a0", "a1"] and "finished" in set(table["state"])
    assert set(table["state"]) <= {"finished", "unused"}
    assert table["queries"].sum() == local.num_queries
    num_batches = -(-local.num_queries // RUN["batch_size"])
    full, last = divmod(local.num_queries - (num_batches - 1) * RUN["batch_size"], 37)
    assert table["shards"].sum() == (num_batches - 1) * 3 + full + (last > 0)  # 100 = 37+37+26
    worked = table[table["shards"] > 0]
    assert (worked["queries_per_s"] > 0).all() and f"{local.num_queries:,} of" in ex.summary
    assert ex.actors == []  # all actors released

    # queries outside the design (a held-out set) through the same executor
    held_out = np.random.default_rng(9).integers(0, 4, size=(250, 6)).astype(np.uint8)
    np.testing.assert_array_equal(run_queries(oracle, held_out, ex, batch_size=60),
                                  oracle(held_out))

    # every result delivered twice (a late duplicate) changes nothing
    twice = qsft.recover(oracle, store=tmp_path / "twice", executor=Twice(ex), **RUN)
    assert_same_recovery(local, twice)
    assert_same_store(tmp_path / "local", tmp_path / "twice")


@pytest.mark.slow  # starts a Ray cluster
def test_results_stream_to_the_driver_before_the_run_ends(cluster, tmp_path):
    tasks = tasks_of(8, 50)
    oracle = SurrogateOracle(truth(q=5, n=7), noise_sd=0.1)
    flag = tmp_path / "others-done"
    gated = Gated(oracle, tasks[0][1][0], flag)
    got = {}

    def on_result(index, values):
        got[index] = np.array(values)
        if len(got) >= 3 and 0 not in got:  # batch 0 is still held on its actor
            flag.touch()

    RayExecutor(num_actors=2, num_cpus=1).run(gated, tasks, on_result)
    assert sorted(got) == list(range(len(tasks)))
    for index, variants in tasks:
        np.testing.assert_array_equal(got[index], oracle(variants))


@pytest.mark.slow  # starts a Ray cluster
def test_killed_actor_has_its_shards_retried(cluster):
    tasks = tasks_of(12, 40)
    oracle = SurrogateOracle(truth(q=5, n=7), noise_sd=0.2, seed=2)
    # one actor, so the one killed surely holds the next shards (inflight=2)
    ex = RayExecutor(num_actors=1, num_cpus=1, shard_size=20, inflight=2)
    killed = []
    got = {}

    def on_result(index, values):
        assert index not in got
        got[index] = np.array(values)
        if not killed:
            killed.append(ex.actors[0])
            ray.kill(killed[0])

    ex.run(Slow(oracle, 0.05), tasks, on_result)
    assert sorted(got) == list(range(len(tasks)))
    for index, variants in tasks:
        np.testing.assert_array_equal(got[index], oracle(variants))
    table = ex.actor_table.set_index("actor")
    assert table.loc["a0", "state"] == "lost" and table.loc["a0", "lost_shards"] >= 1
    assert "a0.1" in table.index  # the replacement
    assert table["queries"].sum() == 12 * 40 and table["duplicates"].sum() == 0
    assert "retried" in ex.summary


@pytest.mark.slow  # starts a Ray cluster
def test_crashed_worker_is_replaced_and_the_result_is_unchanged(cluster, tmp_path):
    oracle = SurrogateOracle(truth(seed=4), noise_sd=0.2, seed=5)
    local = qsft.recover(oracle, store=tmp_path / "local", **RUN)
    ex = RayExecutor(num_actors=2, num_cpus=1, shard_size=50)
    crashing = CrashOnce(oracle, tmp_path / "crashed")
    distributed = qsft.recover(crashing, store=tmp_path / "ray", executor=ex, **RUN)
    assert (tmp_path / "crashed").exists()
    assert_same_recovery(local, distributed)
    assert_same_store(tmp_path / "local", tmp_path / "ray")
    states = dict(zip(ex.actor_table["actor"], ex.actor_table["state"]))
    assert list(states.values()).count("lost") == 1 and len(states) == 3


@pytest.mark.slow  # starts a Ray cluster
def test_stopped_driver_resumes_from_the_store_asking_nothing_again(cluster, tmp_path):
    oracle = SurrogateOracle(truth(seed=6), noise_sd=0.2, seed=7)
    local = qsft.recover(oracle, **RUN)
    first_asked, second_asked = tmp_path / "asked1", tmp_path / "asked2"
    first_asked.mkdir()
    second_asked.mkdir()
    ex = RayExecutor(num_actors=2, num_cpus=1)
    with pytest.raises(KeyboardInterrupt):
        qsft.recover(Recording(oracle, first_asked), store=tmp_path / "run",
                     executor=StopAfter(ex, 3), **RUN)
    saved = sorted((tmp_path / "run" / "answers").glob("*.npy"))
    assert len(saved) == 3 and ex.actors == []
    assert set(ex.actor_table["state"]) == {"stopped"}
    deadline = time.monotonic() + 20  # the stopped run's actors give their CPUs back
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ray.available_resources().get("CPU", 0) == 2

    resumed = qsft.recover(Recording(oracle, second_asked), store=tmp_path / "run",
                           executor=RayExecutor(num_actors=2, num_cpus=1), **RUN)
    assert_same_recovery(local, resumed)
    stored_first = {row.tobytes() for f in saved for row in
                    _batch_variants(tmp_path / "run", int(f.stem))}
    again = set(Recording.asked(second_asked))
    assert not again & stored_first                      # nothing answered is asked again
    assert len(again) + len(stored_first) == local.num_queries


def _batch_variants(store, index):
    """The variants of batch ``index`` of RUN's design (what recover sends as that batch)."""
    from plmscope.fourier.qsft import query_variants

    unique = query_variants(RUN["q"], RUN["n"], RUN["b"], RUN["num_subsample"], RUN["delays"],
                            RUN["num_repeat"], RUN["seed"])
    size = RUN["batch_size"]
    return unique[index * size:(index + 1) * size]


@pytest.mark.slow  # starts a Ray cluster
def test_speculative_copy_answers_a_stuck_shard_once(cluster, tmp_path):
    tasks = tasks_of(6, 30)
    oracle = SurrogateOracle(truth(q=5, n=7), noise_sd=0.2, seed=8)
    asked = tmp_path / "asked"
    asked.mkdir()
    held = HoldFirstCall(Recording(oracle, asked), tmp_path / "held", hold=120.0)
    ex = RayExecutor(num_actors=2, num_cpus=1, speculative=True)
    got = collect(ex, held, tasks)  # would take 120 s without the copy
    assert sorted(got) == list(range(len(tasks)))
    for index, variants in tasks:
        np.testing.assert_array_equal(got[index], oracle(variants))
    # the held shard ran twice (the copy was recorded; the original never returned)
    assert len(Recording.asked(asked)) == 6 * 30


@pytest.mark.slow  # starts a Ray cluster
def test_oracle_errors_reach_the_driver_unretried(cluster):
    with pytest.raises(ValueError, match=r"the model rejected variant \["):
        RayExecutor(num_actors=1, num_cpus=1).run(BadOracle(), tasks_of(2, 5), lambda i, v: None)

    def broken_factory():
        raise RuntimeError("no such checkpoint on this node")

    ex = RayExecutor(num_actors=2, num_cpus=1, oracle_factory=broken_factory)
    with pytest.raises(RuntimeError, match="no such checkpoint"):
        ex.run(BadOracle(), tasks_of(2, 5), lambda i, v: None)
    assert set(ex.actor_table["state"]) == {"failed"}


@pytest.mark.slow  # starts a Ray cluster
def test_resource_requests_the_cluster_cannot_meet(cluster):
    with pytest.raises(ValueError, match=r"num_gpus=1, num_cpus=1 but the cluster has 0 GPU"):
        RayExecutor(num_gpus=1).run(SurrogateOracle(truth()), tasks_of(1, 3, q=4, n=6),
                                    lambda i, v: None)


def wait_dead(handle, variants, timeout=30.0):
    """Until the actor answers no more (ray.kill takes effect a little later)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ray.get(handle.score.remote(variants), timeout=timeout)
        except ray.exceptions.RayActorError:
            return
        assert time.monotonic() < deadline, "the actor still answers"
        time.sleep(0.1)


@pytest.mark.slow  # starts a Ray cluster
def test_a_with_block_keeps_the_actors_for_the_next_run(cluster):
    from plmscope.distributed import oracle_recipe

    oracle = SurrogateOracle(truth(q=5, n=7), noise_sd=0.2, seed=4)
    x = [tasks_of(1, 40, seed=s)[0][1] for s in range(3)]
    with RayExecutor(num_actors=2, num_cpus=1, shard_size=6, progress=False) as ex:
        np.testing.assert_array_equal(run_queries(oracle, x[0], ex, batch_size=10), oracle(x[0]))
        kept = ex.actors
        assert len(kept) == 2
        # both ready (waits for one that had not started in time): the processes kept
        pids = {ray.get(h.use.remote(oracle_recipe(oracle)))["pid"] for h in kept}
        np.testing.assert_array_equal(run_queries(oracle, x[1], ex, batch_size=10), oracle(x[1]))
        table = ex.actor_table
        assert list(table["actor"]) == ["a0", "a1"] and set(table["pid"]) - {0} <= pids
        assert set(table["pid"]) & pids  # answered by kept processes, no new ones
        assert ex.actors == kept
        ray.kill(kept[0], no_restart=True)  # a kept actor that died is replaced
        wait_dead(kept[0], x[0])
        np.testing.assert_array_equal(run_queries(oracle, x[2], ex, batch_size=10), oracle(x[2]))
        assert "lost" in set(ex.actor_table["state"]) and len(ex.actors) == 2
        assert kept[1] in ex.actors
    assert ex.actors == []  # the block's end stopped them
    wait_dead(kept[1], x[0])
    np.testing.assert_array_equal(run_queries(oracle, x[0], ex, batch_size=10), oracle(x[0]))
    assert ex.actors == []  # outside a block a run keeps nothing


class AlwaysCrash:
    def __call__(self, x):
        os._exit(1)


@pytest.mark.slow  # starts a Ray cluster
def test_a_shard_that_kills_every_actor_gives_up(cluster):
    ex = RayExecutor(num_actors=1, num_cpus=1, max_retries=1)
    lost_twice = r"shard 0 \(batch 0\) was lost 2 times \(max_retries=1\)"
    with pytest.raises(RuntimeError, match=lost_twice):
        ex.run(AlwaysCrash(), tasks_of(1, 5), lambda i, v: None)
    assert list(ex.actor_table["state"]) == ["lost", "lost"]  # a0 and its one replacement


GB1 = "MTYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"


@pytest.mark.slow  # starts a Ray cluster
def test_tiny_model_distributed_equals_local(cluster, tmp_path):
    import torch

    from plmscope.distributed import LazyOracle
    from plmscope.models import OracleSpec, save_random_model

    path = save_random_model("esm", tmp_path / "esm2_tiny.pt", backend="fair-esm", seed=2)
    sites = (3, 8, 20, 41)
    subs = tuple("".join(a for a in "ACDW" if a != GB1[s - 1])[:3] for s in sites)
    spec = OracleSpec(model=str(path), backend="fair-esm", device="cpu", dtype=None,
                      wildtype=GB1, sites=sites, q=4, substitutions=subs,
                      scorer="masked_marginal", batch_size=16)
    run = dict(q=4, n=4, b=2, num_subsample=2, delays="nso", num_repeat=1, seed=1, batch_size=40)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as on the actors (Ray sets OMP_NUM_THREADS to their num_cpus)
    try:
        local = qsft.recover(spec.build(), store=tmp_path / "local", **run)
    finally:
        torch.set_num_threads(threads)
    lazy = LazyOracle(spec)
    ex = RayExecutor(num_actors=2, num_cpus=1, shard_size=25)
    distributed = qsft.recover(lazy, store=tmp_path / "ray", executor=ex, **run)
    assert lazy._oracle is None  # the driver never loaded the model: the actors did
    assert_same_recovery(local, distributed)
    assert_same_store(tmp_path / "local", tmp_path / "ray")
    worked = ex.actor_table[ex.actor_table["shards"] > 0]
    assert worked["queries"].sum() == local.num_queries and (worked["build_s"] > 0).all()
