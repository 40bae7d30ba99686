"""The q-SFT run as stages: one Design shared by every step, each coefficient labelled with
the decoding stage that produced it, and no stage that invents coefficients."""
import numpy as np
import pytest

from plmscope.fourier import SparseFourier, SurrogateOracle, qsft, random_real_transform
from plmscope.fourier.qsft import design as qdesign
from plmscope.fourier.qsft.recover import design_bins
from plmscope.fourier.qsft.refine import (bin_ids, conjugate_closure, delay_phases, refit,
                                          symmetrize)


def _overloaded(classes=30, noise=0.01):
    """q = 5, n = 6, only order-3 and -4 terms: 2 x `classes` coefficients for 3 groups of
    25 bins, far more than b = 2 can hold."""
    q, n = 5, 6
    truth = random_real_transform(q, n, {3: (classes // 2, 3.0), 4: (classes - classes // 2, 3.0)},
                                  0.0, np.random.default_rng(1))

    def oracle(v):
        rng = np.random.default_rng(int(v.sum()))
        return truth.evaluate(v) + noise * rng.standard_normal(len(v))

    return truth, oracle, q, n


@pytest.mark.parametrize("classes", [12, 30])
@pytest.mark.parametrize("noise_sd", ["auto", 0.01])
def test_b_too_small_invents_no_coefficient(classes, noise_sd):
    truth, oracle, q, n = _overloaded(classes)
    planted = {k.tobytes() for k in truth.frequencies}

    def invented(t, floor):
        return [abs(v) for k, v in zip(t.frequencies, t.values)
                if k.any() and k.tobytes() not in planted and abs(v) > floor]

    peel = qsft.recover(oracle, q, n, 2, num_subsample=3, seed=0, noise_sd=noise_sd,
                        decoder="peel", progress=False)
    # the peeling stages' own noise level: a few query noise sds
    assert invented(peel.transform, 5 * 0.01) == []
    assert set(peel.stages) <= {"mean", "peel", "refit"}
    auto = qsft.recover(oracle, q, n, 2, num_subsample=3, seed=0, noise_sd=noise_sd,
                        progress=False)
    assert auto.decoder == "regress"
    assert invented(auto.transform, auto.fit.noise_floor) == []
    if classes == 12:  # a design large enough for the spectrum: both find all of it
        for res in (peel, auto):
            found = {k.tobytes() for k, v in zip(res.transform.frequencies, res.transform.values)
                     if k.any() and abs(v) > 0.05}
            assert found == {k for k in planted if any(k)}


def test_stages_name_every_coefficient_and_the_mean():
    truth, oracle, q, n = _overloaded(12)
    for decoder, allowed in (("peel", {"peel", "refit"}), ("regress", {"regress", "regress+peel"})):
        res = qsft.recover(oracle, q, n, 2, num_subsample=3, seed=0, decoder=decoder,
                           progress=False)
        zero = ~res.transform.frequencies.any(axis=1)
        assert len(res.stages) == len(res.transform)
        assert list(res.stages[zero]) == ["mean"]
        assert set(res.stages[~zero]) <= allowed and len(set(res.stages[~zero])) >= 1


def test_refit_stage_labels_terms_found_after_the_refit():
    # noisy peeling of a crowded design leaves terms that only the refit's residual shows
    truth = random_real_transform(3, 8, {1: (6, 2.0), 2: (10, 1.0), 3: (6, 0.5)}, 0.0,
                                  np.random.default_rng(3))
    kwargs = dict(num_subsample=2, seed=3, decoder="peel", progress=False)
    res = qsft.recover(SurrogateOracle(truth, 0.05), 3, 8, 3, **kwargs)
    assert {"mean", "peel", "refit"} == set(res.stages)
    plain = qsft.recover(SurrogateOracle(truth, 0.05), 3, 8, 3, refine=False, **kwargs)
    assert {"mean", "peel"} == set(plain.stages)
    first = res.transform.frequencies[res.stages != "refit"]
    assert {k.tobytes() for k in first} <= {k.tobytes() for k in plain.transform.frequencies}


def test_conjugate_closure_does_not_double_the_mirror():
    # k was peeled, its mirror -k was not: -k's energy is still in the residual bins, so the
    # closure must add it at 0 for the refit to find conj F[k] once (not 2x, then 1.5x)
    q, n = 5, 4
    k = np.array([1, 2, 0, 3], np.uint8)
    mk = ((q - k.astype(int)) % q).astype(np.uint8)
    fk = 2.0 - 1.0j
    truth = SparseFourier(np.stack([k, mk]), [fk, np.conj(fk)], q)
    d = qdesign.make_design(qsft.plan(q, n, 2, 2, "nso", 1), seed=1)
    bins, _ = design_bins(d, truth.evaluate(d.variants))
    ids = bin_ids(k[None, :], d.matrices, q)[0]
    assert np.all(ids % q**2)  # k, -k away from bin 0, where the subtracted mean lands
    # peel k alone, as the decoder does: its value times its delay phases, out of its bins
    bins.reshape(-1, bins.shape[2])[ids] -= fk * delay_phases(k[None, :], d.delays, q)[0]
    freqs, values, mirrored = conjugate_closure(k[None, :], np.array([fk]), q)
    assert mirrored == [0] and values[1] == 0
    np.testing.assert_array_equal(freqs[1], mk)
    values = values + refit(bins, freqs, d.matrices, d.delays, q)
    values = symmetrize(freqs, values, q)
    np.testing.assert_allclose(values, [fk, np.conj(fk)], atol=1e-9)


def test_design_is_built_once_and_shared(tmp_path):
    truth, oracle, q, n = _overloaded(12)
    asked = []

    def recording(v):
        asked.append(np.array(v))
        return oracle(v)

    d = qsft.make_design(qsft.plan(q, n, 2, 3), seed=0)
    res = qsft.recover(recording, design=d, decoder="peel", progress=False)
    np.testing.assert_array_equal(np.vstack(asked), d.variants)
    assert res.design is d and res.num_queries == d.num_queries
    again = qsft.recover(oracle, q, n, 2, num_subsample=3, seed=0, decoder="peel", progress=False)
    assert again.design.digest == d.digest
    np.testing.assert_array_equal(again.transform.values, res.transform.values)
    with pytest.raises(ValueError, match=r"num_subsample=2 but the design given was built with "
                                         r"num_subsample=3"):
        qsft.recover(oracle, q, n, 2, num_subsample=2, design=d)
    with pytest.raises(ValueError, match=r"recover needs q, n, b \(or a design=\)"):
        qsft.recover(oracle)
    d.save(tmp_path / "design.npz")
    back = qsft.load_design(tmp_path / "design.npz")
    assert back.digest == d.digest and back.arguments() == d.arguments()
    np.testing.assert_array_equal(back.inverse, d.inverse)
    np.savez(tmp_path / "bad.npz", matrices=d.matrices)
    with pytest.raises(ValueError, match="bad.npz is not a q-SFT design file"):
        qsft.load_design(tmp_path / "bad.npz")
