"""Bad files and folders give one clear line naming the file (and what to do), never a
traceback; a folder that cannot be written is refused before any work."""
import json

import numpy as np
import pytest

from plmscope.cli import main
from plmscope.fourier import SparseFourier, SurrogateOracle, random_real_transform
from plmscope.models.cache import ScoreCache
from planted import gb1_like_surrogate

BASE = ("--b", 2, "--subsamples", 3, "--repeats", 1, "--test", 50, "--batch-size", 40,
        "--no-progress")


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(rc, err, *needles):
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert str(needle) in err, err


@pytest.fixture
def garbage(tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(b"PK\x03\x04 this zip was cut short")
    return path


@pytest.fixture
def planted(tmp_path):
    sf = random_real_transform(4, 6, {1: (3, 1.0), 2: (2, 1.0)}, 0.5, np.random.default_rng(0))
    sf.save(tmp_path / "planted.npz")
    return tmp_path / "planted.npz"


def test_damaged_npz_files_are_named(tmp_path, capsys, garbage):
    one_line_error(*cli(capsys, "landscape", "--scores", garbage)[::2], garbage, "--scores")
    one_line_error(*cli(capsys, "transform", garbage, "--q", 2)[::2], garbage)
    one_line_error(*cli(capsys, "interactions", "--oracle", f"surrogate:{garbage}", "--out",
                        tmp_path / "r1", *BASE)[::2], garbage)
    one_line_error(*cli(capsys, "landscape", "--oracle", f"surrogate:{garbage}", "--out",
                        tmp_path / "r2")[::2], garbage)
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()
    with pytest.raises(ValueError, match="broken.npz is not a readable .npz"):
        SparseFourier.load(garbage)


def test_bad_score_files(tmp_path, capsys):
    np.savez(tmp_path / "q_array.npz", scores=np.zeros((1, 16)), q=np.array([2, 2]))
    one_line_error(*cli(capsys, "landscape", "--scores", tmp_path / "q_array.npz")[::2],
                   "q stored in --scores", "one integer")
    np.savez(tmp_path / "empty.npz", scores=np.zeros((0, 16)), q=np.array(2))
    one_line_error(*cli(capsys, "landscape", "--scores", tmp_path / "empty.npz")[::2],
                   "empty.npz", "no rows")
    sf = SparseFourier(np.array([[0, 1], [1, 0]]), np.ones(2), 2)
    np.savez(tmp_path / "t.npz", frequencies=sf.frequencies, values=sf.values, q=np.array([2, 3]))
    with pytest.raises(ValueError, match="q stored in .*t.npz must be one integer"):
        SparseFourier.load(tmp_path / "t.npz")


def test_wrong_q_for_a_file_without_q(tmp_path, capsys):
    path = tmp_path / "gb1.npz"
    gb1_like_surrogate(path)  # the published format: no q stored
    one_line_error(*cli(capsys, "landscape", "--oracle", f"surrogate:{path}", "--q", 21,
                        "--out", tmp_path / "x")[::2], "made with q=20", "--q 20")
    with pytest.raises(ValueError, match="made with q=20"):
        SparseFourier.load(path, q=21)
    assert SparseFourier.load(path, q=20).q == 20


def test_out_that_cannot_be_a_folder(tmp_path, capsys, planted):
    (tmp_path / "afile").write_text("x")
    for out in (tmp_path / "afile", tmp_path / "afile" / "run"):
        for argv in (("interactions", "--oracle", f"surrogate:{planted}", "--out", out, *BASE),
                     ("landscape", "--oracle", f"surrogate:{planted}", "--out", out,
                      "--no-progress")):
            one_line_error(*cli(capsys, *argv)[::2], "--out", "afile")


def test_damaged_run_files_are_named(tmp_path, capsys, planted):
    argv = ("interactions", "--oracle", f"surrogate:{planted}", "--out", tmp_path / "run", *BASE)
    assert cli(capsys, *argv)[0] == 0
    summary = (tmp_path / "run" / "summary.json").read_text()
    (tmp_path / "run" / "summary.json").write_text("{}")
    one_line_error(*cli(capsys, *argv)[::2], "summary.json", "damaged")
    (tmp_path / "run" / "summary.json").write_text('{"title": "a landscape summary"}')
    one_line_error(*cli(capsys, *argv)[::2], "summary.json", "damaged")  # was KeyError: 'qsft'
    (tmp_path / "run" / "summary.json").write_text('{"format": ')
    one_line_error(*cli(capsys, *argv)[::2], "summary.json", "not valid JSON")
    (tmp_path / "run" / "summary.json").write_text(summary)
    run_json = (tmp_path / "run" / "run.json").read_text()
    (tmp_path / "run" / "run.json").write_text(json.dumps([1, 2]))
    one_line_error(*cli(capsys, *argv)[::2], "run.json", "list")
    (tmp_path / "run" / "run.json").write_text(run_json[:40])
    one_line_error(*cli(capsys, *argv)[::2], "run.json", "not valid JSON")


def test_corrupt_score_cache_is_named(tmp_path):
    path = tmp_path / "scores.sqlite"
    path.write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(ValueError, match="scores.sqlite cannot be used .*delete it"):
        ScoreCache(path)


def test_unwritable_resumed_folder_refused_before_any_query(tmp_path, capsys, planted,
                                                            monkeypatch):
    import os

    argv = ("interactions", "--oracle", f"surrogate:{planted}", "--out", tmp_path / "run", *BASE)
    real_call = SurrogateOracle.__call__
    calls = []

    def stop_after_one(self, x):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real_call(self, x)

    monkeypatch.setattr(SurrogateOracle, "__call__", stop_after_one)
    assert cli(capsys, *argv)[0] == 130
    # the folder turns read-only (as root chmod binds nothing, so os.access stands in)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(
        tmp_path / "run") and mode & os.W_OK else real_access(p, mode, **kw))
    calls.clear()
    one_line_error(*cli(capsys, *argv)[::2], "is not writable")
    assert calls == []
