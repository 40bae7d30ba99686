"""A model that cannot be loaded stops a command at once, with the clear message, and leaves
no state behind: no run.json (which would refuse the next attempt with a local checkpoint as
"another configuration"), no empty folders. Without a network, hub names fail in seconds
instead of after the hub client's retries."""
import socket
import time

import pytest

from plmscope.models import loading
# the tiny checkpoint, the GB1 FASTA and the CLI runner of the model command tests
from test_cli_model import GB1, cli, ckpt, fasta  # noqa: F401
MISSING = "plmscope-tests/no-such-model"  # hub-like: never in any cache


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    """Hub and fair-esm downloads point at a refused local port; empty caches."""
    import huggingface_hub.constants as hf

    dead = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf, "ENDPOINT", dead)
    monkeypatch.setattr(loading, "_FAIR_ESM_URL", dead + "/fair-esm")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return dead


def test_probe_answers_at_once():
    assert not loading.reachable(f"http://127.0.0.1:{closed_port()}", timeout=2)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert loading.reachable(f"http://127.0.0.1:{server.getsockname()[1]}/x", timeout=2)


@pytest.mark.parametrize("name", [MISSING, "facebook/esm2_t6_8M_UR50D", "esm2_t6_8M_UR50D"])
def test_unreachable_hub_fails_fast(no_network, name, tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(loading.ModelUnavailableError) as info:
        loading.load(name, device="cpu")
    assert time.perf_counter() - t0 < 10  # the hub client alone retries for ~30 s
    msg = str(info.value)
    assert "cannot be reached" in msg and "pass a local path" in msg and name in msg
    assert not (tmp_path / "torch" / "hub" / "checkpoints").exists()  # nothing made for it


def test_interactions_failed_load_leaves_no_run(no_network, tmp_path, capsys, ckpt, fasta):
    out = tmp_path / "run"
    common = ("interactions", "--fasta", fasta, "--sites", "3,10", "--q", 20, "--b", 1,
              "--subsamples", 2, "--repeats", 1, "--test", 20, "--device", "cpu",
              "--no-progress", "--out", out)
    rc, _, err = cli(capsys, *common, "--model", MISSING)
    assert rc == 2 and "cannot be reached" in err and "local path" in err
    assert not out.exists()
    rc, _, err = cli(capsys, *common, "--model", ckpt)  # the same --out, a local checkpoint
    assert rc == 0, err
    assert (out / "summary.json").exists()


def test_interactions_failed_load_keeps_an_existing_empty_folder(no_network, tmp_path, capsys,
                                                                 fasta):
    out = tmp_path / "mine"
    out.mkdir()
    rc, _, _ = cli(capsys, "interactions", "--fasta", fasta, "--sites", "3,10", "--b", 1,
                   "--test", 0, "--model", MISSING, "--no-progress", "--out", out)
    assert rc == 2 and out.is_dir() and not any(out.iterdir())


def test_landscape_failed_load_leaves_no_run(no_network, tmp_path, capsys, ckpt, fasta):
    out = tmp_path / "land"
    common = ("landscape", "--fasta", fasta, "--sites", "3,10", "--q", 2, "--substitutions",
              "A,A", "--device", "cpu", "--no-progress", "--out", out)
    rc, _, err = cli(capsys, *common, "--model", MISSING)
    assert rc == 2 and "cannot be reached" in err
    assert not out.exists()
    rc, _, err = cli(capsys, *common, "--model", ckpt)
    assert rc == 0, err


def test_isotropy_failed_load_leaves_no_folder(no_network, tmp_path, capsys, fasta,
                                               monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --out is made in the working folder
    rc, _, err = cli(capsys, "isotropy", "--fasta", fasta, "--model", MISSING)
    assert rc == 2 and "cannot be reached" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gb1.fasta"]


def test_align_corr_failed_load_keeps_only_finished_work(no_network, tmp_path, capsys):
    """The sample and its alignments do not depend on the model: they stay for the next
    attempt; the model's (empty) embedding folders go."""
    fasta = tmp_path / "two.fasta"
    fasta.write_text(f">a\n{GB1}\n>b\n{GB1[::-1]}\n")
    out = tmp_path / "ac"
    rc, _, err = cli(capsys, "align-corr", "--fasta", fasta, "--model", MISSING, "--fraction",
                     1.0, "--out", out)
    assert rc == 2 and "cannot be reached" in err
    assert not [p for p in out.rglob("*") if p.is_dir() and not any(p.iterdir())]
    assert (out / "sample.json").exists() and not (out / "embeddings").exists()
