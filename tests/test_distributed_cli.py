"""`plmscope interactions --ray` and `plmscope landscape --ray` on a local Ray cluster (2 CPUs,
started once for the module), with a surrogate and with a tiny random ESM2: the same numbers,
tables and query stores as the same command run in this process; and
``run_interactions(executor=RayExecutor(...))`` equal to the local call."""
import dataclasses
import json
import os
import sys
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import ray
import torch

from plmscope.cli import main
from plmscope.distributed import LazyOracle, RayExecutor
from plmscope.experiment import run_interactions
from plmscope.fourier import SparseFourier, SurrogateOracle
from plmscope.models import OracleSpec, save_random_model

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
GB1 = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"
# two actors of one CPU each, shards smaller than a batch: every batch is split and spread
RAY = ("--ray", "local", "--ray-actors", 2, "--ray-cpus", 1, "--ray-shard-size", 7,
       "--no-progress")


@pytest.fixture(scope="module")
def cluster(ray_cluster):
    return ray_cluster


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return save_random_model("esm", tmp_path_factory.mktemp("ckpt") / "esm2_tiny.pt",
                             backend="fair-esm", seed=5)


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    path = tmp_path_factory.mktemp("fasta") / "gb1.fasta"
    path.write_text(f">gb1\n{GB1}\n")
    return path


@pytest.fixture(scope="module")
def surrogate(tmp_path_factory):
    """A sparse real function over Z_4^5 in a file: order 1..3 terms and their mirrors."""
    rng = np.random.default_rng(0)
    q, n = 4, 5
    freqs, vals = [np.zeros(n, np.int64)], [0.3 + 0j]
    for _ in range(5):
        k = np.zeros(n, np.int64)
        sites = rng.choice(n, size=rng.integers(1, 4), replace=False)
        k[sites] = rng.integers(1, q, size=sites.size)
        v = (1 + rng.random()) * np.exp(2j * np.pi * rng.random())
        freqs += [k, (-k) % q]
        vals += [v, np.conj(v)]
    path = tmp_path_factory.mktemp("surrogate") / "planted.npz"
    SparseFourier(np.array(freqs), np.array(vals), q).save(path)
    return path


@pytest.fixture
def spy(monkeypatch):
    """The RayExecutors the commands make, each with the variants its actors answered per run;
    and loading a model in this process fails (the actors, other processes, load it)."""
    from plmscope.distributed import arguments
    from plmscope.models import loading

    class Spied(RayExecutor):
        made = []

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.answered, self.pids = [], []
            Spied.made.append(self)

        def run(self, oracle, tasks, on_result):
            super().run(oracle, tasks, on_result)
            self.answered.append(int(self.actor_table["queries"].sum()))
            self.pids.append(self.actor_table["pid"].tolist())  # 0: never ready

    def no_loading(*args, **kwargs):
        raise AssertionError("the driver loaded the model")

    monkeypatch.setattr(arguments, "RayExecutor", Spied)
    with monkeypatch.context() as m:
        yield Spied.made, lambda: m.setattr(loading, "load", no_loading)


@dataclasses.dataclass(frozen=True)
class CountingSpec(OracleSpec):
    """An OracleSpec that, unpickled in a Ray actor, makes that process count its model
    loads: every call of plmscope.models.loading.load there leaves a file in ``loads``."""

    loads: str = ""

    def __reduce__(self):
        return (_counting_spec, (dataclasses.asdict(self),))


def _counting_spec(fields: dict) -> CountingSpec:
    from plmscope.models import loading

    folder = Path(fields["loads"])
    if getattr(loading.load, "counts_into", None) != folder:
        real = loading.load

        def load(*args, **kwargs):
            (folder / f"{os.getpid()}-{uuid.uuid4().hex}").touch()
            return real(*args, **kwargs)

        load.counts_into = folder
        loading.load = load
    return CountingSpec(**{**fields, "sites": tuple(fields["sites"]),
                           "substitutions": tuple(fields["substitutions"])})


def count_loads(monkeypatch, module, folder: Path) -> Path:
    """Make ``module``'s Ray model oracles count the actors' model loads into ``folder``."""
    real = module.ray_model_oracle
    folder.mkdir()

    def counting(args, landscape):
        spec = real(args, landscape).spec
        return LazyOracle(CountingSpec(**dataclasses.asdict(spec) | {
            "sites": spec.sites, "substitutions": spec.substitutions, "loads": str(folder)}))

    monkeypatch.setattr(module, "ray_model_oracle", counting)
    return folder


