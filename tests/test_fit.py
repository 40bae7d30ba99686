"""plmscope.fourier.fit and the C++ Lasso on the q-ary Fourier basis, against dense numpy
references (optimality conditions, least squares) and planted landscapes."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from plmscope import _core
from plmscope.fourier import SparseFourier, fit, random_real_transform
from plmscope.fourier import regress
from plmscope.fourier.qsft import recover


def all_variants(q, n):
    return np.array(list(itertools.product(range(q), repeat=n)), np.uint8)


def dense_features(x, freqs, q):
    return np.exp(2j * np.pi * ((x.astype(np.int64) @ freqs.T.astype(np.int64)) % q) / q)


def path_blocks(q, n, max_order):
    blocks = [regress._Block(())]
    for s in range(1, max_order + 1):
        blocks += regress._site_blocks(n, s, q)
    return blocks


def solve(x, y, w, q, n, blocks, lam, weights=None, **kw):
    specs = [b.spec(q, n, (weights or {}).get(len(b.sites), 1.0)) for b in blocks]
    res = _core.fourier_lasso_path(x, y, w, q, specs, np.array([lam], float),
                                   np.zeros((0, n), np.uint8), tol=1e-10, max_sweeps=5000,
                                   max_inner=500, **kw)
    return regress._transform(blocks, res["coefficients"][-1], q, n), res


def candidate_frequencies(q, n, max_order):
    k = all_variants(q, n)
    orders = np.count_nonzero(k, axis=1)
    return k[(orders >= 1) & (orders <= max_order)]


def check_kkt(x, y, w, q, tf, cands, lam, tol, weights=None):
    """Optimality of the complex Lasso with penalty lam * weight(order of k) * |F_k|:
    grad_k + lam_k F_k / |F_k| = 0 on the support, |grad_k| <= lam_k off it
    (grad_k = -(1/W) sum w r conj(phi_k))."""
    r = y - tf.evaluate(x)
    W = w.sum()
    assert abs(np.sum(w * r)) / W < tol  # the unpenalised mean
    phi = dense_features(x, cands, q)
    grad = -(phi.conj().T @ (w * r)) / W
    values = dict(zip(map(bytes, tf.frequencies), tf.values))
    for k, g in zip(cands, grad):
        v = values.get(bytes(k), 0)
        lam_k = lam * (weights or {}).get(int(np.count_nonzero(k)), 1.0)
        if abs(v) > 0:
            assert abs(g + lam_k * v / abs(v)) < tol, (k, g, v)
        else:
            assert abs(g) <= lam_k + tol, (k, g)


@settings(max_examples=25, deadline=None)
@given(q=st.integers(2, 5), n=st.integers(1, 3), m=st.integers(8, 60), order=st.integers(1, 3),
       frac=st.floats(0.01, 0.9), weighted=st.booleans(), seed=st.integers(0, 2**16))
def test_lasso_meets_optimality_conditions(q, n, m, order, frac, weighted, seed):
    order = min(order, n)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, q, (m, n)).astype(np.uint8)
    y = rng.standard_normal(m) * 2 + 1
    w = rng.uniform(0.5, 2, m) if weighted else np.ones(m)
    blocks = path_blocks(q, n, order)
    _, res0 = solve(x, y, w, q, n, blocks, 1e9)
    lam = frac * res0["lambda_max"]
    tf, _ = solve(x, y, w, q, n, blocks, lam)
    # real function: every value has its mirror's conjugate
    vals = dict(zip(map(bytes, tf.frequencies), tf.values))
    for k, v in vals.items():
        neg = bytes(((q - np.frombuffer(k, np.uint8).astype(int)) % q).astype(np.uint8))
        assert abs(vals.get(neg, 0) - np.conj(v)) < 1e-9
    check_kkt(x, y, w, q, tf, candidate_frequencies(q, n, order), lam, 1e-6 * max(1, lam))


@settings(max_examples=20, deadline=None)
@given(q=st.integers(2, 4), n=st.integers(1, 3), m=st.integers(12, 60),
       w1=st.sampled_from([0.0, 0.3, 1.0]), w2=st.sampled_from([0.5, 1.0, 2.0]),
       w3=st.sampled_from([1.0, 3.0]), frac=st.floats(0.05, 0.9), seed=st.integers(0, 2**16))
def test_order_weights_meet_weighted_optimality_conditions(q, n, m, w1, w2, w3, frac, seed):
    """Per-order penalty weights (fit's penalty_by_order): each coefficient of order s meets
    the optimality conditions at lam * weight(s); weight 0 leaves it unpenalised."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, q, (m, n)).astype(np.uint8)
    y = rng.standard_normal(m) * 2 + 1
    w = np.ones(m)
    weights = {1: w1, 2: w2, 3: w3}
    blocks = path_blocks(q, n, n)
    _, res0 = solve(x, y, w, q, n, blocks, 1e9, weights=weights)
    lam = frac * res0["lambda_max"]
    tf, _ = solve(x, y, w, q, n, blocks, lam, weights=weights)
    check_kkt(x, y, w, q, tf, candidate_frequencies(q, n, n), lam, 1e-6 * max(1, lam),
              weights=weights)


def test_lambda_max_keeps_every_term_out():
    rng = np.random.default_rng(3)
    q, n = 3, 3
    x = rng.integers(0, q, (50, n)).astype(np.uint8)
    y = rng.standard_normal(50)
    blocks = path_blocks(q, n, 2)
    _, res = solve(x, y, None, q, n, blocks, 1e9)
    lmax = res["lambda_max"]
    above, _ = solve(x, y, None, q, n, blocks, lmax * 1.0001)
    below, _ = solve(x, y, None, q, n, blocks, lmax * 0.99)
    assert len(above) == 1 and abs(above.values[0] - y.mean()) < 1e-12
    assert len(below) > 1


@pytest.mark.parametrize("q,n", [(2, 1), (2, 4), (3, 3), (4, 2), (5, 2)])
def test_small_penalty_is_least_squares_on_the_full_basis(q, n):
    """With every frequency a candidate, enough variants and lam -> 0 the fit is the
    least-squares solution (numpy lstsq on the dense basis)."""
    rng = np.random.default_rng(q * 10 + n)
    x = np.vstack([all_variants(q, n)] * 2 + [rng.integers(0, q, (q**n, n)).astype(np.uint8)])
    y = rng.standard_normal(x.shape[0])
    tf, _ = solve(x, y, None, q, n, path_blocks(q, n, n), 1e-9)
    k = all_variants(q, n)
    coef, *_ = np.linalg.lstsq(dense_features(x, k, q), y.astype(complex), rcond=None)
    dense = tf.to_dense()
    assert np.max(np.abs(dense - coef)) < 1e-6


def test_frequency_blocks_equal_site_blocks():
    """The same candidates as one table per site set or one block per conjugate pair give
    the same Lasso solution."""
    rng = np.random.default_rng(5)
    q, n = 4, 3
    x = rng.integers(0, q, (80, n)).astype(np.uint8)
    y = rng.standard_normal(80)
    tables = path_blocks(q, n, 2)
    pairs = [regress._Block(())] + regress._frequency_blocks(
        candidate_frequencies(q, n, 2), q, n, set())
    a, _ = solve(x, y, None, q, n, tables, 0.05)
    b, _ = solve(x, y, None, q, n, pairs, 0.05)
    assert np.allclose(a.to_dense(), b.to_dense(), atol=1e-7)


def test_fit_recovers_a_planted_landscape():
    rng = np.random.default_rng(0)
    q, n = 4, 6
    truth = random_real_transform(q, n, {1: (4, 1.0), 2: (4, 0.7), 3: (2, 0.5)}, 0.3, rng)
    x = rng.integers(0, q, (1500, n)).astype(np.uint8)
    y = truth.evaluate(x) + 0.01 * rng.standard_normal(x.shape[0])
    result = fit(x, y, q, seed=1)
    test = rng.integers(0, q, (2000, n)).astype(np.uint8)
    yt = truth.evaluate(test)
    r2 = 1 - np.sum((yt - result.predict(test)) ** 2) / np.sum((yt - yt.mean()) ** 2)
    assert r2 > 0.999 and result.cv_r2 > 0.99
    found = {bytes(k) for k, v in zip(result.transform.frequencies, result.transform.values)
             if abs(v) > 0.05}
    assert {bytes(k) for k in truth.frequencies} <= found
    # the order-3 terms were reached hierarchically
    assert 3 in result.support_by_order and result.rounds[0]["order"] == 2
    summary = result.summary()
    assert summary["cv_r2"] == result.cv_r2 and summary["num_variants"] == 1500 - result.duplicates


def test_fit_is_reproducible_and_seeded():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 3, (200, 4)).astype(np.uint8)
    y = rng.standard_normal(200)
    a, b = fit(x, y, 3, seed=4), fit(x, y, 3, seed=4)
    assert np.array_equal(a.transform.values, b.transform.values)
    assert a.cv_r2 == b.cv_r2


