"""The paper's published q = 2 ESM2 landscapes: plmscope's sparsity and ruggedness equal the
published values of every row, through the library and the command line."""
import json

import numpy as np
import pandas as pd
import pytest

from plmscope.cli import main
from plmscope.landscape import spectrum_metrics
from published import data_path, landscape_files
from report_check import check_report, image_is_picture

MEIER = ("esm2-q2-landscapes", "authors-meier", "GB1_23-24-25-26-27-28-29-30-31-32.npz")


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_reproduces_published_metrics_of_every_row():
    rows = 0
    for path in landscape_files():
        with np.load(path) as d:
            scores = d["scores"]
            want_s, want_r = d["published_sparsity"], d["published_ruggedness"]
        assert scores.shape == (19, 1024)
        for r, row in enumerate(scores):
            m = spectrum_metrics(row, 2)
            assert abs(m.sparsity - want_s[r]) < 1e-6, (path.name, r, m.sparsity, want_s[r])
            assert abs(m.ruggedness - want_r[r]) < 1e-6, (path.name, r, m.ruggedness, want_r[r])
            rows += 1
    assert rows == 19 * len(landscape_files())


def test_scores_file_reproduces_published_metrics(tmp_path, capsys):
    path = data_path(*MEIER)
    out = tmp_path / "meier"
    rc, text, err = cli(capsys, "landscape", "--scores", path, "--out", out)
    assert rc == 0, err
    assert "19 x q^n = 2^10" in text and "max |difference|" in text
    metrics = pd.read_csv(out / "metrics.csv")
    assert len(metrics) == 19
    assert np.max(np.abs(metrics["sparsity"] - metrics["published_sparsity"])) < 1e-6
    assert np.max(np.abs(metrics["ruggedness"] - metrics["published_ruggedness"])) < 1e-6
    summary = json.loads((out / "summary.json").read_text())
    assert summary["published_max_abs_difference"] < 1e-6
    assert sum(summary["variance_share_by_order"]) == pytest.approx(1.0)
    with np.load(out / "landscape.npz") as d:
        assert d["scores"].shape == (19, 1024) and int(d["q"]) == 2
        assert str(d["label"]) == "Empirical sites"
    check_report(out / "report.html", {"energy_by_order.png"})


def test_plane_of_every_published_landscape(tmp_path, capsys):
    files = landscape_files()
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
    rc, _, err = cli(capsys, "plane", tmp_path, "--out", out)
    assert rc == 2 and "without landscape.npz" in err
    rc, _, err = cli(capsys, "plane", files[0], "--out", tmp_path / "plane.pdf")
    assert rc == 2 and "must end in .png" in err
