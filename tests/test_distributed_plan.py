"""The parts of plmscope.distributed that need no Ray cluster: the run-time estimate behind
`plmscope plan`, the command itself, oracle recipes, the actor body, argument checks."""
import argparse
import json
import pickle
import re
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from plmscope import cli
from plmscope.commands.plan import distinct_queries, format_duration
from plmscope.distributed import (ClusterProgress, LazyOracle, OracleActor, RayExecutor,
                                  add_ray_arguments, estimate_run, executor_from_args,
                                  oracle_recipe, run_queries)
from plmscope.distributed.schedule import shard_sizes
from plmscope.fourier import SparseFourier, SurrogateOracle, qsft
from plmscope.fourier.qsft import query_variants


# -- the estimate ------------------------------------------------------------------------------

def test_estimate_counts_rounds_of_equal_shards():
    e = estimate_run(1000, throughput=50.0, gpus=4, batch_size=100, load_s=7.0)
    assert e.num_shards == 10 and e.max_shards_per_gpu == 3
    assert e.wall_s == pytest.approx(7.0 + 3 * 100 / 50.0)      # ceil(10 / 4) rounds
    assert e.efficiency == pytest.approx(1000 / 50.0 / (4 * 6.0))
    assert e.gpu_hours == pytest.approx(4 * e.wall_s / 3600)
    one = estimate_run(1000, 50.0, 1, 100)
    assert one.wall_s == pytest.approx(20.0) and one.efficiency == pytest.approx(1.0)
    empty = estimate_run(0, 50.0, 8, 100, load_s=3.0)
    assert (empty.num_shards, empty.max_shards_per_gpu, empty.wall_s) == (0, 0, 3.0)


def test_paper_experiment_on_64_gpus():
    # 7,039,956 distinct queries in 704 batches: 11 rounds of 10,000 on 64 GPUs
    e = estimate_run(7_039_956, 1000.0, 64, 10_000)
    assert e.num_shards == 704 and e.max_shards_per_gpu == 11
    assert e.wall_s == pytest.approx(110.0)


@settings(max_examples=60, deadline=None)
@given(queries=st.integers(0, 5000), batch=st.integers(1, 700),
       shard=st.one_of(st.none(), st.integers(1, 300)), gpus=st.integers(1, 40),
       rate=st.floats(0.5, 1e4), load=st.floats(0, 100))
def test_estimate_is_within_list_scheduling_bounds(queries, batch, shard, gpus, rate, load):
    sizes = shard_sizes(queries, batch, shard)
    assert sum(sizes) == queries and all(0 < s <= min(batch, shard or batch) for s in sizes)
    e = estimate_run(queries, rate, gpus, batch, shard, load)
    assert e.num_shards == len(sizes)
    biggest = max(sizes, default=0) / rate
    # Graham: the greedy makespan is at least the average load and at most average + one shard
    average = queries / rate / gpus
    assert load + average - 1e-9 <= e.wall_s <= load + average + biggest + 1e-9
    assert e.wall_s >= load + biggest - 1e-9
    assert e.max_shards_per_gpu * min(gpus, max(len(sizes), 1)) >= len(sizes)
    assert 0 < e.efficiency <= 1 + 1e-12


def test_shards_never_cross_batches():
    assert shard_sizes(250, 100, 40) == [40, 40, 20, 40, 40, 20, 40, 10]
    assert shard_sizes(250, 100, None) == [100, 100, 50]
    assert shard_sizes(0, 100, 7) == []


@pytest.mark.parametrize("kwargs,message", [
    (dict(num_queries=-1), r"num_queries must be an integer >= 0, got num_queries=-1"),
    (dict(gpus=0), r"gpus must be an integer >= 1, got gpus=0"),
    (dict(throughput=0.0), r"throughput must be a number of variants per second > 0"),
    (dict(throughput=float("nan")), r"throughput must be"),
    (dict(batch_size=0), r"batch_size must be an integer >= 1"),
    (dict(shard_size=0), r"shard_size must be an integer >= 1"),
    (dict(load_s=-1.0), r"load_s must be a number >= 0"),
])
def test_estimate_argument_errors(kwargs, message):
    args = dict(num_queries=100, throughput=10.0, gpus=2)
    with pytest.raises(ValueError, match=message):
        estimate_run(**{**args, **kwargs})


