"""Extreme inputs: errors name the argument at fault, and results do not silently change
with the scale of the scores."""
import numpy as np
import pytest

from plmscope.cli import main
from plmscope.fourier import SparseFourier, SurrogateOracle, random_real_transform
from plmscope.fourier.qsft import recover
from plmscope.isotropy import isoscore
from plmscope.landscape import spectrum_metrics


@pytest.mark.parametrize("command", [
    ("interactions", "--oracle", "surrogate:x.npz", "--out", "o"),
    ("landscape", "--scores", "x.npz"),
    ("demo",),
    ("plan", "--n", "10"),
    ("align-corr", "--fasta", "f", "--model", "m", "--fraction", "1"),
])
def test_negative_seed_names_the_option(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([*command, "--seed", "-1"])
    assert info.value.code == 2
    assert "argument --seed: must be an integer >= 0, got -1" in capsys.readouterr().err


def test_negative_seed_in_the_library():
    sf = SparseFourier(np.array([[0, 0], [1, 0]]), np.array([1.0, 0.5]), 2)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got seed=-1"):
        recover(SurrogateOracle(sf, 0.0, 0), 2, 2, 1, num_subsample=2, seed=-1)


def test_nan_held_out_scores_name_the_file(tmp_path, capsys):
    sf = random_real_transform(4, 6, {1: (3, 1.0)}, 0.5, np.random.default_rng(0))
    x = np.random.default_rng(1).integers(0, 4, size=(20, 6)).astype(np.uint8)
    y = sf.evaluate(x)
    y[3] = np.nan
    np.savez(tmp_path / "s.npz", frequencies=sf.frequencies, values=sf.values, q=np.array(4),
             test_x=x, test_y=y)
    rc = main(["interactions", "--oracle", f"surrogate:{tmp_path / 's.npz'}",
               "--surrogate-noise", "residual", "--out", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "test_y[3] = nan" in err and "s.npz" in err and "noise_sd" not in err


@pytest.mark.parametrize("scale", [1e155, 1e200, 1e250])
def test_recover_refuses_scores_whose_energy_overflows(scale):
    sf = random_real_transform(3, 5, {1: (2, 1.0), 2: (1, 1.0)}, 0.5, np.random.default_rng(2))
    big = SparseFourier(sf.frequencies, sf.values * scale, 3)
    with pytest.raises(ValueError, match="too large in magnitude.*rescale"):
        recover(SurrogateOracle(big, 0.0, 0), 3, 5, 2, num_subsample=3, noise_sd=0.0)


def test_recover_is_exact_at_large_but_representable_scales():
    sf = random_real_transform(3, 5, {1: (2, 1.0), 2: (1, 1.0)}, 0.5, np.random.default_rng(2))
    for scale in (1e-100, 1.0, 1e100):
        big = SparseFourier(sf.frequencies, sf.values * scale, 3)
        got = recover(SurrogateOracle(big, 0.0, 0), 3, 5, 2, num_subsample=3,
                      noise_sd=0.0, decoder="peel").transform  # peeling's exactness
        want = {k.tobytes(): v for k, v in zip(big.frequencies, big.values)}
        found = {k.tobytes(): v for k, v in zip(got.frequencies, got.values)
                 if abs(v) > 1e-9 * scale}
        assert set(found) == set(want), scale
        for k, v in found.items():
            assert abs(v - want[k]) <= 1e-9 * scale


def test_spectrum_metrics_are_scale_invariant():
    rng = np.random.default_rng(5)
    scores = rng.standard_normal(2**10) + 3.0
    base = spectrum_metrics(scores, 2)
    assert 0 < base.sparsity < 1 and 1 < base.ruggedness < 5
    for scale in (1e200, 1e300, 1e-300, 2.0**-1000, 7.0):
        m = spectrum_metrics(scores * scale, 2)
        assert m.sparsity == pytest.approx(base.sparsity, abs=1e-12), scale
        assert m.ruggedness == pytest.approx(base.ruggedness, rel=1e-12), scale
        assert m.num_above == base.num_above
        assert m.threshold == pytest.approx(base.threshold * scale, rel=1e-9)
    # a power of two scales exactly: bit-identical metrics
    m = spectrum_metrics(scores * 2.0**40, 2)
    assert (m.sparsity, m.ruggedness, m.num_above) == (base.sparsity, base.ruggedness,
                                                       base.num_above)
    assert m.threshold == base.threshold * 2.0**40


def test_tiny_float32_embeddings_are_not_called_identical():
    x = (np.random.default_rng(0).standard_normal((200, 16)) * 1e-25).astype(np.float32)
    with pytest.raises(ValueError, match="underflow.*float64"):
        isoscore(x)
    assert isoscore(x.astype(np.float64)).score == pytest.approx(
        isoscore(x.astype(np.float64) * 1e25).score, rel=1e-9)
