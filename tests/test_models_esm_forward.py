"""The leaner ESM2 forward pass (plmscope.models.esm_forward) against fair-esm's and
transformers' own forward:
equal in float32 (padding, mask tokens, every length), within a stated tolerance with
bfloat16 matrix products, and used exactly where it applies."""
import copy

import numpy as np
import pytest
import torch
from plmscope.landscape import Landscape
from plmscope.models import (
    Oracle,
    fair_esm_to_transformers,
    from_fair_esm,
    load,
    random_fair_esm,
    save_random_model,
)
from plmscope.models.esm_forward import ESM2Forward, supports
from plmscope.models.random_weights import random_transformers

GB1 = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"
SITES = [3, 10, 24, 41]
SCORERS = ["pllr", "masked_marginal", "wt_marginal"]


@pytest.fixture(scope="module")
def tiny():
    return random_fair_esm(2, 32, 4, seed=3, jitter=0.1)


def awkward_batch(alphabet):
    """Rows of three lengths (right padding), mask tokens at a few sites, one row all masks."""
    convert = alphabet.get_batch_converter()
    seqs = [GB1, GB1[:23], GB1[5:6], GB1[:40]]
    toks = convert([("", s) for s in seqs])[2]
    toks[0, [3, 10, 24]] = alphabet.mask_idx
    toks[3, 1:41] = alphabet.mask_idx
    return toks


@pytest.mark.parametrize("heads", [1, 4])
@pytest.mark.parametrize("linear", ["default", "F.linear"])
def test_float32_logits_equal_fair_esm(heads, linear):
    """Both matrix-product paths (oneDNN with fused GELU where available, F.linear)."""
    module, alphabet = random_fair_esm(2, 32, heads, seed=heads, jitter=0.1)
    fast = ESM2Forward(module)
    if linear == "F.linear":
        fast.onednn = None
    with torch.inference_mode():
        for toks in (awkward_batch(alphabet), awkward_batch(alphabet)[:1, :9]):
            want = module(toks)["logits"]
            got = fast.logits(toks)
            assert got.dtype == torch.float32 and got.shape == want.shape
            scale = float(want.abs().max())
            real = toks != alphabet.padding_idx  # padded rows' logits are unused by both
            torch.testing.assert_close(got[real], want[real], rtol=0, atol=1e-5 * scale)


def test_transformers_esm_logits_equal_its_forward():
    """transformers' EsmForMaskedLM (the same weights converted) through the lean pass equals
    its own forward, padding and masks included."""
    module, alphabet = random_fair_esm(2, 32, 4, seed=7, jitter=0.1)
    hf, _ = fair_esm_to_transformers(module)
    fast = ESM2Forward(hf.eval())
    toks = awkward_batch(alphabet)
    real = toks != alphabet.padding_idx
    with torch.inference_mode():
        want = hf(input_ids=toks, attention_mask=real.long()).logits
        got = fast.logits(toks)
    scale = float(want.abs().max())
    torch.testing.assert_close(got[real], want[real], rtol=0, atol=1e-5 * scale)


def test_refuses_what_it_does_not_reproduce(tiny):
    """It computes in float32 or bfloat16, for ESM2 modules only."""
    module, _ = tiny
    with pytest.raises(ValueError, match="compute_dtype"):
        ESM2Forward(module, torch.float16)
    bert, _ = random_transformers("bert", seed=3)
    assert not supports(bert)
    with pytest.raises(ValueError, match="ESM2 with rotary attention"):
        ESM2Forward(bert)


def test_bfloat16_logits_within_stated_tolerance(tiny):
    """bf16 matrix products: logits within 3% of the logit scale of float32's (bf16 keeps 8
    significant bits, and two layers of products add a few roundings each)."""
    module, alphabet = tiny
    toks = awkward_batch(alphabet)
    with torch.inference_mode():
        want = module(toks)["logits"]
        got = ESM2Forward(module, torch.bfloat16).logits(toks)
    real = toks != alphabet.padding_idx
    scale = float(want.abs().max())
    err = float((got[real] - want[real]).abs().max())
    assert got.dtype == torch.float32
    assert err <= 0.03 * scale
    assert err > 1e-6 * scale  # the products really ran in bfloat16