# -- the plan command --------------------------------------------------------------------------

def test_plan_command_paper_configuration(capsys, tmp_path):
    out = tmp_path / "plan.json"
    assert cli.main(["plan", "--n", "10", "--throughput", "1000", "--gpus", "64,1,8",
                     "--json", str(out)]) == 0
    text = capsys.readouterr().out
    distinct = len(query_variants(20, 10, 4, 2, "nso", 2, seed=0))
    assert "7,040,000 queries" in text and f"{distinct:,} distinct variants" in text
    rows = {int(line.split()[0].replace(",", "")): line.split() for line in text.splitlines()
            if line.strip()[:1].isdigit() and "x" in line}
    assert rows[1][2] == "1:57:20" and rows[8][2] == "14:40" and rows[64][2] == "1:50"
    assert rows[64][1] == "11" and rows[64][3] == "64.00x"
    record = json.loads(out.read_text())
    assert record["num_queries"] == distinct and record["throughput_per_gpu"] == 1000
    assert [e["gpus"] for e in record["estimates"]] == [1, 8, 64]
    assert record["estimates"][2]["wall_s"] == pytest.approx(110.0)


def test_plan_command_small_design_says_gpus_sit_idle(capsys):
    assert cli.main(["plan", "--q", "2", "--n", "10", "--b", "5", "--subsamples", "3",
                     "--repeats", "1", "--throughput", "50", "--gpus", "1,2",
                     "--load-seconds", "30"]) == 0
    text = capsys.readouterr().out
    distinct = len(query_variants(2, 10, 5, 3, "nso", 1, seed=0))
    assert f"{distinct:,} distinct variants" in text and "Only 1 shard(s)" in text
    assert format_duration(30 + distinct / 50) in text  # load, then one GPU does it all


def test_distinct_count_matches_recover():
    rng = np.random.default_rng(0)
    truth = SparseFourier(rng.integers(0, 3, size=(5, 7)), rng.standard_normal(5) + 0j, 3)
    for delays, repeats in [("nso", 2), ("identity", 1)]:
        res = qsft.recover(SurrogateOracle(truth), 3, 7, 3, num_subsample=2, delays=delays,
                           num_repeat=repeats, seed=4)
        assert distinct_queries(3, 7, 3, 2, delays, repeats, 4) == res.num_queries


