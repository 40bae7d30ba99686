import functools
import numpy as np
import pytest

from plmscope.fourier import SparseFourier, SurrogateOracle, qary_fft, qsft
from plmscope.fourier.qsft import design



# These tests pin the q-SFT peeling decoder's own guarantees (exact support and values on
# noiseless spectra, resume, thresholds); the regression decoder has tests/test_fit.py.
peel_recover = functools.partial(qsft.recover, decoder="peel")

def planted(rng, q, n, num_pairs, max_order, offset=0.0, scale=1.0):
    """A real K-sparse function: random frequencies of order 1..max_order plus mirrors."""
    seen, freqs, vals, classes = set(), [], [], 0
    while classes < num_pairs:
        order = rng.integers(1, max_order + 1)
        k = np.zeros(n, np.int64)
        sites = rng.choice(n, size=order, replace=False)
        k[sites] = rng.integers(1, q, size=order)
        neg = (-k) % q
        if tuple(k) in seen or tuple(neg) in seen:
            continue
        v = scale * (1.0 + rng.random()) * np.exp(2j * np.pi * rng.random())
        if np.array_equal(k, neg):  # self-mirrored (q even, entries q/2): value must be real
            v = v.real + 0j
            seen.add(tuple(k)); freqs.append(k); vals.append(v)
            classes += 1
            continue
        seen |= {tuple(k), tuple(neg)}
        classes += 1
        freqs += [k, neg]
        vals += [v, np.conj(v)]
    if offset:
        freqs.append(np.zeros(n, np.int64))
        vals.append(offset + 0j)
    return SparseFourier(np.array(freqs), np.array(vals), q)


def as_dict(sf, tol=1e-9):
    return {tuple(int(v) for v in k): val for k, val in zip(sf.frequencies, sf.values)
            if abs(val) > tol}


class Recorder:
    """Oracle wrapper that records every variant asked."""

    def __init__(self, oracle, fail_after=None):
        self.oracle, self.fail_after, self.batches = oracle, fail_after, []

    def __call__(self, x):
        if self.fail_after is not None and len(self.batches) >= self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        self.batches.append(np.array(x))
        return self.oracle(x)

    def asked(self):
        return np.vstack(self.batches) if self.batches else np.zeros((0, 1), np.uint8)


@pytest.mark.parametrize("q,n,b,pairs,max_order,delays", [
    (2, 10, 5, 8, 4, "identity"), (2, 1, 1, 1, 1, "identity"), (3, 8, 3, 6, 3, "nso"),
    (4, 10, 4, 10, 4, "identity"), (20, 6, 2, 5, 3, "identity"), (20, 10, 3, 8, 4, "nso"),
])
def test_noiseless_exact_support_and_values(q, n, b, pairs, max_order, delays):
    rng = np.random.default_rng(q * 31 + n)
    truth = planted(rng, q, n, pairs, max_order, offset=-3.0)
    rec = Recorder(SurrogateOracle(truth))
    res = peel_recover(rec, q, n, b, num_subsample=3, delays=delays, seed=5, batch_size=997)
    got, want = as_dict(res.transform), as_dict(truth)
    assert set(got) == set(want)
    for k in want:
        assert abs(got[k] - want[k]) < 1e-9, (k, got[k], want[k])
    asked = rec.asked()
    assert len(np.unique(asked, axis=0)) == len(asked) == res.num_queries  # never twice
    assert max(len(bt) for bt in rec.batches) <= 997
    assert res.num_samples == 3 * q**b * (n + 1) * 1


