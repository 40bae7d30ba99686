import json

import pandas as pd

from plmscope.cli import main
from plmscope.commands.demo import planted_transform
from plmscope.fourier import SparseFourier
from report_check import check_report


def test_demo_recovers_its_planted_truth(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "PLANTED landscape with known truth" in text
    assert "not a language model" in text
    assert "24 of 24 planted interactions found" in text
    assert "plmscope interactions --fasta" in text  # the real-model command is shown next to it
    summary = json.loads((out / "summary.json").read_text())
    truth = summary["truth"]
    assert (truth["planted"], truth["found"], truth["missed"], truth["spurious"]) == (24, 24, 0, 0)
    assert truth["max_abs_error_found"] < 0.01
    assert summary["test"]["r2"] > 0.99 and summary["test"]["size"] == 10_000
    planted = planted_transform(0)
    got = SparseFourier.load(out / "transform.npz")
    assert {k.tobytes() for k in got.frequencies} == {k.tobytes() for k in planted.frequencies}
    table = pd.read_csv(out / "truth.csv")
    assert set(table["status"]) == {"found"} and len(table) == 24
    mutations = pd.read_csv(out / "mutations.csv")
    assert mutations["mutations"].str.match(r"^[A-Z]\d+[A-Z](:[A-Z]\d+[A-Z])*$").all()
    page = check_report(out / "report.html", {"energy_by_order.png", "pairwise_heatmap.png",
                                              "top_interactions.png", "test_fit.png"})
    assert "Recovered vs planted truth" in page.headings
    assert main(["demo", "--out", str(out), "--no-progress"]) == 0
    again = capsys.readouterr().out
    assert "nothing recomputed" in again and "24 of 24" in again