@pytest.mark.parametrize("argv,message", [
    (["--n", "10", "--throughput", "10", "--gpus", "0"], r"--gpus must be comma-separated"),
    (["--n", "10", "--throughput", "10", "--gpus", "a,b"], r"--gpus must be comma-separated"),
    (["--n", "10"], r"give exactly one of --throughput"),
    (["--n", "10", "--throughput", "10", "--measure", "esm2_t6_8M_UR50D"], r"exactly one of"),
    (["--n", "10", "--throughput", "-3"], r"--throughput must be > 0"),
    (["--n", "10", "--throughput", "3", "--shard-size", "0"], r"--shard-size must be >= 1"),
    (["--n", "3", "--b", "4", "--throughput", "3"], r"b=4 must be <= n=3"),
])
def test_plan_command_errors(capsys, argv, message):
    assert cli.main(["plan", *argv]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_format_duration():
    assert format_duration(59.6) == "1:00"
    assert format_duration(3600 * 5 + 61) == "5:01:01"
    assert format_duration(86_400 * 2 + 3600 * 3 + 4) == "2d 03:00:04"


# -- recipes, the actor body, the executor's arguments -----------------------------------------

class FakeSpec:
    """Stands in for plmscope.models.OracleSpec: records the device it was built on."""

    def __init__(self, scale):
        self.scale, self.model, self.scorer = scale, "fake", "pllr"

    def build(self, device=None):
        spec = self

        def oracle(x):
            return spec.scale * np.asarray(x, np.float64).sum(axis=1)

        oracle.device = device
        return oracle


class SpecCarrying:
    def __init__(self, spec):
        self.spec = spec

    def __call__(self, x):
        raise AssertionError("the driver-side oracle must not be called on an actor")


def test_oracle_recipes():
    spec = FakeSpec(2.0)
    assert oracle_recipe(spec).kind == "spec"
    assert oracle_recipe(SpecCarrying(spec)).kind == "spec"          # models.Oracle, LazyOracle
    assert oracle_recipe(LazyOracle(spec)).payload is spec
    surrogate = SurrogateOracle(SparseFourier(np.eye(3, dtype=np.uint8), np.ones(3) + 0j, 2))
    assert oracle_recipe(surrogate).kind == "oracle"
    factory = oracle_recipe(surrogate, factory=lambda: surrogate)
    assert factory.kind == "factory" and factory.build(None) is surrogate
    assert oracle_recipe(surrogate, factory=spec).kind == "spec"
    with pytest.raises(ValueError, match="oracle_factory must be an OracleSpec"):
        oracle_recipe(surrogate, factory=3)
    with pytest.raises(ValueError, match="oracle must be callable"):
        oracle_recipe("esm2")


def test_actor_body_builds_on_its_device_and_times_shards():
    actor = OracleActor(oracle_recipe(FakeSpec(3.0)))
    info = actor.ready()
    assert info["device"] == "cpu" and info["gpus"] == "" and info["build_s"] >= 0
    assert actor.oracle.device == "cpu"  # a spec is built on the actor's device, not the driver's
    x = np.array([[1, 0, 2], [0, 0, 1]], np.uint8)
    values, seconds = actor.score(x)
    assert values.dtype == np.float64 and values.tolist() == [9.0, 3.0] and seconds >= 0


def test_lazy_oracle_loads_once_and_pickles_as_its_spec():
    calls = []

    class CountingSpec(FakeSpec):
        def build(self, device=None):
            calls.append(device)
            return super().build(device)

    lazy = LazyOracle(CountingSpec(1.0))
    x = np.ones((2, 3), np.uint8)
    assert lazy(x).tolist() == [3.0, 3.0] and lazy(x).tolist() == [3.0, 3.0]
    assert calls == [None]
    copy = pickle.loads(pickle.dumps(LazyOracle(FakeSpec(1.0))))
    assert copy._oracle is None and copy.spec.scale == 1.0
    with pytest.raises(ValueError, match="spec must have a build"):
        LazyOracle("esm2")


@pytest.mark.parametrize("kwargs,message", [
    (dict(address=""), r"address must be 'auto'"),
    (dict(num_actors=0), r"num_actors must be an integer >= 1 or None, got num_actors=0"),
    (dict(num_gpus=-1), r"num_gpus must be a number >= 0"),
    (dict(num_cpus="2"), r"num_cpus must be a number >= 0"),
    (dict(shard_size=0), r"shard_size must be an integer >= 1"),
    (dict(max_retries=-1), r"max_retries must be an integer >= 0"),
    (dict(inflight=0), r"inflight must be an integer >= 1, got inflight=0"),
    (dict(oracle_factory=5), r"oracle_factory must be an OracleSpec"),
    (dict(runtime_env="pip"), r"runtime_env must be a dict"),
])
def test_executor_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RayExecutor(**kwargs)


def test_ray_flags_make_the_executor(monkeypatch):
    parser = argparse.ArgumentParser()
    add_ray_arguments(parser)
    args = parser.parse_args(["--ray", "auto", "--ray-actors", "4", "--ray-gpus", "0.5",
                              "--ray-shard-size", "1000"])
    ex = executor_from_args(args.ray, args.ray_actors, args.ray_gpus, args.ray_cpus,
                            args.ray_shard_size)
    assert (ex.address, ex.num_actors, ex.num_gpus, ex.num_cpus, ex.shard_size) == \
        ("auto", 4, 0.5, None, 1000)
    assert executor_from_args(parser.parse_args([]).ray) is None
    assert executor_from_args("local").address is None
    assert executor_from_args("10.0.0.1:6379").address == "10.0.0.1:6379"
    with pytest.raises(ValueError, match=r"^--ray-actors: num_actors must be an integer >= 1"):
        executor_from_args("auto", num_actors=0)
    with pytest.raises(ValueError, match=r"^--ray-gpus: num_gpus must be a number >= 0"):
        executor_from_args("auto", gpus_per_actor=-1.0)
    monkeypatch.setitem(sys.modules, "ray", None)  # Ray not installed
    with pytest.raises(ValueError, match=r"--ray auto needs Ray, which is not installed: pip "
                                         r"install 'plmscope\[distributed\]'"):
        executor_from_args("auto")
    with pytest.raises(ImportError, match="running on a Ray cluster needs Ray"):
        RayExecutor().run(lambda x: x, [(0, np.zeros((1, 2), np.uint8))], lambda i, v: None)


def test_run_queries_locally_in_batches():
    seen = []

    def oracle(x):
        seen.append(len(x))
        return x.astype(np.float64) @ np.array([1.0, 10.0])

    x = np.random.default_rng(0).integers(0, 5, size=(23, 2)).astype(np.uint8)
    np.testing.assert_array_equal(run_queries(oracle, x, batch_size=10), x @ np.array([1.0, 10.0]))
    assert seen == [10, 10, 3]
    assert run_queries(oracle, np.zeros((0, 2), np.uint8)).shape == (0,)
    with pytest.raises(ValueError, match=r"returned shape \(2,\) for a batch of 3"):
        run_queries(lambda v: np.zeros(2), x[:3])
    with pytest.raises(ValueError, match="variants must be an"):
        run_queries(oracle, np.zeros(3))


def test_progress_table_and_summary():
    p = ClusterProgress(100, progress=False)
    a, b = p.add_actor("a0"), p.add_actor("a1")
    a.state, b.state = "running", "lost"
    p.shard_done(a, 60, 2.0, fresh=True)
    p.shard_done(a, 40, 1.0, fresh=True)
    p.shard_done(b, 40, 4.0, fresh=False)
    p.close()
    table = p.table().set_index("actor")
    assert table.loc["a0", "queries"] == 100
    assert table.loc["a0", "queries_per_s"] == pytest.approx(100 / 3)
    assert table.loc["a1", "duplicates"] == 1 and p.done == 100
    text = p.summary()
    assert "100 of 100 queries on 2 actor(s)" in text and "1 duplicate answer(s) dropped" in text
    assert "a1       lost" in text


# -- with a tiny random model ------------------------------------------------------------------

GB1 = "MTYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from plmscope.models import save_random_model

    folder = tmp_path_factory.mktemp("tiny")
    (folder / "gb1.fasta").write_text(f">gb1 test\n{GB1}\n")
    path = save_random_model("esm", folder / "esm2_tiny.pt", backend="fair-esm")
    return path, folder / "gb1.fasta"


def test_a_loaded_model_oracle_sends_its_spec(tiny_model):
    from plmscope.models import OracleSpec

    spec = OracleSpec(model=str(tiny_model[0]), backend="fair-esm", device="cpu", dtype=None,
                      wildtype=GB1, sites=(3, 8), q=20, substitutions=None, scorer="pllr")
    recipe = oracle_recipe(spec.build())
    sent = recipe.payload  # the Oracle's own spec (it spells out the substitutions)
    assert recipe.kind == "spec"
    assert (sent.model, sent.sites, sent.scorer) == (spec.model, spec.sites, "pllr")
    built = OracleActor(recipe)
    assert built.ready()["device"] == "cpu"
    x = np.array([[0, 0], [3, 7]], np.uint8)
    np.testing.assert_array_equal(built.score(x)[0], spec.build()(x))


def test_actor_loads_a_model_once_for_specs_of_that_model(tiny_model, monkeypatch):
    """use() switches a kept actor to another spec: the same model_key reuses the loaded model
    (other landscape, scorer), another key or a non-spec recipe lets it go."""
    import dataclasses

    from plmscope.models import OracleSpec, loading

    loads = []
    real = loading.load
    monkeypatch.setattr(loading, "load", lambda *a, **k: loads.append(k.get("dtype")) or
                        real(*a, **k))
    spec = OracleSpec(model=str(tiny_model[0]), backend="fair-esm", device=None, dtype=None,
                      wildtype=GB1, sites=(3, 8), q=2, substitutions=("A", "W"),
                      scorer="masked_marginal")
    other = dataclasses.replace(spec, sites=(8, 20, 30), substitutions=("C", "G", "P"),
                                scorer="pllr")
    x2, x3 = np.indices((2,) * 2).reshape(2, -1).T, np.indices((2,) * 3).reshape(3, -1).T
    actor = OracleActor(oracle_recipe(LazyOracle(spec)))
    assert actor.ready()["reused_model"] is False and loads == [None]
    got = actor.score(x2)[0]
    info = actor.use(oracle_recipe(LazyOracle(other)))
    assert info["reused_model"] is True and info["device"] == "cpu" and loads == [None]
    got_other = actor.score(x3)[0]
    np.testing.assert_array_equal(got, spec.build()(x2))  # as loaded afresh
    np.testing.assert_array_equal(got_other, other.build()(x3))
    del loads[:]
    float32 = dataclasses.replace(spec, dtype="float32")  # another key: loaded again
    assert actor.use(oracle_recipe(float32))["reused_model"] is False and loads == ["float32"]
    assert actor.use(oracle_recipe(float32))["reused_model"] is True and len(loads) == 1
    assert actor.use(oracle_recipe(FakeSpec(2.0)))["reused_model"] is False
    assert actor.score(x2)[0].tolist() == [0.0, 2.0, 2.0, 4.0] and actor._model is None
    assert actor.use(oracle_recipe(float32))["reused_model"] is False and len(loads) == 2


def test_plan_measures_a_model_here(capsys, tmp_path, tiny_model):
    path, fasta = tiny_model
    out = tmp_path / "plan.json"
    assert cli.main(["plan", "--n", "4", "--b", "2", "--measure", str(path), "--fasta", str(fasta),
                     "--scorer", "masked_marginal", "--measure-variants", "64",
                     "--gpus", "1,4", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    record = json.loads(out.read_text())
    rate, load = record["throughput_per_gpu"], record["load_s"]
    assert np.isfinite(rate) and rate > 0 and load > 0
    assert "masked_marginal" in record["throughput_source"]
    assert "on cpu" in record["throughput_source"]
    assert "gb1 length 56" in text and f"{rate:,.1f} variants/s" in text
    one = record["estimates"][0]
    assert one["wall_s"] == pytest.approx(load + record["num_queries"] / rate)
    assert re.search(r"--sites names 3 sites but --n is 4", _plan_error(
        capsys, ["--n", "4", "--measure", str(path), "--fasta", str(fasta), "--sites", "1,2,3"]))
    assert "--measure needs --fasta" in _plan_error(capsys, ["--n", "4", "--measure", str(path)])
    assert "--fasta nope.fa: no such file" in _plan_error(
        capsys, ["--n", "4", "--measure", str(path), "--fasta", "nope.fa"])


def _plan_error(capsys, argv) -> str:
    assert cli.main(["plan", *argv]) == 2
    return capsys.readouterr().err
