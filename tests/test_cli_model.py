"""`plmscope interactions` and `plmscope landscape` with a real model class: a tiny random
ESM2 saved as a fair-esm checkpoint (the format of the published weights)."""
import json
import re

import numpy as np
import pandas as pd
import pytest

from plmscope.cli import main
from plmscope.landscape import Landscape
from plmscope.models import Oracle, load, save_random_model
from conftest import data_file
from planted import gb1_like_surrogate
from report_check import check_report

GB1 = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return save_random_model("esm", tmp_path_factory.mktemp("ckpt") / "esm2_tiny.pt",
                             backend="fair-esm", seed=11)


@pytest.fixture
def fasta(tmp_path):
    path = tmp_path / "gb1.fasta"
    path.write_text(f">gb1\n{GB1}\n")
    return path


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_interactions_with_a_tiny_esm2(tmp_path, capsys, ckpt, fasta):
    out = tmp_path / "run"
    args = ("interactions", "--fasta", fasta, "--sites", "Y3,K10,24", "--model", ckpt,
            "--scorer", "pllr", "--q", 20, "--b", 1, "--subsamples", 2, "--repeats", 1,
            "--test", 100, "--device", "cpu", "--out", out, "--no-progress")
    rc, text, err = cli(capsys, *args)
    assert rc == 0, err
    assert "q-SFT plan: 160 queries" in text
    # the time, from a short measured batch, before the queries start
    est = re.search(r"time estimate: ~(\d+):(\d\d) for up to 260 queries at ([\d,]+) "
                    r"variants/s \(measured here on ([\d,]+) variants", text)
    assert est and int(est.group(4).replace(",", "")) >= 8, text
    assert "plmscope plan --measure" in text
    assert text.index("time estimate") < text.index("R^2")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["oracle"]["kind"] == "model" and summary["oracle"]["scorer"] == "pllr"
    assert summary["oracle"]["sites"] == [3, 10, 24] and summary["q"] == 20
    assert [r[0] for r in summary["sites"]["residues"]] == ["Y", "K", "A"]
    assert summary["test"]["size"] == 100 and np.isfinite(summary["test"]["r2"])
    assert "torch" in summary["versions"]
    # the held-out answers are the model's scores, computed again here without any cache
    with np.load(out / "test.npz") as d:
        x, y = d["x"], d["y"]
    oracle = Oracle(load(ckpt, device="cpu"), Landscape(GB1, [3, 10, 24]), "pllr")
    np.testing.assert_allclose(y[:40], oracle(x[:40]), rtol=1e-6, atol=1e-6)
    mutations = pd.read_csv(out / "mutations.csv")
    assert mutations["mutations"].str.match(r"^(Y3|K10|A24)[A-Z](:(Y3|K10|A24)[A-Z])*$").all()
    assert set(mutations["wildtype"].str.split(",").explode()) <= {"Y", "K", "A"}
    check_report(out / "report.html", {"energy_by_order.png", "pairwise_heatmap.png",
                                       "top_interactions.png", "test_fit.png"})
    # the score cache is a whole SQLite file, listed alone: its transient -wal/-shm journal
    # was checkpointed into it before the files were listed
    assert (out / "scores.sqlite").exists()
    assert {"scores.sqlite", "summary.json", "report.html", "test.npz"} <= set(summary["files"])
    assert not [f for f in summary["files"] if f.endswith(("-wal", "-shm", "-journal"))]
    assert sorted(summary["files"]) == sorted(
        p.name for p in out.iterdir() if p.is_file() and not p.name.startswith("."))

    rc, text, err = cli(capsys, *args)
    assert rc == 0 and "nothing recomputed" in text
    rc, text, err = cli(capsys, *args[:-3], "--scorer", "wt_marginal", "--out", out)
    assert rc == 2 and "another configuration" in err and "wt_marginal" in err


def test_interactions_q2_budget_refused_before_loading(tmp_path, capsys, ckpt, fasta):
    rc, text, err = cli(capsys, "interactions", "--fasta", fasta, "--sites", "3,10,24,30",
                        "--model", ckpt, "--q", 2, "--substitutions", "AWCL", "--b", 3,
                        "--confirm-above", 10, "--out", tmp_path / "r")
    assert rc == 2 and "pass --yes" in err
    assert "plmscope plan --measure MODEL --fasta WT.fasta --q 2 --n 4 --b 3" in err
    assert not (tmp_path / "r").exists()
    rc, text, err = cli(capsys, "interactions", "--fasta", fasta, "--sites", "3,10",
                        "--model", ckpt, "--q", 2, "--substitutions", "YW", "--out", tmp_path / "r")
    assert rc == 2 and "wild-type residue 'Y'" in err


