"""The Oracle as a q-SFT query function: persistent cache, resume, and rebuilding it in
another process from its OracleSpec."""
import json
import multiprocessing
import pickle
import threading
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from plmscope.landscape import Landscape
from plmscope.models import (
    Oracle,
    OracleSpec,
    ScoreCache,
    from_fair_esm,
    load,
    random_fair_esm,
    save_random_model,
    variant_keys,
)

GB1 = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"
SITES = [3, 10, 24, 41]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return save_random_model("esm", tmp_path_factory.mktemp("ckpt") / "esm2_tiny.pt",
                             backend="fair-esm", seed=4)


@pytest.fixture(scope="module")
def model(ckpt):
    return load(ckpt, device="cpu")


def random_x(m, seed, n=4, q=20):
    return np.random.default_rng(seed).integers(0, q, size=(m, n)).astype(np.uint8)


@pytest.mark.parametrize("scorer", ["pllr", "masked_marginal", "wt_marginal"])
def test_cache_makes_reruns_free(model, tmp_path, scorer):
    L = Landscape(GB1, SITES)
    x = random_x(60, 1)
    path = tmp_path / "scores.sqlite"
    first = Oracle(model, L, scorer, cache=path)
    s1 = first(x)
    assert first.computed == len(np.unique(x, axis=0))
    again = Oracle(model, L, scorer, cache=path)  # a resumed run
    np.testing.assert_array_equal(again(x), s1)
    assert again.computed == 0 and again.sequences_forwarded == 0
    # a partly new query computes only what is new
    y = np.concatenate([x[:20], random_x(10, 2)])
    new = len({tuple(r) for r in y} - {tuple(r) for r in x})
    s2 = again(y)
    assert again.computed == new
    np.testing.assert_allclose(s2, Oracle(model, L, scorer)(y), rtol=1e-12, atol=1e-12)
    cache = ScoreCache(path)
    ctx = cache.context(model.name, model.backend, model.precision, scorer, GB1)
    assert cache.count(ctx) == len({tuple(r) for r in x} | {tuple(r) for r in y})


def test_cache_is_keyed_by_sequence_across_landscapes(model, tmp_path):
    """The same sequence reached from two landscapes (other site order, q) is one entry."""
    path = tmp_path / "c.sqlite"
    A = Landscape(GB1, [3, 10])
    B = Landscape(GB1, [10, 3], q=2, substitutions="AK")  # Y3K via state 1 of the 2nd site
    a = Oracle(model, A, "pllr", cache=path)
    xa = np.array([[0, 0], [A.residues[0].index("K"), 0], [0, A.residues[1].index("A")]], np.uint8)
    sa = a(xa)
    b = Oracle(model, B, "pllr", cache=path)
    sb = b(np.array([[0, 0], [0, 1], [1, 0]], np.uint8))
    np.testing.assert_array_equal(sb, sa)
    assert b.computed == 0
    # other scorers, models and wild types do not share entries
    c = Oracle(model, A, "wt_marginal", cache=path)
    c(xa)
    assert c.computed == 3


def test_variant_keys_are_exact():
    pos = np.array([40, 2, 9])
    wt = np.frombuffer(b"EYK", np.uint8)
    res = np.frombuffer(b"EYK" + b"AYK" + b"EYW" + b"AWK", np.uint8).reshape(4, 3)
    keys = variant_keys(pos, res, wt)
    assert keys[0] == b""
    assert keys[1] == bytes([0, 41]) + b"A"
    assert keys[2] == bytes([0, 10]) + b"W"
    assert keys[3] == bytes([0, 3]) + b"W" + bytes([0, 41]) + b"A"  # in position order
    big = variant_keys(np.array([300]), np.frombuffer(b"A", np.uint8)[None],
                       np.frombuffer(b"G", np.uint8))
    assert big == [bytes([1, 45]) + b"A"]


def test_cache_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        ScoreCache(tmp_path)
    cache = ScoreCache(tmp_path / "x.sqlite")
    ctx = cache.context("m", "b", "p", "s", "W")
    with pytest.raises(ValueError, match="non-finite"):
        cache.put(ctx, [b"\x00\x01A"], [np.nan])
    scores, found = cache.get(ctx, [])
    assert scores.shape == (0,) and found.shape == (0,)


