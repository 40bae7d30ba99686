"""Budgets that stop themselves (plmscope.fourier.ask_in_rounds)."""
import json

import numpy as np
import pytest

from plmscope.fourier import SparseFourier, ask_in_rounds
from plmscope.fourier.rounds import _Seen, _fresh_random


def planted(q, n, seed=0, pairs=3):
    """A real function with every order-1 term and a few pairs (k and -k both held)."""
    rng = np.random.default_rng(seed)
    freqs, values = [np.zeros(n, np.uint8)], [1.0 + 0j]
    for i in range(n):
        for a in range(1, q):
            k = np.zeros(n, np.uint8)
            k[i] = a
            freqs.append(k)
            values.append(rng.normal())
    for _ in range(pairs):
        i, j = rng.choice(n, 2, replace=False)
        k = np.zeros(n, np.uint8)
        k[i], k[j] = rng.integers(1, q, 2)
        v = 2 * (rng.normal() + 1j * rng.normal())
        freqs += [k, ((-k.astype(int)) % q).astype(np.uint8)]
        values += [v, np.conj(v)]
    f = SparseFourier(np.array(freqs), np.array(values), q)
    # make it exactly real: average with the mirror
    return f


class Counting:
    def __init__(self, f, noise=0.0, seed=1):
        self.f, self.noise, self.asked = f, noise, []
        self.rng = np.random.default_rng(seed)

    def __call__(self, x):
        x = np.asarray(x, np.uint8)
        self.asked.append(x.copy())
        y = self.f.evaluate(x)
        return y + self.noise * self.rng.normal(size=y.size) if self.noise else y


def real_part(f):
    # symmetrise order-1 values so the planted function is real
    freqs, vals = f.frequencies, f.values.copy()
    q = f.q
    index = {row.tobytes(): i for i, row in enumerate(freqs)}
    for i, row in enumerate(freqs):
        j = index.get(((-row.astype(int)) % q).astype(np.uint8).tobytes())
        if j is not None and j > i:
            vals[j] = np.conj(vals[i])
        elif j == i:
            vals[i] = vals[i].real
    return SparseFourier(freqs, vals, q)


@pytest.mark.parametrize("design", ["random", "qsft"])
def test_rounds_stop_once_the_fit_stops_gaining(design):
    q, n = 3, 6
    f = real_part(planted(q, n))
    oracle = Counting(f, noise=0.01)
    res = ask_in_rounds(oracle, q, n, design=design, start=40, b=2, tolerance=0.005, seed=0,
                        max_queries=q ** n)
    asked = np.vstack(oracle.asked)
    # every variant is asked once, and the result holds exactly what was asked
    assert len({r.tobytes() for r in asked}) == asked.shape[0] == res.num_queries
    assert res.rounds[-1].queries == res.variants.shape[0]
    if design == "qsft":  # a structured design stops on random validation variants
        assert res.validation_x.shape[0] == 72 == res.num_queries - res.variants.shape[0]
        assert all(r.validation_r2 is not None for r in res.rounds)
        assert not ({r.tobytes() for r in res.validation_x} & {r.tobytes() for r in res.variants})
    else:
        assert res.validation_x.shape[0] == 0 and res.rounds[0].validation_r2 is None
    assert res.stopped in ("tolerance", "exhausted")
    if res.stopped == "tolerance":
        assert res.rounds[-1].gain < 0.005
        assert all(r.gain >= 0.005 for r in res.rounds[1:-1])
    # far fewer queries than all q^n, and the planted function is recovered
    assert res.num_queries < q ** n
    x = np.indices((q,) * n).reshape(n, -1).T.astype(np.uint8)
    truth = f.evaluate(x)
    pred = res.fit.predict(x)
    assert 1 - np.sum((truth - pred) ** 2) / np.sum((truth - truth.mean()) ** 2) > 0.99
    # cumulative counts double (random) or add groups (qsft)
    sizes = [r.queries for r in res.rounds]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    if design == "random":
        assert sizes[:3] == [40, 80, 160][: len(sizes[:3])]


