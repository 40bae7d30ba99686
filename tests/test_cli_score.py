"""`plmscope score`: a tiny random ESM2 scores a variant table; every score equals the same
variant scored alone through the Oracle, the correlations equal scipy's, reruns are free."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from plmscope.cli import main
from plmscope.landscape import Landscape
from plmscope.models import Oracle, load, save_random_model
from report_check import check_report

GB1 = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"
MUTANTS = ["Y3A", "K4W", "L5P", "Y3A:K4W", "Y3G:L5P:T11S", "T11S", "", "K4W:T11C", "Y3A",
           "L5I", "K4C:L5I", "T11C"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return save_random_model("esm", tmp_path_factory.mktemp("ckpt") / "esm2_tiny.pt",
                             backend="fair-esm", seed=7)


def mutate(mutant):
    chars = list(GB1)
    for m in filter(None, mutant.split(":")):
        chars[int(m[1:-1]) - 1] = m[-1]
    return "".join(chars)


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"mutant": MUTANTS, "mutated_sequence": [mutate(m) for m in MUTANTS],
                          "DMS_score": rng.normal(size=len(MUTANTS))})
    path = tmp_path / "dms.csv"
    frame.to_csv(path, index=False)
    return path, frame


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("scorer", ["pllr", "masked_marginal", "wt_marginal"])
def test_scores_equal_one_at_a_time_oracle(tmp_path, capsys, ckpt, table, scorer):
    path, frame = table
    out = tmp_path / "run"
    args = ("score", "--table", path, "--model", ckpt, "--scorer", scorer, "--device", "cpu",
            "--batch-size", 4, "--out", out, "--no-progress")
    rc, text, err = cli(capsys, *args)
    assert rc == 0, err
    assert "1 repeated rows averaged" in text and "Spearman" in text
    scored = pd.read_csv(out / "scored.csv", keep_default_na=False)
    assert list(scored["mutant"]) == MUTANTS and "model_score" in scored
    model = load(ckpt, device="cpu")
    for mutant, got in zip(scored["mutant"], scored["model_score"]):
        muts = [m for m in mutant.split(":") if m]
        if not muts:
            assert got == 0.0  # the wild type scores 0 with every scorer
            continue
        # a landscape of this variant's sites only: nothing shared with the table's run
        L = Landscape(GB1, [int(m[1:-1]) for m in muts])
        x = np.array([[L.residues[i].index(m[-1]) for i, m in enumerate(muts)]], np.uint8)
        np.testing.assert_allclose(got, Oracle(model, L, scorer)(x)[0], rtol=1e-6, atol=1e-6)
    assert scored["num_mutations"].tolist() == [len([m for m in s.split(":") if m])
                                                for s in MUTANTS]
    summary = json.loads((out / "summary.json").read_text())
    # correlations over distinct variants (the two Y3A rows averaged), as scipy computes them
    uniq = scored.groupby("mutant", sort=False).agg(y=("DMS_score", "mean"),
                                                    s=("model_score", "first"),
                                                    k=("num_mutations", "first"))
    assert summary["variants"] == len(uniq) == len(MUTANTS) - 1
    assert summary["spearman"] == pytest.approx(stats.spearmanr(uniq["y"], uniq["s"])[0],
                                                abs=1e-12)
    assert summary["pearson"] == pytest.approx(stats.pearsonr(uniq["y"], uniq["s"])[0],
                                               abs=1e-12)
    corr = pd.read_csv(out / "correlations.csv")
    singles = uniq[uniq["k"] == 1]
    row = corr[corr["mutations"] == "1"].iloc[0]
    assert row["variants"] == len(singles)
    assert row["spearman"] == pytest.approx(stats.spearmanr(singles["y"], singles["s"])[0],
                                            abs=1e-12)
    assert np.isnan(corr[corr["mutations"] == "3"].iloc[0]["spearman"])  # one variant
    check_report(out / "report.html", {"scatter.png"})

    # a rerun reads the finished folder; a changed table is refused
    rc, text, err = cli(capsys, *args)
    assert rc == 0 and "nothing recomputed" in text
    frame.loc[0, "DMS_score"] = 9.0
    frame.to_csv(path, index=False)
    rc, text, err = cli(capsys, *args)
    assert rc == 2 and "another configuration" in err and "table.digest" in err


def test_interrupted_score_resumes_from_cache(tmp_path, capsys, ckpt, table, monkeypatch):
    path, _ = table
    out = tmp_path / "run"
    args = ("score", "--table", path, "--model", ckpt, "--scorer", "pllr", "--device", "cpu",
            "--batch-size", 4, "--out", out, "--no-progress")
    real = Oracle.__call__
    calls = []

    def stop_after_two(self, x):
        calls.append(len(x))
        if len(calls) > 2:
            raise KeyboardInterrupt
        return real(self, x)

    monkeypatch.setattr(Oracle, "__call__", stop_after_two)
    rc, _, err = cli(capsys, *args)
    assert rc == 130 and "run the same command again to resume" in err
    asked = []

    def record(self, x):
        asked.append(len(x))
        return real(self, x)

    monkeypatch.setattr(Oracle, "__call__", record)
    rc, text, err = cli(capsys, *args)
    assert rc == 0, err
    assert sum(asked) == len(MUTANTS) - 1 - 8  # the two saved batches of 4 are not asked again


def test_score_errors(tmp_path, capsys, ckpt, table):
    path, frame = table
    frame.loc[2, "mutant"] = "A5P"
    frame.to_csv(path, index=False)
    rc, _, err = cli(capsys, "score", "--table", path, "--model", ckpt, "--out",
                     tmp_path / "r", "--no-progress")
    assert rc == 2 and "row 3, residue 5" in err and "wild type has 'A'" in err
    rc, _, err = cli(capsys, "score", "--table", tmp_path / "none.csv", "--model", ckpt,
                     "--out", tmp_path / "r", "--no-progress")
    assert rc == 2 and "--table" in err and "no such file" in err