def test_landscape_enumerates_a_tiny_esm2(tmp_path, capsys, ckpt, fasta):
    out = tmp_path / "q2"
    rc, text, err = cli(capsys, "landscape", "--fasta", fasta, "--sites", "3,10,24,30",
                        "--model", ckpt, "--scorer", "masked_marginal", "--q", 2,
                        "--repeats", 3, "--device", "cpu", "--label", "tiny", "--out", out,
                        "--no-progress")
    assert rc == 0, err
    assert re.search(r"time estimate: ~\d+:\d\d for up to 48 queries at [\d,]+ variants/s",
                     text), text
    with np.load(out / "landscape.npz") as d:
        scores, subs = d["scores"], list(d["substitutions"])
        assert scores.shape == (3, 16) and list(d["positions_1based"]) == [3, 10, 24, 30]
    assert len(set(subs)) == 3  # a fresh random substitute per site in every repeat
    # one whole score cache, no journal left beside it
    assert (out / "scores.sqlite").exists()
    assert not [p.name for p in out.iterdir() if p.name.endswith(("-wal", "-shm", "-journal"))]
    model = load(ckpt, device="cpu")
    grid = np.indices((2,) * 4).reshape(4, -1).T
    for r in range(3):
        want = Oracle(model, Landscape(GB1, [3, 10, 24, 30], 2, subs[r]), "masked_marginal")(grid)
        np.testing.assert_allclose(scores[r], want, rtol=1e-6, atol=1e-6)
    metrics = pd.read_csv(out / "metrics.csv")
    assert len(metrics) == 3 and metrics["ruggedness"].between(1, 4).all()
    page = check_report(out / "report.html", {"energy_by_order.png"})
    text = " ".join(page.text)
    # the summary says what was enumerated in words, not as a (cut) JSON dict
    assert "model esm2_tiny.pt (masked_marginal), gb1 sites 3,10,24,30, q = 2" in text
    assert '"kind"' not in text and '"wildtype"' not in text
    rc, _, err = cli(capsys, "landscape", "--fasta", fasta, "--sites", "3,10,24,30,41",
                     "--model", ckpt, "--q", 20, "--out", tmp_path / "big")
    assert rc == 2 and "1 x 20^5 = 3,200,000 scores, above --max-variants 1,048,576" in err
    assert not (tmp_path / "big").exists()


def test_surrogate_labelled_by_the_protein(tmp_path, capsys):
    """--fasta/--sites name the surrogate's sites: residues in tables, figures and report."""
    path = tmp_path / "planted.npz"
    gb1_like_surrogate(path)
    out = tmp_path / "gb1"
    rc, text, err = cli(capsys, "interactions", "--oracle", f"surrogate:{path}", "--q", 20,
                        "--fasta", data_file("wildtypes.fasta"), "--record", "1",
                        "--sites", "L12,E15,I6,47,40,9,37,50,21,38", "--b", 2,
                        "--subsamples", 2, "--repeats", 1, "--test", 500, "--out", out,
                        "--no-progress")
    assert rc == 0, err
    assert "sites:         L12, E15, I6, D47" in text
    table = pd.read_csv(out / "interactions.csv", keep_default_na=False)
    first = table[table["order"] == 1].iloc[0]
    assert first["wildtype"] == GB1[int(first["sites"]) - 1]
    rc, _, err = cli(capsys, "interactions", "--oracle", f"surrogate:{path}", "--q", 20,
                     "--fasta", data_file("wildtypes.fasta"), "--record", "1",
                     "--sites", "12,15,6", "--out", tmp_path / "x")
    assert rc == 2 and "names 3 sites but the surrogate planted.npz has n=10" in err


def test_api_run_folder_knows_the_model_oracle(tmp_path, ckpt):
    from plmscope import run_interactions

    model = load(ckpt, device="cpu")
    landscape = Landscape(GB1, [3, 10, 24], 20)
    out = tmp_path / "api"
    res = run_interactions(Oracle(model, landscape, "wt_marginal"), 20, 3, 2, num_subsample=2,
                           num_repeat=1, test=50, out=out, progress=False)
    info = res.summary["oracle"]
    assert info["kind"] == "model" and info["scorer"] == "wt_marginal"
    assert info["sites"] == [3, 10, 24] and info["model"] == str(ckpt)
    # wt_marginal is additive by construction: no interaction of order >= 2 is found
    assert res.transform.orders().max() <= 1 and res.r2 > 0.999
    with pytest.raises(ValueError, match="oracle.scorer: stored \"wt_marginal\" vs now \"pllr\""):
        run_interactions(Oracle(model, landscape, "pllr"), 20, 3, 2, num_subsample=2,
                         num_repeat=1, test=50, out=out, progress=False)


def test_measured_rate_and_estimate():
    import time

    from plmscope.commands.plan import estimate_line, measured_rate

    def slow(x):  # 0.1 ms per variant
        time.sleep(1e-4 * len(x))
        return np.zeros(len(x))

    rate, timed = measured_rate(slow, 20, 3, budget_s=0.3, most=4096)
    assert 1500 < rate <= 10_000 and timed >= 8
    line = estimate_line(3_600_000, 1000.0, 64)
    assert line.startswith("time estimate: ~1:00:00 for up to 3,600,000 queries at 1,000 ")
