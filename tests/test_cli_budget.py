"""plmscope interactions --budget auto: rounds that stop themselves, in a resumable run
folder, with R^2 against queries in the report."""
import json

import numpy as np
import pandas as pd
import pytest

from plmscope.experiment import run_interactions
from plmscope.fourier import SurrogateOracle, random_real_transform
from report_check import check_report
from test_cli_interactions import cli, planted_file


BASE = ("--budget", "auto", "--start", 40, "--test", 300, "--batch-size", 30, "--no-progress")


@pytest.mark.parametrize("design", ["random", "qsft"])
def test_budget_auto_stops_and_reports(tmp_path, capsys, design):
    path, truth = planted_file(tmp_path)
    out = tmp_path / "run"
    extra = ("--design", "qsft", "--b", 2, "--repeats", 1, "--validation", 100) \
        if design == "qsft" else ()
    rc, text, err = cli(capsys, "interactions", "--oracle", f"surrogate:{path}",
                        "--surrogate-noise", "0.01", "--out", out, *BASE, *extra)
    assert rc == 0, err
    assert "budget auto:" in text and "round 1:" in text and "stopped after" in text
    summary = json.loads((out / "summary.json").read_text())
    bud = summary["budget"]
    assert bud["design"] == design and bud["stopped"] == "tolerance"
    assert bud["rounds"][-1]["gain"] < 0.005
    assert summary["num_queries"] == bud["num_queries"] < 4 ** 6
    assert summary["qsft"]["decoder"] == "regress" and summary["fit"]["cv_r2"] > 0.99
    assert summary["test"]["r2"] > 0.99
    # every answer of every round is on disk, and the rounds file matches the summary
    saved = json.loads((out / "rounds" / "rounds.json").read_text())
    assert [r["queries"] for r in saved["rounds"]] == [r["queries"] for r in bud["rounds"]]
    for r in range(1, len(bud["rounds"]) + 1):
        assert list((out / "rounds" / f"round-{r:02d}" / "answers").glob("*.npy"))
    if design == "qsft":
        assert bud["num_validation"] == 100 and (out / "rounds" / "validation").is_dir()
        assert all(r["validation_r2"] is not None for r in bud["rounds"])
    # the answers the fit used are kept, and the held-out set avoids every asked variant
    answers = np.load(out / "rounds" / "answers.npz")
    assert answers["x"].shape[0] == bud["num_queries"] - bud["num_validation"]
    test = np.load(out / "test.npz")["x"]
    asked = {r.tobytes() for r in answers["x"]}
    if design == "qsft":
        asked |= {r.tobytes() for r in answers["validation_x"]}
    assert not asked & {r.tobytes() for r in test}
    table = pd.read_csv(out / "interactions.csv")
    assert set(table["stage"]) <= {"mean", "regress"}
    assert (out / "rounds.png").exists()
    check_report(out / "report.html", {"rounds.png", "test_fit.png", "energy_by_order.png"})
    assert "R^2 against queries" in (out / "report.html").read_text()
    # a finished run is not recomputed
    rc, text, err = cli(capsys, "interactions", "--oracle", f"surrogate:{path}",
                        "--surrogate-noise", "0.01", "--out", out, *BASE, *extra)
    assert rc == 0 and "nothing recomputed" in text and "budget:" in text
    assert test.shape[0] == 300


def test_budget_auto_resumes_an_interrupted_run(tmp_path):
    rng = np.random.default_rng(2)
    truth = random_real_transform(3, 6, {1: (4, 1.0), 2: (3, 1.0)}, 0.5, rng)

    class Stops(SurrogateOracle):
        calls = 0

        def __call__(self, x):
            Stops.calls += 1
            if Stops.calls == 4:
                raise KeyboardInterrupt
            return super().__call__(x)

    out = tmp_path / "run"
    kw = dict(budget="auto", start=30, test=100, batch_size=20, out=out, report=False,
              progress=False)
    with pytest.raises(KeyboardInterrupt):
        run_interactions(Stops(truth, 0.01, seed=0), 3, 6, 2, **kw)
    asked = []

    class Counts(SurrogateOracle):
        def __call__(self, x):
            asked.append(len(x))
            return super().__call__(x)

    done = run_interactions(Counts(truth, 0.01, seed=0), 3, 6, 2, **kw)
    fresh = run_interactions(SurrogateOracle(truth, 0.01, seed=0), 3, 6, 2,
                             **{**kw, "out": tmp_path / "fresh"})
    # round 1 (batches of 20 and 10) and the first batch of round 2 were saved before the
    # stop and are not asked again; the result is the uninterrupted run's
    assert sum(asked) == done.summary["num_queries"] + 100 - 50
    np.testing.assert_array_equal(done.transform.values, fresh.transform.values)
    assert [r["queries"] for r in done.summary["budget"]["rounds"]] == \
        [r["queries"] for r in fresh.summary["budget"]["rounds"]]


@pytest.mark.parametrize("argv, match", [
    (("--tolerance", "-1"), "--tolerance must be an R^2 gain"),
    (("--start", "3"), "--start must be >= 10"),
    (("--max-queries", "5"), "--max-queries must be >= 10"),
    (("--design", "qsft", "--b", "4", "--max-queries", "1000"),
     "one q-SFT group of --b 4 asks"),
])
def test_budget_arguments_are_checked(tmp_path, capsys, argv, match):
    path, _ = planted_file(tmp_path)
    rc, text, err = cli(capsys, "interactions", "--oracle", f"surrogate:{path}", "--out",
                        tmp_path / "run", "--budget", "auto", *argv)
    assert rc != 0 and match in err
    assert not (tmp_path / "run" / "run.json").exists()


def test_budget_argument_of_the_api():
    truth = random_real_transform(2, 4, {1: (2, 1.0)}, 0.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="budget must be None"):
        run_interactions(SurrogateOracle(truth, 0.0, seed=0), 2, 4, 2, budget="fast")
