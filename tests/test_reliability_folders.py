"""Run folders: a command refuses a folder another command made (naming it), one process at
a time works in a folder, and files are written under temporary names no other process uses."""
import json
import multiprocessing
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from plmscope import folders
from plmscope.cli import main
from plmscope.run_folder import write_json
from plmscope.fourier import random_real_transform
from plmscope.fourier.qsft import QueryStore

BASE = ("--b", 2, "--subsamples", 3, "--repeats", 1, "--test", 50, "--batch-size", 40,
        "--no-progress")


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def interactions_run(tmp_path_factory):
    """A finished interactions run folder and the arguments that made it."""
    d = tmp_path_factory.mktemp("runs")
    sf = random_real_transform(4, 6, {1: (3, 1.0), 2: (2, 1.0)}, 0.5, np.random.default_rng(0))
    sf.save(d / "planted.npz")
    args = ("interactions", "--oracle", f"surrogate:{d / 'planted.npz'}", "--surrogate-noise",
            "0.01", "--out", d / "run", *BASE)
    assert main([str(a) for a in args]) == 0
    return d / "run", args


def scores_file(tmp_path):
    path = tmp_path / "scores.npz"
    np.savez(path, scores=np.random.default_rng(1).standard_normal((2, 64)), q=np.array(2))
    return path


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_landscape_refuses_a_finished_interactions_run(interactions_run, tmp_path, capsys):
    run, args = interactions_run
    before = snapshot(run)
    rc, _, err = cli(capsys, "landscape", "--scores", scores_file(tmp_path), "--out", run)
    assert rc == 2 and "plmscope interactions" in err and str(run) in err
    assert snapshot(run) == before
    rc, text, err = cli(capsys, *args)  # the run is intact: shown, not recomputed
    assert rc == 0 and "nothing recomputed" in text, err


def test_commands_refuse_each_others_folders(interactions_run, tmp_path, capsys):
    run, args = interactions_run
    land = tmp_path / "land"
    assert cli(capsys, "landscape", "--scores", scores_file(tmp_path), "--out", land)[0] == 0
    before = snapshot(land)
    rc, _, err = cli(capsys, *args[:-len(BASE) - 2], "--out", land, *BASE)
    assert rc == 2 and "plmscope landscape" in err
    assert snapshot(land) == before
    fasta = tmp_path / "p.fasta"
    fasta.write_text(">a\nMKTAYIAK\n>b\nMKLV\n")
    # refused before any model is loaded (the model named here does not exist)
    for command in (("embed", "--model", "no_such_model"),
                    ("isotropy", "--model", "no_such_model"),
                    ("align-corr", "--model", "no_such_model", "--fraction", 1)):
        rc, _, err = cli(capsys, *command, "--fasta", fasta, "--out", run)
        assert rc == 2 and "holds the output of `plmscope interactions`" in err, err
    rc, _, err = cli(capsys, "demo", "--out", land, "--no-progress")
    assert rc == 2 and "plmscope landscape" in err


def test_folders_made_before_the_marker_are_recognised(interactions_run, tmp_path):
    run, _ = interactions_run
    assert folders.made_by(run) == "interactions"
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "run.json").write_text((run / "run.json").read_text())
    assert folders.made_by(legacy) == "interactions"
    with pytest.raises(ValueError, match="holds the output of `plmscope interactions`"):
        folders.check_owner(legacy, "landscape")


HOLDER = textwrap.dedent("""
    import sys, time
    from plmscope import folders
    with folders.locked(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(120)
""")


def test_a_second_process_is_refused_while_one_works(tmp_path, capsys):
    sf = random_real_transform(4, 6, {1: (3, 1.0)}, 0.5, np.random.default_rng(0))
    sf.save(tmp_path / "planted.npz")
    out = tmp_path / "run"
    out.mkdir()
    args = ("interactions", "--oracle", f"surrogate:{tmp_path / 'planted.npz'}", "--out", out,
            *BASE)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        rc, _, err = cli(capsys, *args)
        assert rc == 2 and f"in use by another plmscope process (pid {holder.pid})" in err
        assert not (out / "queries").exists() and not (out / "run.json").exists()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    rc, _, err = cli(capsys, *args)
    assert rc == 0, err


def _hammer(args):
    kind, path, worker = args
    failures = 0
    for i in range(150):
        try:
            if kind == "json":
                write_json(path, {"worker": worker, "i": i})
            else:
                store = QueryStore(path, {"design_digest": "x"})
                store.save(i % 7, np.full(3, float(worker)))
        except OSError:
            failures += 1
    return failures


@pytest.mark.parametrize("kind", ["json", "store"])
def test_concurrent_writers_never_share_a_temporary_file(tmp_path, kind):
    target = tmp_path / ("summary.json" if kind == "json" else "store")
    with multiprocessing.get_context("fork").Pool(4) as pool:
        failures = pool.map(_hammer, [(kind, target, w) for w in range(4)])
    assert failures == [0, 0, 0, 0]
    if kind == "json":
        assert set(json.loads(target.read_text())) == {"worker", "i"}
    else:
        store = QueryStore(target, {"design_digest": "x"})
        assert store.answered() == set(range(7))
        assert all(store.load(i, 3).shape == (3,) for i in range(7))
    leftovers = [p.name for p in target.parent.rglob(".*") if p.name.endswith(".tmp")]
    assert leftovers == []
