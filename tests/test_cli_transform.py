"""`plmscope transform`: q read from the file, sites as 1-based residue numbers, each real
interaction listed once."""
import re

import numpy as np

from plmscope.cli import main
from plmscope.fourier import qary_fft
from planted import q2_landscape_file


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def rows_of(text):
    """(rank, order, sites, frequency) of the listed interactions."""
    return re.findall(r"^\s+(\d+)\s+(\d+)\s+([\d,]+)\s+([\d,]+)\s", text, re.M)


def test_published_file_without_q(tmp_path, capsys):
    """The published q = 2 format stores no q: it is read from the row length."""
    path = tmp_path / "GB1_23-32.npz"
    q2_landscape_file(path, rows=3)
    rc, text, err = cli(capsys, "transform", path, "--top", 6)
    assert rc == 0, err
    assert "q^n = 2^10" in text and "1-based residue numbers" in text
    rows = rows_of(text)
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5, 6]
    for _, _, sites, _ in rows:
        assert all(23 <= int(s) <= 32 for s in sites.split(","))
    # the listed magnitude of rank 1 is the largest |F[k]|, k != 0, of row 0
    with np.load(path) as d:
        F = qary_fft(d["scores"][0], 2)
    top = float(re.search(r"^\s+1\s+\d+\s+[\d,]+\s+[\d,]+\s+(\S+)", text, re.M).group(1))
    assert top == float(f"{np.abs(F[1:]).max():.4g}")


def test_q_from_positions_and_mirrors_once(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "q5.npz"
    np.savez(path, scores=rng.standard_normal((1, 5**3)), positions_1based=np.array([7, 9, 12]))
    rc, text, err = cli(capsys, "transform", path, "--top", 200)
    assert rc == 0, err
    assert "q^n = 5^3" in text
    rows = rows_of(text)
    assert len(rows) == (5**3 - 1) // 2  # real scores: every k pairs with -k, listed once
    seen = set()
    for _, _, sites, freq in rows:
        k = tuple(int(v) for v in freq.split(","))
        assert (sites, tuple((-v) % 5 for v in k)) not in seen
        seen.add((sites, k))
        assert set(sites.split(",")) <= {"7", "9", "12"}


def test_q_cannot_be_told(tmp_path, capsys):
    path = tmp_path / "q3.npz"
    np.savez(path, scores=np.zeros(27))
    rc, _, err = cli(capsys, "transform", path)
    assert rc == 2 and "pass --q" in err
    rc, text, err = cli(capsys, "transform", path, "--q", 3)
    assert rc == 0 and "site numbers 1..n" in text
    rc, _, err = cli(capsys, "transform", path, "--key", "nope")
    assert rc == 2 and "no array 'nope'" in err
