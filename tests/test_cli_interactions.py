import json

import numpy as np
import pandas as pd
import pytest

from plmscope.cli import main
from plmscope.experiment import held_out_variants, run_interactions
from plmscope.fourier.qsft import query_variants
from plmscope.fourier import SparseFourier, SurrogateOracle, random_real_transform
from plmscope.fourier.qsft import design
from planted import GB1_SITES_0BASED, gb1_like_surrogate
from report_check import check_report

IMAGES = {"energy_by_order.png", "pairwise_heatmap.png", "top_interactions.png", "test_fit.png"}


def planted_file(tmp_path, q=4, n=6, seed=0):
    """A small real sparse transform saved in plmscope's format (pairs k, -k and a mean)."""
    sf = random_real_transform(q, n, {1: (3, 1.0), 2: (2, 1.0)}, 0.5,
                               np.random.default_rng(seed))
    path = tmp_path / "planted.npz"
    sf.save(path)
    return path, sf


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


BASE = ("--b", 2, "--subsamples", 3, "--repeats", 1, "--test", 200, "--batch-size", 40,
        "--no-progress")


def test_surrogate_end_to_end_then_finished(tmp_path, capsys, monkeypatch):
    path, truth = planted_file(tmp_path)
    out = tmp_path / "run"
    rc, text, err = cli(capsys, "interactions", "--oracle", f"surrogate:{path}",
                        "--surrogate-noise", "0.01", "--out", out, *BASE)
    assert rc == 0, err
    assert "q-SFT plan: 336 queries" in text  # the budget is printed first
    assert text.index("q-SFT plan") < text.index("R^2")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test"]["size"] == 200 and summary["test"]["r2"] > 0.99
    assert summary["num_queries"] <= 336 and summary["q"] == 4 and summary["n"] == 6
    assert summary["oracle"]["kind"] == "surrogate" and summary["oracle"]["noise_sd"] == 0.01
    assert summary["versions"]["plmscope"] and summary["qsft"]["seed"] == 0
    for key in ("design", "oracle", "decode", "report", "total"):
        assert summary["timings"][key] >= 0
    table = pd.read_parquet(out / "interactions.parquet")
    assert set(table.columns) >= {"order", "sites", "wildtype", "frequency", "real", "imag",
                                  "magnitude"}
    got = SparseFourier.load(out / "transform.npz")
    want = {k.tobytes(): v for k, v in zip(truth.frequencies, truth.values)}
    assert {k.tobytes() for k in got.frequencies} == set(want)
    for k, v in zip(got.frequencies, got.values):
        assert abs(v - want[k.tobytes()]) < 0.01
    assert len(table) == len(got)
    check_report(out / "report.html", IMAGES)

    # a finished run re-invoked prints its summary and asks nothing
    def refuse(self, x):
        raise AssertionError("the oracle was asked again")

    monkeypatch.setattr(SurrogateOracle, "__call__", refuse)
    rc, text, err = cli(capsys, "interactions", "--oracle", f"surrogate:{path}",
                        "--surrogate-noise", "0.01", "--out", out, *BASE)
    assert rc == 0, err
    assert "nothing recomputed" in text and "R^2" in text and "q-SFT plan" not in text

    # another configuration in the same folder is refused, naming what differs
    rc, text, err = cli(capsys, "interactions", "--oracle", f"surrogate:{path}",
                        "--surrogate-noise", "0.01", "--out", out, *BASE[:-1], "--seed", 3,
                        "--no-progress")
    assert rc == 2 and "another configuration" in err and "seed: stored 0 vs now 3" in err


def test_ctrl_c_leaves_a_resumable_folder(tmp_path, capsys, monkeypatch):
    path, _ = planted_file(tmp_path, seed=1)
    args = ("interactions", "--oracle", f"surrogate:{path}", "--surrogate-noise", "0.05", *BASE)
    rc, _, err = cli(capsys, *args, "--out", tmp_path / "straight")
    assert rc == 0, err

    real_call = SurrogateOracle.__call__
    calls = []

    def interrupt_after_3(self, x):
        calls.append(len(x))
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real_call(self, x)

    monkeypatch.setattr(SurrogateOracle, "__call__", interrupt_after_3)
    out = tmp_path / "interrupted"
    rc, text, err = cli(capsys, *args, "--out", out)
    assert rc == 130 and "run the same command again to resume" in err
    assert len(list((out / "queries" / "answers").glob("*.npy"))) == 3
    assert not (out / "summary.json").exists()

    asked = []

    def record(self, x):
        asked.append(np.array(x))
        return real_call(self, x)

    monkeypatch.setattr(SurrogateOracle, "__call__", record)
    rc, text, err = cli(capsys, *args, "--out", out)
    assert rc == 0, err
    assert "resuming: 3 answered query batch(es)" in text
    straight = json.loads((tmp_path / "straight" / "summary.json").read_text())
    resumed = json.loads((out / "summary.json").read_text())
    assert sum(len(a) for a in asked) == straight["num_queries"] - 3 * 40 + 200  # + held-out
    assert resumed["test"]["r2"] == straight["test"]["r2"]
    a = SparseFourier.load(out / "transform.npz")
    b = SparseFourier.load(tmp_path / "straight" / "transform.npz")
    np.testing.assert_array_equal(a.frequencies, b.frequencies)
    np.testing.assert_array_equal(a.values, b.values)