def test_noisy_nmse_within_snr_bound():
    q, n, b, C, R = 4, 8, 4, 3, 2
    rng = np.random.default_rng(11)
    truth = planted(rng, q, n, 8, 3)
    sigma = 0.5
    res = peel_recover(SurrogateOracle(truth, sigma, seed=3), q, n, b, num_subsample=C,
                       num_repeat=R, seed=2)
    got, want = as_dict(res.transform, tol=0), as_dict(truth)
    assert set(want) <= set(got)
    err = sum(abs(got.get(k, 0) - want.get(k, 0)) ** 2 for k in set(got) | set(want))
    energy = sum(abs(v) ** 2 for v in want.values())
    # Each coefficient is a mean over C P bin entries of noise variance sigma^2 / q^b; allow
    # 10x the expected error energy (plus the tiny spurious ones, same order).
    P = R * (n + 1)
    expected = len(got) * sigma**2 / q**b / (C * P)
    assert err / energy < 10 * expected / energy, (err, expected)
    assert abs(res.noise_sd - sigma) < 0.1 * sigma


def test_matches_dense_fft_on_small_space():
    q, n = 3, 5
    rng = np.random.default_rng(4)
    truth = planted(rng, q, n, 4, 3, offset=1.5)
    grid = np.array(np.unravel_index(np.arange(q**n), (q,) * n)).T
    dense = qary_fft(truth.evaluate(grid), q)
    res = peel_recover(SurrogateOracle(truth), q, n, 2, num_subsample=3, delays="identity")
    np.testing.assert_allclose(res.transform.to_dense(), dense, atol=1e-10)


def test_signed_scores_with_large_offset():
    q, n = 20, 4
    rng = np.random.default_rng(8)
    truth = planted(rng, q, n, 3, 2, offset=-250.0, scale=0.01)
    res = peel_recover(SurrogateOracle(truth), q, n, 2, num_subsample=3, delays="identity")
    got = as_dict(res.transform, tol=1e-12)
    assert abs(got[(0,) * n] - (-250.0)) < 1e-9
    assert set(got) == set(as_dict(truth, tol=1e-12))


def test_deterministic_across_seeds_and_threads():
    rng = np.random.default_rng(1)
    truth = planted(rng, 4, 8, 6, 3)
    oracle = SurrogateOracle(truth, 0.3, seed=1)
    a = peel_recover(oracle, 4, 8, 3, seed=9, nthreads=1)
    b = peel_recover(oracle, 4, 8, 3, seed=9, nthreads=2)
    np.testing.assert_array_equal(a.transform.frequencies, b.transform.frequencies)
    np.testing.assert_array_equal(a.transform.values, b.transform.values)
    c = peel_recover(oracle, 4, 8, 3, seed=10)  # another design finds the same support
    assert c.num_samples == a.num_samples
    zero = (0,) * 8
    assert set(as_dict(c.transform, 0.1)) - {zero} == set(as_dict(a.transform, 0.1)) - {zero} \
        == set(as_dict(truth))


def test_store_resume_reasks_nothing(tmp_path):
    q, n, b = 4, 8, 3
    truth = planted(np.random.default_rng(3), q, n, 6, 3)
    oracle = SurrogateOracle(truth, 0.2, seed=4)
    kwargs = dict(q=q, n=n, b=b, num_subsample=3, num_repeat=2, seed=1, batch_size=500)
    full = peel_recover(oracle, **kwargs)

    first = Recorder(oracle, fail_after=4)
    with pytest.raises(KeyboardInterrupt):
        peel_recover(first, store=tmp_path / "run", **kwargs)
    assert len(first.batches) == 4
    second = Recorder(oracle)
    resumed = peel_recover(second, store=tmp_path / "run", **kwargs)
    asked_first = {r.tobytes() for r in first.asked()}
    asked_second = {r.tobytes() for r in second.asked()}
    assert not asked_first & asked_second
    assert len(asked_first) + len(asked_second) == full.num_queries
    np.testing.assert_array_equal(resumed.transform.frequencies, full.transform.frequencies)
    np.testing.assert_allclose(resumed.transform.values, full.transform.values, atol=0)
    # a finished store answers everything: the oracle is not called at all
    third = Recorder(oracle)
    peel_recover(third, store=tmp_path / "run", **kwargs)
    assert third.batches == []
    with pytest.raises(ValueError, match=r"made with other arguments \(.*seed: stored 1 vs now 2"):
        peel_recover(oracle, store=tmp_path / "run", **{**kwargs, "seed": 2})


