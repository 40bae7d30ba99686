"""The errors a person meets first: bad FASTA files, ambiguous records, wrong sites."""
import pytest

from conftest import data_file
from plmscope.cli import main
from plmscope.wildtype import parse_sites, read_wildtype

GB1 = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def model_run(tmp_path, capsys, fasta, *extra):
    return cli(capsys, "interactions", "--model", "esm2_t6_8M_UR50D", "--fasta", fasta,
               "--out", tmp_path / "run", *extra)


@pytest.fixture
def one(tmp_path):
    path = tmp_path / "gb1.fasta"
    path.write_text(f">gb1 protein G\n{GB1[:30]}\n{GB1[30:]}\n")
    return path


@pytest.mark.parametrize("content,match", [
    (None, "no such file"),
    (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "cannot be read as text"),
    (b"MQYKLILNG\n", "not a FASTA file"),
    (b"", "not a FASTA file"),
    (b">empty\n\n", "has no residues"),
    (b">x\nMQY1KL\n", "has '1' at residue 4"),
])
def test_unreadable_fasta(tmp_path, capsys, content, match):
    path = tmp_path / "wt.fasta"
    if content is not None:
        path.write_bytes(content)
    rc, _, err = model_run(tmp_path, capsys, path, "--sites", "1,2")
    assert rc == 2 and match in err and "--fasta" in err, err


def test_several_records_need_record(tmp_path, capsys):
    fasta = data_file("wildtypes.fasta")
    rc, _, err = model_run(tmp_path, capsys, fasta, "--sites", "3,4")
    assert rc == 2 and "holds 3 records" in err and "--record" in err and "1GB1_1" in err
    rc, _, err = model_run(tmp_path, capsys, fasta, "--sites", "3,4", "--record", "nope")
    assert rc == 2 and "--record nope is not in" in err and "sp|P04637|P53_HUMAN" in err
    rid, seq = read_wildtype(fasta, "1")
    assert seq == GB1 and rid.startswith("1GB1_1")
    assert read_wildtype(fasta, "sp|P04637|P53_HUMAN")[1].startswith("MEEPQSDPSV")


@pytest.mark.parametrize("sites,match", [
    ("12,57", "site 57 is outside the wild type (residues 1..56)"),
    ("0,3", "site 0 is outside"),
    ("Y3,A4", "the wild type has K at residue 4, not A"),
    ("3,x4y", "'x4y' is not a residue number"),
    ("3,3", "lists residue 3 twice"),
    ("", "--sites is required"),
])
def test_bad_sites(tmp_path, capsys, one, sites, match):
    extra = ("--sites", sites) if sites else ()
    rc, _, err = model_run(tmp_path, capsys, one, *extra)
    assert rc == 2 and match in err, err


def test_parse_sites_accepts_checked_residues():
    assert parse_sites("Y3,K4, 12", GB1) == [3, 4, 12]
    assert parse_sites("3,4") == [3, 4]
    with pytest.raises(ValueError, match="no wild type to check"):
        parse_sites("Y3")


def test_model_needs_fasta_and_substitutions(tmp_path, capsys, one):
    rc, _, err = cli(capsys, "interactions", "--model", "m", "--sites", "3", "--out", tmp_path / "r")
    assert rc == 2 and "--fasta is required" in err
    rc, _, err = model_run(tmp_path, capsys, one, "--sites", "3,4", "--q", 2)
    assert rc == 2 and "--q 2 needs --substitutions" in err
    rc, _, err = model_run(tmp_path, capsys, one, "--sites", "3,4", "--q", 2, "--substitutions", "A")
    assert rc == 2 and "--substitutions has 1 entries for 2 sites" in err
    rc, _, err = model_run(tmp_path, capsys, one, "--sites", "3,4", "--q", 21)
    assert rc == 2 and "--q 21" in err


def test_every_subcommand_and_option_is_described():
    """`plmscope X --help` says what X does and what each of its options means."""
    import argparse

    from plmscope.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"transform", "embed", "isotropy", "align-corr", "landscape"} <= set(sub.choices)
    for name, command in sub.choices.items():
        assert command.description and len(command.description) > 40, name
        bare = [a.option_strings or a.dest for a in command._actions
                if not isinstance(a, argparse._HelpAction) and not a.help]
        assert not bare, f"{name}: options without help: {bare}"


def test_python_dash_m_plmscope():
    import subprocess
    import sys
    from pathlib import Path

    import plmscope

    env = {**__import__("os").environ,
           "PYTHONPATH": str(Path(plmscope.__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-m", "plmscope", "transform", "--help"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "usage: plmscope transform" in proc.stdout and "Fourier" in proc.stdout
