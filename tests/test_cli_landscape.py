import json

import numpy as np
import pandas as pd
import pytest

from plmscope.cli import main
from plmscope.fourier import SparseFourier, SurrogateOracle
from plmscope.landscape import spectrum_metrics
from planted import gb1_like_surrogate, q2_landscape_file
from report_check import check_report, image_is_picture

def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_scores_file_with_published_metrics(tmp_path, capsys):
    """A file in the published format (tests/reproduction runs this on the real ones)."""
    path = tmp_path / "GB1_23-32.npz"
    scores = q2_landscape_file(path, rows=5)
    with np.load(path) as d:
        want_s, want_r = d["published_sparsity"], d["published_ruggedness"]
    out = tmp_path / "meier"
    rc, text, err = cli(capsys, "landscape", "--scores", path, "--out", out)
    assert rc == 0, err
    assert "5 x q^n = 2^10" in text and "max |difference|" in text
    metrics = pd.read_csv(out / "metrics.csv")
    assert len(metrics) == 5
    np.testing.assert_allclose(metrics["published_sparsity"], want_s, atol=1e-12)
    assert np.max(np.abs(metrics["sparsity"] - metrics["published_sparsity"])) < 1e-6
    assert np.max(np.abs(metrics["ruggedness"] - metrics["published_ruggedness"])) < 1e-6
    assert np.max(np.abs(metrics["ruggedness"] - want_r)) < 1e-6
    summary = json.loads((out / "summary.json").read_text())
    assert summary["published_max_abs_difference"] < 1e-6
    assert sum(summary["variance_share_by_order"]) == pytest.approx(1.0)
    with np.load(out / "landscape.npz") as d:
        np.testing.assert_array_equal(d["scores"], scores)
        assert d["scores"].shape == (5, 1024) and int(d["q"]) == 2
        assert str(d["label"]) == "Empirical sites"
    check_report(out / "report.html", {"energy_by_order.png"})


def planted_q2(tmp_path, n=8):
    rng = np.random.default_rng(4)
    freqs = np.zeros((9, n), int)
    for row in freqs[1:]:
        row[rng.choice(n, size=rng.integers(1, 4), replace=False)] = 1
    sf = SparseFourier(freqs, rng.standard_normal(9), 2)
    path = tmp_path / "q2.npz"
    sf.save(path)
    return path, sf


def test_enumerate_surrogate_resumable(tmp_path, capsys, monkeypatch):
    path, sf = planted_q2(tmp_path)
    out = tmp_path / "enum"
    args = ("landscape", "--oracle", f"surrogate:{path}", "--out", out, "--batch-size", 50,
            "--label", "planted", "--no-progress")
    real_call = SurrogateOracle.__call__
    calls = []

    def stop_after_2(self, x):
        calls.append(1)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return real_call(self, x)

    monkeypatch.setattr(SurrogateOracle, "__call__", stop_after_2)
    rc, _, err = cli(capsys, *args)
    assert rc == 130 and "resume" in err
    monkeypatch.setattr(SurrogateOracle, "__call__", real_call)
    rc, text, err = cli(capsys, *args)
    assert rc == 0, err
    grid = np.indices((2,) * 8).reshape(8, -1).T
    want = sf.evaluate(grid)
    with np.load(out / "landscape.npz") as d:
        np.testing.assert_allclose(d["scores"][0], want, atol=1e-12)
        assert str(d["label"]) == "planted"
    m = spectrum_metrics(want, 2)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sparsity_mean"] == pytest.approx(m.sparsity)
    assert summary["ruggedness_mean"] == pytest.approx(m.ruggedness)
    rc, text, err = cli(capsys, *args)
    assert rc == 0 and "nothing recomputed" in text
    rc, _, err = cli(capsys, *args[:-1], "--surrogate-noise", "0.5", "--no-progress")
    assert rc == 2 and "another configuration" in err


