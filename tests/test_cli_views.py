"""`plmscope interactions --view fourier|reference|weighted`: the effects tables of a run's
transform against a background, added to a finished run without recomputing it."""
import json

import numpy as np
import pandas as pd
import pytest

from plmscope.cli import main
from plmscope.fourier import SparseFourier, SurrogateOracle, random_real_transform
from plmscope.landscape import Landscape
from plmscope.landscape.background import background_effects, residue_weights
from plmscope.models import Oracle, load, save_random_model
from report_check import check_report

GB1 = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"
SITES = "3,4,5,6,7,8"
SUBS = "ACD,WEF,GHI,KLM,NPQ,RST"
BASE = ("--b", 2, "--subsamples", 3, "--repeats", 1, "--test", 100, "--batch-size", 100,
        "--no-progress")


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def inputs(tmp_path):
    sf = random_real_transform(4, 6, {1: (3, 1.0), 2: (2, 1.0)}, 0.5, np.random.default_rng(2))
    sf.save(tmp_path / "planted.npz")
    (tmp_path / "gb1.fasta").write_text(f">gb1\n{GB1}\n")
    # an alignment whose first sequence is the wild type (with a gap column before residue 5)
    rows = [GB1[:4] + "-" + GB1[4:], "MQAW" + "-" + "GKNR" + GB1[8:], "MQCW" + "A" + "GLPR" + GB1[8:],
            "MQYE" + "-" + "HMQS" + GB1[8:]]
    (tmp_path / "msa.fasta").write_text("".join(f">s{i}\n{r}\n" for i, r in enumerate(rows)))
    return tmp_path


def run_args(d, *extra):
    return ("interactions", "--oracle", f"surrogate:{d / 'planted.npz'}", "--fasta",
            d / "gb1.fasta", "--sites", SITES, "--q", 4, "--substitutions", SUBS, *BASE, *extra)


def test_weighted_view_from_an_alignment_then_other_views_without_recompute(
        inputs, capsys, monkeypatch):
    d, out = inputs, inputs / "run"
    rc, text, err = cli(capsys, *run_args(d, "--view", "weighted", "--weights",
                                          f"alignment:{d / 'msa.fasta'}", "--out", out))
    assert rc == 0, err
    assert "view:          weighted (alignment msa.fasta, pseudocount 1)" in text
    transform = SparseFourier.load(out / "transform.npz")
    L = Landscape(GB1, [3, 4, 5, 6, 7, 8], 4, SUBS.split(","))
    columns = [[r[s - 1] for r in ("MQYKLILN", "MQAWGKNR", "MQCWGLPR", "MQYEHMQS")]
               for s in range(3, 9)]
    counts = [{c: col.count(c) for c in set(col)} for col in columns]
    weights = residue_weights(counts, L.residues, pseudocount=1.0)
    stored = pd.read_csv(out / "weights_weighted.csv")
    np.testing.assert_allclose(stored["weight"].to_numpy().reshape(6, 4), weights, atol=1e-15)
    want = background_effects(transform, weights, 2)
    got = pd.read_csv(out / "effects_weighted.csv", dtype={"sites": str, "states": str})
    assert len(got) == len(want)
    want_map = {(",".join(str(s + 3) for s in t), ",".join(map(str, a))): e
                for t, a, e in zip(want["sites"], want["states"], want["effect"])}
    for sites, states, e in zip(got["sites"], got["states"], got["effect"]):
        assert e == pytest.approx(want_map[(sites, states)], abs=1e-12)
    assert got["variant"].iloc[0].count(":") == got["order"].iloc[0] - 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["view"]["name"] == "weighted" and "effects_weighted.csv" in summary["files"]
    check_report(out / "report.html", {"energy_by_order.png", "pairwise_heatmap.png",
                                       "top_interactions.png", "test_fit.png",
                                       "effects_weighted.png"})

    def refuse(self, x):
        raise AssertionError("the oracle was asked again")

    monkeypatch.setattr(SurrogateOracle, "__call__", refuse)
    # the reference view of the finished run: the mutation effects of mutations.csv
    rc, text, err = cli(capsys, *run_args(d, "--view", "reference", "--out", out))
    assert rc == 0, err
    assert "nothing recomputed" in text and "view:          reference" in text
    ref = pd.read_csv(out / "effects_reference.csv", dtype={"sites": str, "states": str})
    mutations = pd.read_csv(out / "mutations.csv")
    mutated = ref[~ref["states"].str.split(",").apply(lambda s: "0" in s)]
    assert sorted(mutated["variant"]) == sorted(mutations["mutations"])
    by_label = dict(zip(mutations["mutations"], mutations["effect"]))
    for label, e in zip(mutated["variant"], mutated["effect"]):
        assert e == pytest.approx(by_label[label], abs=1e-12)
    assert np.abs(ref.loc[~ref.index.isin(mutated.index), "effect"]).max() < 1e-12
    # the Fourier view: variance by order is the transform's energy by order
    rc, text, err = cli(capsys, *run_args(d, "--view", "fourier", "--out", out))
    assert rc == 0, err
    fourier = pd.read_csv(out / "effects_fourier.csv")
    var = np.bincount(fourier["order"], weights=fourier["weight"] * fourier["effect"] ** 2)
    np.testing.assert_allclose(var[1:3], transform.energy_by_order()[1:3], rtol=1e-10)
    assert json.loads((out / "summary.json").read_text())["view"]["name"] == "fourier"
    check_report(out / "report.html", {"energy_by_order.png", "pairwise_heatmap.png",
                                       "top_interactions.png", "test_fit.png",
                                       "effects_fourier.png"})