def test_plan_counts_queries():
    p = qsft.plan(20, 10, 4, num_subsample=2, delays="nso", num_repeat=2)
    assert p.num_samples == 7_040_000 and p.num_delays == 22 and p.num_bins == 160_000
    assert "7,040,000 queries" in str(p)
    assert qsft.plan(2, 10, 5, 3, "identity").num_samples == 3 * 32 * 11


@pytest.mark.parametrize("q,n,b", [(20, 10, 4), (4, 6, 6), (3, 5, 2), (6, 4, 2), (2, 3, 3)])
def test_subsampling_matrices_are_onto(q, n, b):
    rng = np.random.default_rng(0)
    for M in design.subsampling_matrices(rng, q, n, b, 4):
        assert design.is_onto(M, q)
        # onto <=> every bin receives exactly q^(n-b) frequencies (checked where enumerable)
        if q**n <= 50_000:
            grid = np.array(np.unravel_index(np.arange(q**n), (q,) * n)).T
            j = (grid @ M.astype(np.int64)) % q
            counts = np.bincount(j @ (q ** np.arange(b - 1, -1, -1)), minlength=q**b)
            assert np.all(counts == q ** (n - b))


def test_is_onto_detects_rank_deficiency_for_composite_q():
    assert not design.is_onto(np.array([[2], [4], [6]]), 20)   # all even: misses odd bins
    assert not design.is_onto(np.array([[5], [10]]), 20)       # multiples of 5
    assert design.is_onto(np.array([[2], [5]]), 20)            # 2 and 5 generate Z_20
    assert not design.is_onto(np.array([[1, 2], [2, 4]]), 3)


def test_query_points_match_definition():
    rng = np.random.default_rng(2)
    M = design.subsampling_matrices(rng, 5, 4, 2, 2)
    D = design.delay_rows(rng, 5, 4, "nso", 2)
    pts, codes = design.query_points(M, D, 5, with_codes=True)
    grid = design.subsample_grid(5, 2)
    for c in range(2):
        for p in range(D.shape[0]):
            np.testing.assert_array_equal(pts[c, p], (grid @ M[c].T.astype(int) + D[p]) % 5)
    np.testing.assert_array_equal(codes, design.variant_codes(pts.reshape(-1, 4), 5))
    uniq, inv, removed, _ = design.design_order_variants(pts, M, D, 5)
    np.testing.assert_array_equal(uniq[inv], pts.reshape(-1, 4))
    ref = np.unique(pts.reshape(-1, 4), axis=0)
    np.testing.assert_array_equal(np.unique(uniq, axis=0), ref)
    assert len(uniq) == len(ref) and removed == pts.reshape(-1, 4).shape[0] - len(ref)


@pytest.mark.parametrize("kwargs,message", [
    (dict(q=4, n=3, b=4), r"b=4 must be <= n=3"),
    (dict(q=1, n=3, b=1), r"q must be an integer >= 2"),
    (dict(q=4, n=3, b=1, delays="random"), r"delays must be one of"),
    (dict(q=4, n=3, b=1, delays="identity", num_repeat=2), r"identity delays have no repeats"),
    (dict(q=4, n=3, b=1, num_subsample=0), r"num_subsample must be an integer >= 1"),
    (dict(q=4, n=3, b=1, noise_sd=-1.0), r"noise_sd must be 'auto' or a finite number >= 0"),
])
def test_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        peel_recover(lambda x: np.zeros(len(x)), **kwargs)


def test_too_many_bins_says_the_size(monkeypatch):
    import plmscope._memory as mem
    monkeypatch.setattr(mem, "available_bytes", lambda: 10**6)
    with pytest.raises(ValueError, match=r"q\^b = 20\^4 = 160,000 bins per subsample .* would need"):
        peel_recover(lambda x: np.zeros(len(x)), 20, 10, 4)