def test_enumeration_refused_above_limit(tmp_path, capsys):
    path = tmp_path / "gb1.npz"
    gb1_like_surrogate(path)
    rc, _, err = cli(capsys, "landscape", "--oracle", f"surrogate:{path}", "--q", 20,
                     "--out", tmp_path / "x")
    assert rc == 2
    assert "1 x 20^10 = 10,240,000,000,000 scores, above --max-variants 1,048,576" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("make,extra,match", [
    (lambda p: None, (), "no such file"),
    (lambda p: np.savez(p, values=np.zeros(8)), (), "has no array 'scores'"),
    (lambda p: np.savez(p, scores=np.zeros(12)), (), "not q^n for q=2"),
    (lambda p: np.savez(p, scores=np.zeros(9), q=3), ("--q", 2), "stores q=3"),
    (lambda p: p.write_text("not an npz"), (), "not a readable .npz"),
])
def test_scores_bad_input(tmp_path, capsys, make, extra, match):
    path = tmp_path / "s.npz"
    make(path)
    rc, _, err = cli(capsys, "landscape", "--scores", path, *extra)
    assert rc == 2 and match in err, err


def test_landscape_needs_a_source(tmp_path, capsys):
    rc, _, err = cli(capsys, "landscape")
    assert rc == 2 and "--scores FILE.npz" in err
    path, _ = planted_q2(tmp_path)
    rc, _, err = cli(capsys, "landscape", "--oracle", f"surrogate:{path}")
    assert rc == 2 and "--out is required" in err


def test_q3_scores(tmp_path, capsys):
    values = np.random.default_rng(0).standard_normal((2, 3**4))
    path = tmp_path / "q3.npz"
    np.savez(path, scores=values, q=3)
    rc, text, err = cli(capsys, "landscape", "--scores", path)
    assert rc == 0, err
    assert f"{spectrum_metrics(values[1], 3).ruggedness:.6f}" in text




def test_plane_of_score_files_in_two_folders(tmp_path, capsys):
    """The published layout (one folder per scorer, 19-row files) with planted scores;
    tests/reproduction runs the same on every published landscape."""
    files = []
    for folder, seed in (("authors-brandes", 0), ("authors-meier", 1)):
        (tmp_path / "data" / folder).mkdir(parents=True)
        for i in range(2):
            path = tmp_path / "data" / folder / f"GB1_{i}.npz"
            q2_landscape_file(path, rows=19, seed=10 * seed + i)
            files.append(path)
    rc, text, err = cli(capsys, "landscape", "--scores", files[0], "--label", "mine",
                        "--out", tmp_path / "one")
    assert rc == 0, err
    out = tmp_path / "fig" / "plane.png"
    rc, text, err = cli(capsys, "plane", *files, tmp_path / "one", "--out", out)
    assert rc == 0, err
    points = pd.read_csv(out.with_suffix(".csv"))
    assert len(points) == 19 * (len(files) + 1)
    assert set(points["group"]) == {"Empirical sites", "mine"}
    first = points[points["file"] == str(files[0].resolve())]
    with np.load(files[0]) as d:
        np.testing.assert_allclose(first["sparsity"], d["published_sparsity"], atol=1e-6)
        np.testing.assert_allclose(first["ruggedness"], d["published_ruggedness"], atol=1e-6)
    image_is_picture(out.read_bytes())
    rc, text, err = cli(capsys, "plane", *files, "--color-by", "folder", "--out", out)
    assert rc == 0 and "authors-brandes" in text and "authors-meier" in text
    assert "one colour" not in text
    # the published files share one label: the command says so and how to tell them apart
    rc, text, err = cli(capsys, "plane", *files, "--out", out)
    assert rc == 0 and "share the label 'Empirical sites'" in text and "--color-by" in text
    rc, text, err = cli(capsys, "plane", *files, "--color-by", "file", "--out", out)
    assert rc == 0 and pd.read_csv(out.with_suffix(".csv"))["group"].nunique() \
        == len({f.stem for f in files})  # one colour per site set (file name)
    rc, _, err = cli(capsys, "plane", tmp_path / "data", "--out", out)
    assert rc == 2 and "without landscape.npz" in err
    rc, _, err = cli(capsys, "plane", files[0], "--out", tmp_path / "plane.pdf")
    assert rc == 2 and "must end in .png" in err