def test_duplicates_are_averaged_and_counted():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 2, (64, 5)).astype(np.uint8)
    y = x @ np.arange(1, 6) + 0.0
    xx = np.vstack([x, x[:10]])
    yy = np.concatenate([y, y[:10] + 1.0])
    res = fit(xx, yy, 2, seed=0)
    assert res.duplicates == 10 + (64 - np.unique(x, axis=0).shape[0])
    assert res.num_answers == 74


def test_extra_frequencies_of_high_order_are_kept():
    rng = np.random.default_rng(7)
    q, n = 3, 8
    k = np.array([[1, 2, 1, 1, 2, 0, 0, 0]], np.uint8)
    truth = SparseFourier(np.vstack([k, (-k.astype(int)) % q, np.zeros((1, n))]),
                          [2 + 1j, 2 - 1j, 0.5], q)
    x = rng.integers(0, q, (800, n)).astype(np.uint8)
    y = truth.evaluate(x)
    plain = fit(x, y, q, max_order=2, seed=0)
    helped = fit(x, y, q, frequencies=k, max_order=5, seed=0)
    assert plain.cv_r2 < 0.2 and helped.cv_r2 > 0.999


@pytest.mark.parametrize("kwargs,match", [
    (dict(scores=[np.nan] + [1.0] * 19), r"scores\[0\] = nan"),
    (dict(variants=np.full((20, 3), 3)), r"variants\[0, 0\] = 3 is outside \[0, q=3\)"),
    (dict(max_order=4), "max_order=4 is larger than the number of sites n=3"),
    (dict(folds=1), "folds must be an integer >= 2"),
    (dict(scores=[1.0] * 5), "one value per variant"),
    (dict(variants=np.zeros((20, 3)), ), "too few for 5-fold"),
    (dict(q=1), "q must be an integer >= 2"),
    (dict(seed=-1), "seed must be"),
    (dict(penalty_by_order="flat"), "penalty_by_order must be 'graded', 'uniform'"),
    (dict(penalty_by_order={0: 1.0}), r"orders in \[1, n=3\]"),
    (dict(penalty_by_order={2: -1.0}), "finite weights >= 0"),
    (dict(penalty_by_order=[1.0, 2.0]), "a mapping order -> weight"),
])
def test_bad_input_names_the_argument(kwargs, match):
    rng = np.random.default_rng(0)
    args = dict(variants=rng.integers(0, 3, (20, 3)), scores=rng.standard_normal(20), q=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fit(args.pop("variants"), args.pop("scores"), args.pop("q"), **args)


def test_graded_penalty_shrinks_by_order():
    """Default "graded" penalties: an order-s term costs max(1, s / 2), a frequency given by
    the caller costs 1 whatever its order. At the final penalty a kept coefficient's
    |gradient| is lambda x relax x its weight exactly (the optimality condition); order 3
    here costs 1.5, and 3.0 when set by hand."""
    rng = np.random.default_rng(11)
    q, n = 2, 6
    truth = random_real_transform(q, n, {1: (4, 1.0), 2: (3, 0.6), 3: (4, 0.6)}, 0.0, rng)
    x = all_variants(q, n)
    y = truth.evaluate(x) + 0.3 * rng.standard_normal(x.shape[0])
    cands = candidate_frequencies(q, n, 3)
    phi = dense_features(x, cands, q)
    orders = np.count_nonzero(cands, axis=1)
    given = np.array([0, 1, 1, 1, 0, 0], np.uint8)  # an order-3 frequency given as extra
    for pen, want in (("graded", {1: 1.0, 2: 1.0, 3: 1.5}), ({3: 3.0}, {1: 1.0, 2: 1.0, 3: 3.0}),
                      ("uniform", {1: 1.0, 2: 1.0, 3: 1.0})):
        result = fit(x, y, q, max_order=3, seed=0, adaptive=False, penalty_by_order=pen,
                     frequencies=given[None, :])
        assert {s: result.penalty_by_order[s] for s in (1, 2, 3)} == want
        grad = np.abs(phi.conj().T @ (y - result.predict(x))) / len(y)
        values = dict(zip(map(bytes, result.transform.frequencies), result.transform.values))
        kept = np.array([abs(values.get(bytes(k), 0)) > 0 for k in cands])
        assert kept[orders == 3].sum() >= 2
        weight = np.array([want[o] for o in orders])
        weight[[bytes(k) == bytes(given) for k in cands]] = 1.0
        expected = result.lam * result.relax * weight
        assert result.relax > 0
        assert np.allclose(grad[kept], expected[kept], rtol=1e-3), (grad[kept], expected[kept])
    assert result.summary()["penalty_by_order"]["3"] == 1.0
    assert fit(x, y, q, seed=0).penalty_by_order == {s: max(1.0, s / 2) for s in range(1, 7)}


def test_recover_regress_uses_every_answer_and_keeps_peeled_terms():
    """q=5, n=6, orders 3 and 4 only, b too small for the spectrum: the regression decoder
    finds every planted term and invents nothing above the noise."""
    rng = np.random.default_rng(1)
    q, n = 5, 6
    truth = random_real_transform(q, n, {3: (6, 3.0), 4: (6, 3.0)}, 0.0, rng)

    def oracle(v):
        return truth.evaluate(v) + 0.01 * np.random.default_rng(int(v.sum())).standard_normal(len(v))

    peel = recover(oracle, q, n, 2, num_subsample=3, seed=0, decoder="peel", progress=False)
    auto = recover(oracle, q, n, 2, num_subsample=3, seed=0, progress=False)
    assert auto.decoder == "regress" and auto.num_queries == peel.num_queries
    planted = {bytes(k) for k in truth.frequencies if k.any()}
    big = {bytes(k) for k, v in zip(auto.transform.frequencies, auto.transform.values)
           if abs(v) > 0.05 and k.any()}
    assert big == planted
    assert set(auto.stages) <= {"mean", "regress", "regress+peel"}
    assert auto.fit is not None and auto.fit.cv_r2 > 0.99
    with pytest.raises(ValueError, match="decoder must be one of"):
        recover(oracle, q, n, 2, decoder="lasso")


def test_interactions_summary_says_which_decoder(tmp_path):
    from plmscope.experiment import run_interactions
    from plmscope.fourier import SurrogateOracle
    from plmscope.report.interactions import summary_lines

    rng = np.random.default_rng(4)
    truth = random_real_transform(3, 5, {1: (3, 1.0), 2: (2, 0.5)}, 0.2, rng)
    res = run_interactions(SurrogateOracle(truth, 0.01), 3, 5, 2, num_subsample=2, num_repeat=1,
                           test=50, progress=False, report=False)
    assert res.summary["qsft"]["decoder"] == "regress"
    assert res.summary["fit"]["cv_r2"] > 0.99 and "lambdas" not in res.summary["fit"]
    assert any("regression over every answer" in line for line in summary_lines(res.summary))
    peel = run_interactions(SurrogateOracle(truth, 0.01), 3, 5, 2, num_subsample=2,
                            num_repeat=1, test=50, progress=False, report=False, decoder="peel")
    assert peel.summary["qsft"]["decoder"] == "peel" and peel.summary["fit"] is None


def test_warm_start_reaches_the_path_solution():
    """A path started from other coefficients (a fold's fit, a perturbed one) converges to the
    same Lasso solution; it reports no lambda_max, and a start of the wrong size is refused."""
    rng = np.random.default_rng(11)
    q, n = 3, 4
    x = rng.integers(0, q, (300, n)).astype(np.uint8)
    y = rng.standard_normal(300) + (x[:, 0] == 1) * 2.0 - (x[:, 1] == x[:, 2]) * 1.5
    blocks = path_blocks(q, n, 2)
    specs = [b.spec(q, n, 1.0) for b in blocks]
    none = np.zeros((0, n), np.uint8)
    lmax = _core.fourier_lasso_path(x, y, None, q, specs, np.zeros(0), none)["lambda_max"]
    lams = lmax * np.logspace(0, -2, 8)
    ref = _core.fourier_lasso_path(x, y, None, q, specs, lams, none, tol=1e-11, max_sweeps=5000,
                                   max_inner=500)
    cells = ref["coefficients"].shape[1]
    start = ref["coefficients"][4] + 0.1 * (rng.standard_normal(cells) + 1j * rng.standard_normal(cells))
    warm = _core.fourier_lasso_path(x, y, None, q, specs, lams[-1:], none, tol=1e-11,
                                    max_sweeps=5000, max_inner=500, start=start)
    assert np.isnan(warm["lambda_max"])
    assert np.max(np.abs(warm["coefficients"][0] - ref["coefficients"][-1])) < 1e-7
    with pytest.raises(ValueError, match=f"start must hold one path point's {cells} coefficients"):
        _core.fourier_lasso_path(x, y, None, q, specs, lams[-1:], none, start=start[:-1])


def test_relaxation_is_chosen_on_held_out_folds():
    """A sparse, noiseless landscape from few answers: the Lasso's shrinkage costs R^2, and
    the relaxed refit (chosen by the folds) removes it; on pure noise nothing is relaxed
    past what the folds support."""
    rng = np.random.default_rng(7)
    q, n = 4, 6
    truth = random_real_transform(q, n, {1: (6, 1.0), 2: (3, 0.7)}, 0.0, rng)
    x = rng.integers(0, q, (400, n)).astype(np.uint8)
    result = fit(x, truth.evaluate(x), q, max_order=2, seed=0)
    assert result.relax in regress.RELAX and result.relax < 1
    assert result.cv_r2 > result.lasso_cv_r2
    test = rng.integers(0, q, (2000, n)).astype(np.uint8)
    yt = truth.evaluate(test)
    r2 = 1 - np.sum((yt - result.predict(test)) ** 2) / np.sum((yt - yt.mean()) ** 2)
    assert r2 > 0.9999
    s = result.summary()
    assert s["relax"] == result.relax and s["lasso_cv_r2"] == result.lasso_cv_r2
    # relax = 1 everywhere reproduces the plain Lasso
    plain = regress.RELAX
    try:
        regress.RELAX = (1.0,)
        lasso = fit(x, truth.evaluate(x), q, max_order=2, seed=0)
    finally:
        regress.RELAX = plain
    assert lasso.relax == 1.0 and lasso.cv_r2 == lasso.lasso_cv_r2 == result.lasso_cv_r2


def test_many_variants_hold_out_one_fold(monkeypatch):
    """From HOLDOUT_FROM variants on, only the first fold is held out: the reported R^2 is that
    fold's, computed here independently from the same seeded fold assignment."""
    rng = np.random.default_rng(8)
    q, n, M = 3, 5, 3000
    truth = random_real_transform(q, n, {1: (5, 1.0), 2: (3, 0.5)}, 0.0, rng)
    x = np.unique(rng.integers(0, q, (M, n)).astype(np.uint8), axis=0)
    y = truth.evaluate(x) + 0.3 * rng.standard_normal(x.shape[0])
    monkeypatch.setattr(regress, "RELAX", (1.0,))
    monkeypatch.setattr(regress, "HOLDOUT_FROM", 100)
    one = fit(x, y, q, max_order=2, seed=3, adaptive=False)
    assert one.config["folds_evaluated"] == 1
    monkeypatch.setattr(regress, "HOLDOUT_FROM", 10**9)
    every = fit(x, y, q, max_order=2, seed=3, adaptive=False)
    assert every.config["folds_evaluated"] == every.folds
    assert abs(one.cv_r2 - every.cv_r2) < 0.05
    # fold 0 by the same rule as fit(): a seeded permutation modulo the fold count
    fold_of = np.random.default_rng(3).permutation(x.shape[0]) % one.folds
    test, train = fold_of == 0, fold_of != 0
    specs_blocks = path_blocks(q, n, 2)
    state = dict(q=q, n=n, tol=1e-5, unit_weights=True, weights=one.penalty_by_order)
    chosen = one.lambdas[int(np.nanargmax(one.cv_r2_path))]
    # the final fit's penalty is the folds' one scaled to every answer
    assert one.lam == pytest.approx(chosen * np.sqrt(1 - 1 / one.folds), rel=1e-12)
    res = regress._path(specs_blocks, state, np.ascontiguousarray(x[train]), y[train], None,
                        np.array([chosen]), np.ascontiguousarray(x[test]), 1)
    yt = y[test]
    r2 = 1 - np.sum((yt - res["predictions"][0]) ** 2) / np.sum((yt - yt.mean()) ** 2)
    assert abs(r2 - one.cv_r2) < 1e-3


def test_an_underestimated_curvature_does_not_diverge():
    """24 answers for 72 candidates: a fold's block curvature from power iteration fell short
    and FISTA diverged (predictions ~1e288). Solves that end above where they began are redone
    with a smaller step, so every path point stays finite and the fit is usable."""
    import warnings

    from plmscope.fourier import SurrogateOracle
    from plmscope.fourier.rounds import _Seen, _fresh_random

    truth = random_real_transform(3, 6, {1: (4, 1.0), 2: (3, 1.0)}, 0.5,
                                  np.random.default_rng(2))
    x = _fresh_random(3, 6, 30, 0, 1, _Seen(3, 6))
    y = SurrogateOracle(truth, 0.01, seed=0)(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in the folds' errors fails the test
        result = fit(x, y, 3, seed=0)
    assert np.all(np.isfinite(result.cv_r2_path[np.isfinite(result.cv_r2_path)]))
    assert np.all(np.isfinite(result.transform.values))
    assert np.abs(result.predict(x)).max() < 100


def test_adaptive_weights_follow_block_norms():
    """Block weight = order weight x median norm / block norm; empty blocks stay out (inf),
    unpenalised blocks (intercept, graded order 1) stay at 0."""
    q, n = 3, 3
    blocks = [regress._Block(()), regress._Block((0,)), regress._Block((0, 1)),
              regress._Block((1, 2)), regress._Block((0, 2))]
    state = {"q": q, "n": n, "weights": {1: 0.0, 2: 1.0, 3: 1.5}}
    coef = np.zeros(sum(b.cells(q) for b in blocks))
    coef[0] = 5.0                     # intercept
    coef[1 + 1] = 3.0                 # order-1 block, unpenalised
    coef[4 + 4] = 2.0                 # block (0, 1): norm 2
    coef[13 + 4], coef[13 + 8] = 0.6, 0.8  # block (1, 2): norm 1
    w = regress._adaptive_weights(blocks, coef, state)
    assert w[0] == 0.0 and w[1] == 0.0 and np.isinf(w[4])
    assert np.allclose(w[2:4], [1.5 / 2, 1.5 / 1])


def test_adaptive_refit_is_chosen_on_held_out_folds(monkeypatch):
    """Interactions crowded on one site pair (q = 5: 16 coefficients there) among 15 pairs of
    noise: the folds choose the adaptive refit, which keeps fewer false site pairs than the
    Lasso and predicts unseen variants better; adaptive=False is the Lasso."""
    rng = np.random.default_rng(4)
    q, n = 5, 6
    pair = np.zeros((16, n), np.uint8)
    pair[:, [0, 3]] = np.array(list(itertools.product(range(1, q), repeat=2)))
    vals = rng.normal(0, 0.4, 16) + 1j * rng.normal(0, 0.4, 16)
    main = np.eye(n, dtype=np.uint8)
    freqs = np.vstack([np.zeros((1, n), np.uint8), main, (-main.astype(int)) % q, pair,
                       (-pair.astype(int)) % q]).astype(np.uint8)
    mains = rng.normal(0, 1, n) + 1j * rng.normal(0, 1, n)
    truth = SparseFourier(freqs, np.concatenate([[1.0], mains, mains.conj(), vals, vals.conj()]), q)
    x = rng.integers(0, q, (1500, n)).astype(np.uint8)
    y = truth.evaluate(x) + 1.0 * rng.standard_normal(x.shape[0])
    adapted = fit(x, y, q, max_order=2, seed=0)
    plain = fit(x, y, q, max_order=2, seed=0, adaptive=False)
    assert adapted.adaptive and not plain.adaptive
    assert adapted.cv_r2 > plain.cv_r2 and adapted.lasso_cv_r2 == plain.lasso_cv_r2

    def pairs(result):
        t = result.transform
        return {tuple(np.flatnonzero(k)) for k in t.frequencies[t.orders() == 2]}

    assert (0, 3) in pairs(adapted) and len(pairs(adapted)) < len(pairs(plain))
    test = rng.integers(0, q, (4000, n)).astype(np.uint8)
    yt = truth.evaluate(test)

    def r2(result):
        return 1 - np.sum((yt - result.predict(test)) ** 2) / np.sum((yt - yt.mean()) ** 2)

    assert r2(adapted) > r2(plain)
    with pytest.raises(ValueError, match="adaptive must be True or False"):
        fit(x, y, q, adaptive="yes")
