"""`plmscope fit --table`: the regression fit of a measured landscape in the run folder,
tables, figures and report of `plmscope interactions`; and compared with q-SFT of the same
planted function."""
import json

import numpy as np
import pandas as pd
import pytest

from plmscope.cli import main
from plmscope.fourier import SparseFourier, random_real_transform
from plmscope.landscape import Landscape
from report_check import check_report

GB1 = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"
SITES = [3, 4, 5, 6, 7]
SUBS = ["AC", "EW", "GH", "LM", "NP"]  # alphabet order: the states read_variants chooses
IMAGES = {"energy_by_order.png", "pairwise_heatmap.png", "top_interactions.png", "fit.png"}


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def planted(tmp_path):
    truth = random_real_transform(3, 5, {1: (4, 1.0), 2: (2, 0.8)}, 0.5,
                                  np.random.default_rng(4))
    L = Landscape(GB1, SITES, 3, SUBS)
    x = L.all_variants()
    y = truth.evaluate(x)
    frame = pd.DataFrame({"mutant": L.mutations(x), "DMS_score": y})
    frame = pd.concat([frame, frame.iloc[:5]], ignore_index=True)  # repeated rows
    frame.loc[frame["mutant"] == "", "mutant"] = "WT"
    frame.to_csv(tmp_path / "planted.csv", index=False)
    (tmp_path / "gb1.fasta").write_text(f">gb1\n{GB1}\n")
    truth.save(tmp_path / "truth.npz")
    return tmp_path, truth


def test_fit_of_a_planted_table(planted, capsys, monkeypatch):
    d, truth = planted
    out = d / "fit"
    args = ("fit", "--table", d / "planted.csv", "--fasta", d / "gb1.fasta", "--threads", 1,
            "--out", out)
    rc, text, err = cli(capsys, *args)
    assert rc == 0, err
    assert "243 distinct variants, 5 repeated rows averaged" in text and "CV R^2" in text
    assert "penalty:       weight by order 1: 1, 2: 1, 3: 1.5, 4: 2, ...; adaptive refit" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fit"]["penalty_by_order"]["3"] == 1.5
    assert summary["format"] == "plmscope.fit/1" and summary["q"] == 3 and summary["n"] == 5
    assert summary["cv_r2"] > 0.95 and summary["fit"]["cv_r2"] == summary["cv_r2"]
    assert summary["oracle"]["wildtype"] == GB1
    assert [r[0] for r in summary["sites"]["residues"]] == ["Y", "K", "L", "I", "L"]
    got = SparseFourier.load(out / "transform.npz")
    x = Landscape(GB1, SITES, 3, SUBS).all_variants()
    np.testing.assert_allclose(got.evaluate(x), truth.evaluate(x), atol=0.1)
    table = pd.read_csv(out / "interactions.csv")
    assert len(table) == len(got) and set(table["order"]) <= {0, 1, 2, 3}
    assert pd.read_csv(out / "mutations.csv")["mutations"].str.match(r"^[YKLI]\d[A-Z]").all()
    for name in ("interactions.parquet", "mutations.parquet", "fit.npz", "report.html"):
        assert name in summary["files"]
    check_report(out / "report.html", IMAGES)

    from plmscope import fourier

    def refuse(*a, **k):
        raise AssertionError("fitted again")

    monkeypatch.setattr(fourier, "fit", refuse)
    rc, text, err = cli(capsys, *args, "--view", "fourier")
    assert rc == 0 and "nothing recomputed" in text and (out / "effects_fourier.csv").exists()


def test_fit_penalty_options_reach_the_fit(planted, capsys, monkeypatch):
    """--penalty-by-order uniform --no-adaptive is the plain Lasso, and a finished run with
    other penalty options is not reused."""
    d, _ = planted
    from plmscope import fourier

    seen = {}
    real = fourier.fit

    def spy(*a, **k):
        seen.update(k)
        return real(*a, **k)

    monkeypatch.setattr(fourier, "fit", spy)
    out = d / "plain"
    rc, text, err = cli(capsys, "fit", "--table", d / "planted.csv", "--fasta", d / "gb1.fasta",
                        "--threads", 1, "--penalty-by-order", "uniform", "--no-adaptive",
                        "--out", out)
    assert rc == 0, err
    assert seen["penalty_by_order"] == "uniform" and seen["adaptive"] is False
    assert "weight by order 1: 1, 2: 1, 3: 1, 4: 1, ...; adaptive refit not chosen" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["fit"]["adaptive"] is False
    rc, text, err = cli(capsys, "fit", "--table", d / "planted.csv", "--fasta", d / "gb1.fasta",
                        "--threads", 1, "--out", out)
    assert rc != 0 and "adaptive" in err + text


def test_compare_fit_with_qsft_of_the_same_function(planted, capsys):
    d, _ = planted
    rc, _, err = cli(capsys, "fit", "--table", d / "planted.csv", "--fasta", d / "gb1.fasta",
                     "--threads", 1, "--out", d / "fit")
    assert rc == 0, err
    rc, _, err = cli(capsys, "interactions", "--oracle", f"surrogate:{d / 'truth.npz'}",
                     "--fasta", d / "gb1.fasta", "--sites", ",".join(map(str, SITES)),
                     "--q", 3, "--substitutions", ",".join(SUBS), "--b", 2, "--subsamples", 3,
                     "--repeats", 1, "--test", 50, "--no-progress", "--out", d / "qsft")
    assert rc == 0, err
    rc, text, err = cli(capsys, "compare", d / "qsft", d / "fit", "--out", d / "cmp")
    assert rc == 0, err
    (c,) = json.loads((d / "cmp" / "summary.json").read_text())["comparisons"]
    assert c["shared_sites"] == SITES
    assert all(row["pearson"] > 0.98 for row in c["by_order"])
    assert c["pairs_only_in_a"] == [] and c["pairs_only_in_b"] == []


def test_fit_errors(planted, capsys):
    d, _ = planted
    rc, _, err = cli(capsys, "fit", "--table", d / "planted.csv", "--fasta", d / "gb1.fasta",
                     "--q", 2, "--out", d / "r")
    assert rc == 2 and "q=2 allows 1" in err
    rc, _, err = cli(capsys, "fit", "--table", d / "planted.csv", "--view", "weighted",
                     "--weights", "model", "--out", d / "r")
    assert rc == 2 and "a fit has none" in err