def test_held_out_variants_never_queried_and_fill_small_spaces(tmp_path):
    q, n, b = 3, 4, 2  # 81 variants; the design asks most of them
    unique = query_variants(q, n, b, 3, "nso", 1, seed=2)
    x = held_out_variants(q, n, 10_000, seed=2, exclude=unique)
    codes = design.variant_codes(x, q)
    assert len(np.unique(codes)) == len(codes) == q**n - len(unique)
    assert not np.isin(codes, design.variant_codes(unique, q)).any()
    big = held_out_variants(20, 10, 500, seed=1, exclude=query_variants(20, 10, 2, 2, "nso", 1, 1))
    assert len({r.tobytes() for r in big}) == 500
    again = held_out_variants(20, 10, 500, seed=1, exclude=query_variants(20, 10, 2, 2, "nso", 1, 1))
    np.testing.assert_array_equal(big, again)  # seeded

    # through the API, without a folder: the same exclusion, checked by a digest of the asks
    sf = SparseFourier([[1, 0, 0, 0], [2, 0, 0, 0], [0, 1, 1, 0], [0, 2, 2, 0], [0, 0, 0, 0]],
                       [1 + 1j, 1 - 1j, 0.5, 0.5, 1.0], q)
    res = run_interactions(SurrogateOracle(sf), q, n, b, num_subsample=3, num_repeat=1, seed=2,
                           test=10_000, progress=False)
    assert res.summary["test"]["size"] == q**n - len(unique)
    assert res.r2 == pytest.approx(1.0)
    assert res.folder is None and res.files == []


def test_budget_needs_yes_and_memory(tmp_path, capsys):
    path, _ = planted_file(tmp_path)
    args = ("interactions", "--oracle", f"surrogate:{path}", "--out", tmp_path / "r", "--b", 3,
            "--subsamples", 3, "--repeats", 2, "--confirm-above", 1000, "--no-progress")
    rc, text, err = cli(capsys, *args)
    assert rc == 2 and "2,688 queries" in err and "pass --yes" in err
    assert "q-SFT plan: 2,688 queries" in text  # printed before refusing
    assert not (tmp_path / "r" / "queries").exists()
    rc, text, err = cli(capsys, "interactions", "--oracle", f"surrogate:{path}", "--out",
                        tmp_path / "r2", "--b", 6, "--subsamples", 2000, "--repeats", 2000,
                        "--yes", "--no-progress")
    assert rc == 2 and "memory" in err and "GiB" in err


@pytest.mark.parametrize("extra,match", [
    (("--b", 0), "--b must be >= 1"),
    (("--b", 7), "b=7 must be <= n=6"),
    (("--noise", "loud"), "--noise 'loud' must be 'auto' or a number"),
    (("--surrogate-noise", "-1"), "--surrogate-noise '-1'"),
    (("--test", -5), "--test must be >= 0"),
    (("--surrogate-noise", "residual"), "needs test_x/test_y"),
])
def test_bad_arguments(tmp_path, capsys, extra, match):
    path, _ = planted_file(tmp_path)
    rc, _, err = cli(capsys, "interactions", "--oracle", f"surrogate:{path}", "--out",
                     tmp_path / "r", "--no-progress", *extra)
    assert rc == 2 and match in err, err


def test_bad_sources(tmp_path, capsys):
    path, _ = planted_file(tmp_path)
    rc, _, err = cli(capsys, "interactions", "--out", tmp_path / "r")
    assert rc == 2 and "exactly one of --model" in err
    rc, _, err = cli(capsys, "interactions", "--oracle", f"model:{path}", "--out", tmp_path / "r")
    assert rc == 2 and "surrogate:PATH.npz" in err
    rc, _, err = cli(capsys, "interactions", "--oracle", "surrogate:/nonexistent.npz", "--out",
                     tmp_path / "r")
    assert rc == 2 and "no such file" in err
    rc, _, err = cli(capsys, "interactions", "--oracle", f"surrogate:{path}", "--q", 5,
                     "--out", tmp_path / "r")
    assert rc == 2 and "q=4" in err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    rc, _, err = cli(capsys, "interactions", "--oracle", f"surrogate:{path}", "--out",
                     tmp_path / "busy", *BASE)
    assert rc == 2 and "not a plmscope run" in err


def test_surrogate_file_with_its_held_out_set(tmp_path, capsys):
    """A file in the published GB1 format (sites, test_x/test_y): --surrogate-noise residual
    takes the noise level of its held-out set, and R^2 on that set is reported
    (tests/reproduction runs this on the published transform)."""
    path = tmp_path / "planted.npz"
    planted, noise_sd = gb1_like_surrogate(path, noise_sd=2.0)
    out = tmp_path / "gb1"
    rc, text, err = cli(capsys, "interactions", "--oracle", f"surrogate:{path}", "--q", 20,
                        "--surrogate-noise", "residual", "--b", 2, "--subsamples", 2,
                        "--repeats", 1, "--test", 500, "--out", out, "--no-progress", "--yes")
    assert rc == 0, err
    summary = json.loads((out / "summary.json").read_text())
    real = summary["extra_tests"]["planted.npz held-out set"]
    assert real["size"] == 2000
    assert summary["oracle"]["noise_sd"] == pytest.approx(noise_sd, rel=0.05)
    assert summary["sites"]["numbers"] == [s + 1 for s in GB1_SITES_0BASED]
    assert "R^2 (planted.npz held-out set)" in text
    data = np.load(path)
    best = 1 - np.mean((data["test_y"] - planted.evaluate(data["test_x"])) ** 2) / np.var(data["test_y"])
    assert real["r2"] > best - 0.02, (real["r2"], best)
    check_report(out / "report.html", IMAGES)