def test_rounds_are_reproducible_and_resume_without_asking_again(tmp_path):
    q, n = 2, 8
    f = real_part(planted(q, n, seed=3))
    first = ask_in_rounds(Counting(f), q, n, start=20, seed=5, store=tmp_path / "r")
    again = Counting(f)
    second = ask_in_rounds(again, q, n, start=20, seed=5, store=tmp_path / "r")
    assert again.asked == []  # every answer came from the store
    np.testing.assert_array_equal(first.variants, second.variants)
    np.testing.assert_array_equal(first.fit.transform.values, second.fit.transform.values)
    saved = json.loads((tmp_path / "r" / "rounds.json").read_text())
    assert saved["stopped"] == first.stopped
    assert [r["queries"] for r in saved["rounds"]] == [r.queries for r in first.rounds]
    # another seed draws other variants
    other = ask_in_rounds(Counting(f), q, n, start=20, seed=6)
    assert not np.array_equal(other.variants[:20], first.variants[:20])


def test_rounds_resume_after_an_interrupted_round(tmp_path):
    q, n = 2, 8
    f = real_part(planted(q, n, seed=3))

    class Dies(Counting):
        def __call__(self, x):
            if sum(a.shape[0] for a in self.asked) >= 60:
                raise KeyboardInterrupt
            return super().__call__(x)

    dying = Dies(f)
    with pytest.raises(KeyboardInterrupt):
        ask_in_rounds(dying, q, n, start=20, seed=5, store=tmp_path / "r", batch_size=10)
    asked_before = sum(a.shape[0] for a in dying.asked)
    rest = Counting(f)
    done = ask_in_rounds(rest, q, n, start=20, seed=5, store=tmp_path / "r", batch_size=10)
    asked_after = sum(a.shape[0] for a in rest.asked)
    assert asked_before + asked_after == done.num_queries
    full = ask_in_rounds(Counting(f), q, n, start=20, seed=5, batch_size=10)
    np.testing.assert_array_equal(done.variants, full.variants)


def test_max_queries_caps_the_rounds():
    q, n = 4, 6
    f = real_part(planted(q, n))
    res = ask_in_rounds(Counting(f, noise=1.0), q, n, start=50, max_queries=120, tolerance=0.0)
    assert res.num_queries == 120
    assert res.stopped == "max_queries"
    assert [r.new_queries for r in res.rounds] == [50, 50, 20]


def test_validation_counts_against_max_queries():
    q, n = 4, 6
    # a noiseless landscape on which every round gains (seed 4), so only the cap stops them
    f = real_part(planted(q, n, seed=4))
    res = ask_in_rounds(Counting(f), q, n, design="qsft", b=1, validation=30,
                        max_queries=100, tolerance=0.0)
    assert res.num_queries == 100 and res.stopped == "max_queries"
    assert res.validation_x.shape[0] == 30 and res.variants.shape[0] == 70
    oracle = Counting(f)
    with pytest.raises(ValueError, match="max_queries=15 leaves no query for the rounds after 20"):
        ask_in_rounds(oracle, q, n, design="qsft", b=1, validation=20, max_queries=15)
    assert oracle.asked == []  # refused before anything was asked


def test_exhausting_a_small_space_stops():
    q, n = 2, 4
    f = real_part(planted(q, n, pairs=1))
    res = ask_in_rounds(Counting(f, noise=0.5), q, n, start=10, tolerance=0.0)
    assert res.num_queries == 16 and res.stopped == "exhausted"


def test_fresh_random_never_repeats_and_fills_the_space():
    q, n = 3, 3
    seen = _Seen(q, n)
    drawn = []
    for r in range(1, 5):
        new = _fresh_random(q, n, 8, 0, r, seen)
        seen.add(new)
        drawn.append(new)
    allv = np.vstack(drawn)
    assert allv.shape[0] == 27  # 8 + 8 + 8 + the 3 left
    assert len({row.tobytes() for row in allv}) == 27


@pytest.mark.parametrize("kwargs, match", [
    (dict(design="grid"), "design must be one of random, qsft"),
    (dict(tolerance=-0.1), "tolerance must be"),
    (dict(tolerance=float("nan")), "tolerance must be"),
    (dict(start=3), "start must be an integer >= 10"),
    (dict(max_queries=5), "max_queries must be"),
    (dict(design="qsft"), "the qsft design needs b"),
    (dict(design="qsft", b=9), "the qsft design needs b"),
    (dict(seed=-1), "seed must be"),
    (dict(max_rounds=0), "max_rounds must be"),
    (dict(validation=-1), "validation must be an integer >= 0"),
])
def test_bad_arguments_name_themselves(kwargs, match):
    f = real_part(planted(2, 6))
    with pytest.raises(ValueError, match=match):
        ask_in_rounds(Counting(f), 2, 6, **kwargs)