def assert_one_load_per_actor(executor, folder: Path, num_actors: int = 2) -> None:
    """Every run of ``executor`` kept the actors of the run before (some actor answered both),
    no more than ``num_actors`` processes ever loaded the model, and each loaded it once."""
    runs = [{pid for pid in pids if pid} for pids in executor.pids]  # 0: never ready
    assert len(runs) >= 2 and all(runs)
    assert all(a & b for a, b in zip(runs, runs[1:])), runs
    pids = [int(p.name.split("-")[0]) for p in folder.iterdir()]
    assert len(pids) == len(set(pids)) <= num_actors and set().union(*runs) <= set(pids)


class StopAfter:
    """A local executor whose driver is stopped (Ctrl-C) after ``count`` batches."""

    def __init__(self, count):
        self.count = count

    def run(self, oracle, tasks, on_result):
        for i, (index, variants) in enumerate(tasks):
            if i == self.count:
                raise KeyboardInterrupt
            on_result(index, oracle(variants))


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out


def one_thread(fn, *args, **kwargs):
    """Run fn with torch on one thread, as on the actors (Ray sets OMP_NUM_THREADS to their
    num_cpus), so a local and a distributed forward pass round alike."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(*args, **kwargs)
    finally:
        torch.set_num_threads(threads)


def store(path):
    """{batch file: answers} and the config of a query store folder."""
    path = Path(path)
    files = sorted((path / "answers").glob("*.npy"))
    assert files, f"no answers stored in {path}"
    return (path / "config.json").read_text(), {f.name: np.load(f) for f in files}


def assert_same_store(a, b):
    cfg_a, ans_a = store(a)
    cfg_b, ans_b = store(b)
    assert cfg_a == cfg_b and list(ans_a) == list(ans_b)
    for name in ans_a:
        np.testing.assert_array_equal(ans_a[name], ans_b[name])


def numbers(summary: dict) -> dict:
    """A summary without what may differ between machines and executors."""
    return {k: v for k, v in summary.items() if k not in ("timings", "versions", "files")}


def assert_same_interactions(local: Path, distributed: Path, cache_only_local: bool):
    s_local = json.loads((local / "summary.json").read_text())
    s_ray = json.loads((distributed / "summary.json").read_text())
    assert numbers(s_local) == numbers(s_ray)
    # the actors keep no score cache (other nodes may not see the folder)
    extra = set(s_local["files"]) - set(s_ray["files"])
    assert extra == ({"scores.sqlite"} if cache_only_local else set())  # no -wal/-shm journal
    assert set(s_ray["files"]) <= set(s_local["files"])
    for table in ("interactions.csv", "mutations.csv"):
        assert (local / table).read_text() == (distributed / table).read_text()
    with np.load(local / "test.npz") as a, np.load(distributed / "test.npz") as b:
        for key in ("x", "y", "yhat"):
            np.testing.assert_array_equal(a[key], b[key])
    assert_same_store(local / "queries", distributed / "queries")
    assert_same_store(local / "test", distributed / "test")


@pytest.mark.slow  # starts a Ray cluster
def test_interactions_of_a_surrogate_on_ray_equal_the_local_run(cluster, tmp_path, capsys,
                                                                surrogate, spy, monkeypatch):
    args = ("interactions", "--oracle", f"surrogate:{surrogate}", "--surrogate-noise", 0.2,
            "--surrogate-seed", 3, "--b", 2, "--subsamples", 2, "--repeats", 1, "--test", 150,
            "--batch-size", 40, "--seed", 1)
    cli(capsys, *args, "--out", tmp_path / "local", "--no-progress")
    cli(capsys, *args, "--out", tmp_path / "ray", *RAY)
    summary = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert summary["test"]["size"] == 150 and summary["num_coefficients"] >= 11
    (executor,) = spy[0]  # every query went through the actors: the design, then the test set
    assert executor.num_actors == 2 and executor.shard_size == 7
    assert executor.answered == [summary["num_queries"], 150]
    assert_same_interactions(tmp_path / "local", tmp_path / "ray", cache_only_local=False)

    # a local run stopped after two batches is finished on the cluster, asking only the rest
    with monkeypatch.context() as m:
        m.setattr(sys.modules["plmscope.fourier.qsft.ask"], "LocalExecutor",
                  lambda: StopAfter(2))
        assert main([str(a) for a in (*args, "--out", tmp_path / "resumed", "--no-progress")]) \
            == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    assert len(list((tmp_path / "resumed" / "queries" / "answers").glob("*.npy"))) == 2
    cli(capsys, *args, "--out", tmp_path / "resumed", *RAY)
    assert spy[0][1].answered == [summary["num_queries"] - 2 * 40, 150]
    assert_same_interactions(tmp_path / "local", tmp_path / "resumed", cache_only_local=False)

    # the finished folder is shown, not recomputed, with or without --ray
    assert "nothing recomputed" in cli(capsys, *args, "--out", tmp_path / "ray", *RAY)
    assert "nothing recomputed" in cli(capsys, *args, "--out", tmp_path / "ray", "--no-progress")


@pytest.mark.slow  # starts a Ray cluster
def test_interactions_of_a_tiny_esm2_on_ray_equal_the_local_run(cluster, tmp_path, capsys,
                                                                ckpt, fasta, spy, monkeypatch):
    from plmscope.commands import interactions

    args = ("interactions", "--fasta", fasta, "--sites", "Y3,K10,24,30,41,44,50", "--model", ckpt,
            "--scorer", "masked_marginal", "--q", 2, "--substitutions", "AWCLWAC", "--b", 2,
            "--subsamples", 2, "--repeats", 1, "--test", 20, "--batch-size", 16,
            "--model-batch-size", 8)
    one_thread(cli, capsys, *args, "--device", "cpu", "--out", tmp_path / "local",
               "--no-progress")
    spy[1]()
    loads = count_loads(monkeypatch, interactions, tmp_path / "loads")
    text = cli(capsys, *args, "--out", tmp_path / "ray", *RAY)
    # the design's queries and the held-out set on the same actors: one model load each
    assert_one_load_per_actor(spy[0][0], loads)
    assert "q-SFT plan: 64 queries" in text
    assert_same_interactions(tmp_path / "local", tmp_path / "ray", cache_only_local=True)
    assert not (tmp_path / "ray" / "scores.sqlite").exists()
    summary = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert summary["oracle"]["kind"] == "model" and summary["test"]["size"] == 20
    assert np.isfinite(summary["test"]["r2"])
    assert spy[0][0].answered == [summary["num_queries"], 20]


@pytest.mark.slow  # starts a Ray cluster
def test_landscape_on_ray_equals_the_local_enumeration(cluster, tmp_path, capsys, ckpt, fasta,
                                                       surrogate, spy, monkeypatch):
    from plmscope.commands import landscape

    args = ("landscape", "--fasta", fasta, "--sites", "3,10,24,30", "--model", ckpt,
            "--scorer", "masked_marginal", "--q", 2, "--repeats", 3, "--batch-size", 6,
            "--model-batch-size", 4, "--label", "tiny")
    one_thread(cli, capsys, *args, "--device", "cpu", "--out", tmp_path / "local",
               "--no-progress")
    spy[1]()
    loads = count_loads(monkeypatch, landscape, tmp_path / "loads")
    cli(capsys, *args, "--out", tmp_path / "ray", *RAY)
    (executor,) = spy[0]
    assert executor.answered == [16, 16, 16]  # one run per landscape, all on the actors
    # the same actors scored the three landscapes, and each loaded the model once
    assert_one_load_per_actor(executor, loads)
    last = executor.actor_table[executor.actor_table["state"] == "finished"]
    assert len(last) and last["reused_model"].all()
    assert not executor.actors  # stopped after the last landscape
    with np.load(tmp_path / "local" / "landscape.npz") as a, \
            np.load(tmp_path / "ray" / "landscape.npz") as b:
        assert sorted(a.files) == sorted(b.files) and a["scores"].shape == (3, 16)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "local" / "metrics.csv"),
                                  pd.read_csv(tmp_path / "ray" / "metrics.csv"))
    for row in ("row0000", "row0001", "row0002"):
        assert_same_store(tmp_path / "local" / "queries" / row,
                          tmp_path / "ray" / "queries" / row)

    # a surrogate is shipped to the actors as it is
    args = ("landscape", "--oracle", f"surrogate:{surrogate}", "--surrogate-noise", 0.1,
            "--batch-size", 100)
    cli(capsys, *args, "--out", tmp_path / "s-local", "--no-progress")
    cli(capsys, *args, "--out", tmp_path / "s-ray", *RAY)
    assert spy[0][1].answered == [4**5]
    with np.load(tmp_path / "s-local" / "landscape.npz") as a, \
            np.load(tmp_path / "s-ray" / "landscape.npz") as b:
        np.testing.assert_array_equal(a["scores"], b["scores"])
    grid = np.indices((4,) * 5).reshape(5, -1).T
    with np.load(tmp_path / "s-ray" / "landscape.npz") as b:
        want = SurrogateOracle(SparseFourier.load(surrogate), 0.1, 0)(grid)
        np.testing.assert_array_equal(b["scores"][0], want)


@pytest.mark.slow  # starts a Ray cluster
def test_run_interactions_with_a_ray_executor_equals_the_local_call(cluster, tmp_path, ckpt,
                                                                   surrogate):
    oracle = SurrogateOracle(SparseFourier.load(surrogate), noise_sd=0.1, seed=2)
    run = dict(q=4, n=5, b=2, num_subsample=2, num_repeat=1, test=120, batch_size=30, seed=4,
               report=False, progress=False)
    local = run_interactions(oracle, **run)
    ex = RayExecutor(num_actors=2, num_cpus=1, shard_size=11, progress=False)
    distributed = run_interactions(oracle, executor=ex, **run)  # no folder: hashed on the driver
    assert_same_result(local, distributed)
    assert ex.actor_table["queries"].sum() == 120  # the last run: the held-out set

    # a model known by its spec only: the driver never loads it
    spec = OracleSpec(model=str(ckpt), backend="fair-esm", device=None, dtype=None,
                      wildtype=GB1, sites=(3, 10, 24), q=3, substitutions=("AW", "CL", "GW"),
                      scorer="masked_marginal", batch_size=8)
    run = dict(q=3, n=3, b=2, num_subsample=2, num_repeat=1, test=10, batch_size=12, seed=0,
               report=False, progress=False)
    local = one_thread(run_interactions, spec.build(device="cpu"), **run)
    lazy = LazyOracle(spec)
    distributed = run_interactions(lazy, executor=ex, out=tmp_path / "api", **run)
    assert lazy._oracle is None
    assert_same_result(local, distributed)
    info = distributed.summary["oracle"]
    assert info["kind"] == "model" and info["model"] == str(ckpt)
    assert info["substitutions"] == ["AW", "CL", "GW"] and info["scorer"] == "masked_marginal"


def assert_same_result(a, b):
    np.testing.assert_array_equal(a.transform.frequencies, b.transform.frequencies)
    np.testing.assert_array_equal(a.transform.values, b.transform.values)
    np.testing.assert_array_equal(a.test_x, b.test_x)
    np.testing.assert_array_equal(a.test_y, b.test_y)
    assert a.r2 == b.r2 and a.summary["num_queries"] == b.summary["num_queries"]


def test_ray_flags_refused_where_they_cannot_apply(tmp_path, capsys, ckpt, fasta, surrogate):
    def error(*argv):
        rc = main([str(a) for a in argv])
        _, err = capsys.readouterr()
        assert rc == 2
        return err

    base = ("interactions", "--fasta", fasta, "--sites", "3,10", "--model", ckpt, "--q", 2,
            "--substitutions", "AW", "--b", 1, "--out", tmp_path / "x")
    assert "--device cpu with --ray auto" in error(*base, "--device", "cpu", "--ray", "auto")
    assert "--ray-actors: num_actors must be an integer >= 1" in \
        error(*base, "--ray", "auto", "--ray-actors", 0)
    assert "--ray-shard-size: shard_size must be" in \
        error(*base, "--ray", "auto", "--ray-shard-size", 0)
    assert not (tmp_path / "x").exists()
    scores = tmp_path / "s.npz"
    np.savez(scores, scores=np.zeros((1, 4)))
    assert "nothing to run there" in error("landscape", "--scores", scores, "--ray", "auto")