@pytest.mark.parametrize("scorer", SCORERS)
def test_scores_equal_the_module_forward(tiny, scorer):
    """Oracle scores through the lean pass equal those through fair-esm's forward (the path
    before it) to float32 rounding: no further from the float64 scores than fair-esm's own
    float32 forward is (twice its error at most; a pllr sums 56 log-probabilities, so
    rounding reaches ~1e-5 on scores of ~20)."""
    module, alphabet = tiny
    lean = from_fair_esm(module, alphabet, name="tiny")
    plain = from_fair_esm(module, alphabet, name="tiny")
    plain._fast = False  # fair-esm's own forward
    exact = from_fair_esm(copy.deepcopy(module), alphabet, name="tiny", dtype="float64")
    assert isinstance(lean._fast_forward(), ESM2Forward) and plain._fast_forward() is None
    assert exact._fast_forward() is None
    L = Landscape(GB1, SITES)
    x = np.random.default_rng(0).integers(0, 20, size=(40, L.n)).astype(np.uint8)
    got, want = Oracle(lean, L, scorer, batch_size=7)(x), Oracle(plain, L, scorer)(x)
    truth = Oracle(exact, L, scorer)(x)
    assert np.std(want) > 0.1
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    assert np.abs(got - truth).max() <= 2 * np.abs(want - truth).max() + 1e-9


@pytest.mark.parametrize("scorer", SCORERS)
def test_bf16_autocast_scores_within_stated_tolerance(tmp_path, scorer):
    """dtype='bf16-autocast' is opt-in: its scores differ from float32's by at most 5% of the
    scores' spread and correlate at r >= 0.999; its precision is its own cache key."""
    ckpt = save_random_model("esm", tmp_path / "esm2_tiny.pt", backend="fair-esm", seed=5)
    f32, bf16 = load(ckpt), load(ckpt, dtype="bf16-autocast")
    assert f32.precision == "float32"
    assert bf16.precision == "float32+autocast-bfloat16"
    assert bf16._fast_forward().dtype == torch.bfloat16
    L = Landscape(GB1, SITES)
    x = np.random.default_rng(1).integers(0, 20, size=(64, L.n)).astype(np.uint8)
    want, got = Oracle(f32, L, scorer)(x), Oracle(bf16, L, scorer)(x)
    assert np.abs(got - want).max() <= 0.05 * np.std(want)
    assert np.corrcoef(got, want)[0, 1] >= 0.999
    assert not np.array_equal(got, want)
    assert bf16._fast_forward().dtype == torch.bfloat16
    spec = Oracle(bf16, L, scorer).spec
    assert spec.dtype == "bf16-autocast" and spec.load_model().precision == bf16.precision


def test_lean_pass_only_where_it_applies(tmp_path):
    """float32 ESM2 on the CPU (either backend) uses it; float64 and bfloat16 weights and
    other families keep their own forward (the float64 tests elsewhere hold those to 1e-9)."""
    ckpt = save_random_model("esm", tmp_path / "esm2_tiny.pt", backend="fair-esm", seed=6)
    assert load(ckpt)._fast_forward() is not None
    assert load(ckpt, backend="transformers")._fast_forward() is not None
    assert load(ckpt, dtype="float64")._fast_forward() is None
    assert load(ckpt, dtype="bfloat16")._fast_forward() is None
    bert = save_random_model("bert", tmp_path / "bert", seed=6)
    assert load(bert)._fast_forward() is None


def test_unknown_dtype_names_the_choices():
    with pytest.raises(ValueError, match="bf16-autocast"):
        from plmscope.models.model import resolve_dtype

        resolve_dtype("bf17", torch.device("cpu"))


def test_cli_score_takes_bf16_autocast(tmp_path, capsys):
    """`plmscope score --dtype bf16-autocast` scores with the opt-in precision: the same
    numbers as the Oracle of a model loaded that way."""
    import pandas as pd
    from plmscope.cli import main

    ckpt = save_random_model("esm", tmp_path / "esm2_tiny.pt", backend="fair-esm", seed=8)
    mutants = ["Y3A", "K4W:L5P", "T11S", "Y3G:K4C:T11C"]
    seqs = []
    for mutant in mutants:
        chars = list(GB1)
        for m in mutant.split(":"):
            chars[int(m[1:-1]) - 1] = m[-1]
        seqs.append("".join(chars))
    pd.DataFrame({"mutant": mutants, "mutated_sequence": seqs,
                  "DMS_score": [0.1, -0.4, 0.3, 1.2]}).to_csv(tmp_path / "dms.csv", index=False)
    rc = main(["score", "--table", str(tmp_path / "dms.csv"), "--model", str(ckpt), "--scorer",
               "pllr", "--device", "cpu", "--dtype", "bf16-autocast", "--out",
               str(tmp_path / "run"), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    got = pd.read_csv(tmp_path / "run" / "scored.csv")["model_score"].to_numpy()
    model = load(ckpt, dtype="bf16-autocast")
    for mutant, score in zip(mutants, got):
        muts = mutant.split(":")
        L = Landscape(GB1, [int(m[1:-1]) for m in muts])
        x = np.array([[L.residues[i].index(m[-1]) for i, m in enumerate(muts)]], np.uint8)
        np.testing.assert_allclose(score, Oracle(model, L, "pllr")(x)[0], rtol=1e-6, atol=1e-6)