def test_closing_the_cache_leaves_one_whole_file(model, tmp_path):
    """close() ends every thread's connection: SQLite checkpoints its journal into the file
    and removes the -wal/-shm files; the closed cache and its Oracle stay usable."""
    path = tmp_path / "scores.sqlite"
    journals = [tmp_path / "scores.sqlite-wal", tmp_path / "scores.sqlite-shm"]
    L = Landscape(GB1, SITES)
    oracle = Oracle(model, L, "wt_marginal", cache=path)
    x, y = random_x(5, 1), random_x(5, 2)
    want = np.concatenate([oracle(x), np.zeros(5)])
    worker = threading.Thread(target=lambda: want.__setitem__(slice(5, None), oracle(y)))
    worker.start()
    worker.join()  # that thread's connection is still open
    assert all(p.exists() for p in journals)
    oracle.close()
    assert not any(p.exists() for p in journals)
    fresh = Oracle(model, L, "wt_marginal", cache=path)  # both threads' scores are in the file
    np.testing.assert_array_equal(fresh(np.concatenate([x, y])), want)
    assert fresh.computed == 0
    fresh.close()
    np.testing.assert_array_equal(oracle(x), want[:5])  # reopened on the next call
    assert oracle.computed == len(np.unique(np.concatenate([x, y]), axis=0))
    oracle.close()
    assert not any(p.exists() for p in journals)


def _score_in_child(spec_and_x):
    spec, x = spec_and_x
    oracle = spec.build()
    return oracle(x), oracle.computed


def test_spec_rebuilds_the_oracle_in_another_process(model, ckpt, tmp_path):
    L = Landscape(GB1, [5, 20], q=2, substitutions="WP")
    oracle = Oracle(model, L, "masked_marginal", batch_size=7, cache=tmp_path / "s.sqlite")
    spec = oracle.spec
    assert spec == OracleSpec(model=str(ckpt.resolve()), backend="fair-esm", device="cpu",
                              dtype=None, wildtype=GB1, sites=(5, 20), q=2,
                              substitutions=("W", "P"), scorer="masked_marginal", batch_size=7,
                              cache=str((tmp_path / "s.sqlite").resolve()))
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert OracleSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    x = L.all_variants()
    want = Oracle(model, L, "masked_marginal")(x)
    ctx = multiprocessing.get_context("spawn")  # as Ray or a fresh worker would: no fork
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        got, computed = pool.submit(_score_in_child, (spec, x)).result(timeout=300)
    np.testing.assert_array_equal(got, want)
    assert computed == 4
    # the child wrote the shared cache; here nothing is left to compute
    assert oracle(x).tolist() == want.tolist() and oracle.computed == 0
    clone = pickle.loads(pickle.dumps(oracle))  # an Oracle pickles as its spec
    assert isinstance(clone, Oracle) and clone.spec == spec


def test_spec_needs_a_loadable_model():
    module, alphabet = random_fair_esm(seed=2)
    mem = from_fair_esm(module, alphabet, name="in-memory")
    oracle = Oracle(mem, Landscape(GB1, [3]), "wt_marginal")
    assert oracle(np.array([[1]], np.uint8)).shape == (1,)
    with pytest.raises(ValueError, match="wrapped from memory"):
        _ = oracle.spec


def test_oracle_input_checks(model):
    with pytest.raises(ValueError, match="ProteinModel"):
        Oracle("esm2_t6_8M_UR50D", Landscape(GB1, [3]), "pllr")
    with pytest.raises(ValueError, match="Landscape"):
        Oracle(model, GB1, "pllr")
    o = Oracle(model, Landscape(GB1, [3, 4], q=2, substitutions="AA"), "pllr")
    with pytest.raises(ValueError, match=r"x\[0, 1\] = 2 is outside \[0, q=2\)"):
        o(np.array([[1, 2]]))
    with pytest.raises(ValueError, match=r"\(m, n=2\)"):
        o(np.zeros((3, 3), np.uint8))
    assert o.queries == 0
    o(np.zeros((5, 2), np.uint8))
    assert o.queries == 5 and o.computed == 1