def test_oracle_errors():
    with pytest.raises(ValueError, match="oracle must be callable"):
        peel_recover("esm2", 4, 3, 1)
    with pytest.raises(ValueError, match=r"returned shape \(\d+,\) for a batch of \d+ variants"):
        peel_recover(lambda x: np.zeros(len(x) - 1), 4, 3, 1)

    def nan_at_three(x):
        y = np.zeros(len(x))
        hit = np.flatnonzero((x == [3, 0, 1]).all(axis=1))
        y[hit] = np.nan
        return y

    with pytest.raises(ValueError, match=r"returned nan for variant \[3, 0, 1\]"):
        peel_recover(nan_at_three, 4, 3, 2, delays="identity")


def test_one_sites_values_never_share_a_bin():
    # k and k + 10 e_i (q = 20) collide in a group whose row i is all even; the design
    # keeps every row a unit modulo 2 and 5, so each site's 20 values get 20 bins.
    rng = np.random.default_rng(0)
    for M in design.subsampling_matrices(rng, 20, 10, 4, 8):
        assert design.rows_are_units(M, 20)
        for i in range(10):
            j = (np.arange(20)[:, None] * M[i].astype(np.int64)[None, :]) % 20
            assert len({tuple(r) for r in j}) == 20
    assert not design.rows_are_units(np.array([[2, 4], [1, 3]]), 20)
    assert not design.rows_are_units(np.array([[5, 15], [1, 3]]), 20)


def test_same_site_pair_differing_by_half_q_is_recovered():
    q, n = 20, 6
    k1 = np.zeros(n, np.int64); k1[2] = 3
    k2 = np.zeros(n, np.int64); k2[2] = 13
    freqs = [k1, (-k1) % q, k2, (-k2) % q]
    vals = [1 + 1j, 1 - 1j, 0.5 - 2j, 0.5 + 2j]
    truth = SparseFourier(np.array(freqs), np.array(vals), q)
    for seed in range(6):
        res = peel_recover(SurrogateOracle(truth), q, n, 2, num_subsample=2, seed=seed)
        assert set(as_dict(res.transform)) == set(as_dict(truth)), seed


def test_query_variants_are_what_recover_asks():
    truth = planted(np.random.default_rng(5), 4, 6, 3, 2)
    rec = Recorder(SurrogateOracle(truth))
    peel_recover(rec, 4, 6, 2, num_subsample=2, num_repeat=2, seed=3, batch_size=10**6)
    np.testing.assert_array_equal(qsft.query_variants(4, 6, 2, 2, "nso", 2, seed=3), rec.asked())


def test_subgroup_collisions_of_composite_q_are_reported_not_invented():
    # For q = 20 the frequencies 10 e_i can only reach the 3 nonzero bins of {0, 10}^2 when
    # b = 2: with n = 4 sites they may collide in every group. Peeling then leaves those bins
    # (bins_left says so) and adds no guess; the regression decoder, whose candidates
    # include every order-1 term, resolves them from the same answers.
    q, n = 20, 4
    freqs, vals = [], []
    for i in range(n):
        k = np.zeros(n, np.int64); k[i] = 10
        freqs.append(k); vals.append(1.0 + i)
        k = np.zeros(n, np.int64); k[i] = 3
        freqs += [k, (-k) % q]; vals += [0.5 - 0.2j * i, 0.5 + 0.2j * i]
    truth = SparseFourier(np.array(freqs), np.array(vals), q)
    planted = as_dict(truth)
    stalled = 0
    for seed in range(4):
        res = peel_recover(SurrogateOracle(truth), q, n, 2, num_subsample=2, seed=seed)
        got = as_dict(res.transform)
        assert set(got) <= set(planted) | {(0,) * n}, seed
        assert all(abs(got[k] - planted[k]) < 1e-9 for k in got if any(k)), seed
        if set(got) != set(planted):
            stalled += 1
            assert res.bins_left > 0, seed
        auto = qsft.recover(SurrogateOracle(truth), q, n, 2, num_subsample=2, seed=seed,
                            progress=False)
        assert auto.decoder == "regress"
        big = {k for k, v in as_dict(auto.transform, 0.05).items() if any(k)}
        assert big == set(planted), seed
    assert stalled  # the case this test is about happens for some seed