@pytest.mark.parametrize("extra,match", [
    (("--weights", "uniform"), "add --view weighted"),
    (("--view", "weighted"), "--view weighted needs --weights"),
    (("--view", "weighted", "--weights", "model"), "--weights model needs the model"),
    (("--view", "weighted", "--weights", "rainbow"), "choose uniform, wildtype, model"),
])
def test_view_errors(inputs, capsys, extra, match):
    rc, _, err = cli(capsys, *run_args(inputs, *extra, "--out", inputs / "r"))
    assert rc == 2 and match in err


def test_model_wildtype_marginals(tmp_path, capsys):
    ckpt = save_random_model("esm", tmp_path / "esm2_tiny.pt", backend="fair-esm", seed=5)
    model = load(ckpt, device="cpu")
    (tmp_path / "gb1.fasta").write_text(f">gb1\n{GB1}\n")
    rc, text, err = cli(capsys, "interactions", "--fasta", tmp_path / "gb1.fasta", "--sites",
                        "3,10,24", "--model", ckpt, "--device", "cpu", "--q", 4,
                        "--substitutions", "ACD,EFG,HIK", "--b", 1, "--subsamples", 2,
                        "--repeats", 1, "--test", 10, "--view", "weighted", "--weights",
                        "model", "--no-progress", "--out", tmp_path / "run")
    assert rc == 0, err
    assert "view:          weighted (wild-type marginals of esm2_tiny.pt)" in text
    L = Landscape(GB1, [3, 10, 24], 4, ["ACD", "EFG", "HIK"])
    w = Oracle(model, L, "wt_marginal").wildtype_marginals()
    assert w.shape == (3, 4)
    stored = pd.read_csv(tmp_path / "run" / "weights_weighted.csv")
    np.testing.assert_allclose(stored["weight"].to_numpy().reshape(3, 4), w, rtol=1e-12)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    # p(state v) / p(wild type) at a site is exp of the single mutant's wt_marginal score
    singles = np.zeros((9, 3), np.uint8)
    for i in range(3):
        singles[3 * i:3 * i + 3, i] = [1, 2, 3]
    scores = Oracle(model, L, "wt_marginal")(singles).reshape(3, 3)
    np.testing.assert_allclose(w[:, 1:] / w[:, :1], np.exp(scores), rtol=1e-10)
