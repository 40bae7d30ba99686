"""End to end: `plmscope embed`, `plmscope isotropy` and `plmscope align-corr` with tiny random
models (the real classes and checkpoint formats) on a small FASTA; results checked against
the library functions, and reruns resume instead of recomputing."""
import numpy as np
import pandas as pd
import pytest

from conftest import data_file
from plmscope.cli import main

from plmscope.alignment import align_pairs, correlation_tables, sample_proteins
from plmscope.isotropy import ResidueIsotropy, summarize
from plmscope.models import embed, load, save_random_model
from report_check import check_report

AA = "ACDEFGHIKLMNPQRSTVWY"


def family_fasta(path):
    """The paper's wild types (tests/data) and seeded mutated copies of them (48 records: more than the
    tiny models' 32 dimensions)."""
    from Bio import SeqIO

    with open(data_file("wildtypes.fasta")) as fh:
        wild = [str(r.seq) for r in SeqIO.parse(fh, "fasta")]
    rng = np.random.default_rng(3)
    records = []
    for w, seq in enumerate(wild):
        records.append((f"wt{w}", seq))
        for k in range(15):
            rate = 0.03 + 0.06 * k
            mutated = "".join(AA[rng.integers(20)] if rng.random() < rate else c for c in seq)
            records.append((f"wt{w}_m{k}", mutated))
    path.write_text("".join(f">{rid} test record\n{seq}\n" for rid, seq in records))
    return path, [s for _, s in records]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("geometry-cli")
    fasta, seqs = family_fasta(d / "family.fasta")
    esm_path = save_random_model("esm", d / "esm2_tiny.pt", backend="fair-esm", seed=1)
    bert_path = save_random_model("bert", d / "bert_tiny", seed=2)
    return d, fasta, seqs, esm_path, bert_path


def test_embed_command_writes_resumable_shards(setup, capsys):
    d, fasta, seqs, esm_path, _ = setup
    out = d / "emb"
    assert main(["embed", "--fasta", str(fasta), "--model", str(esm_path), "--out", str(out),
                 "--shard-size", "8"]) == 0
    assert "embedded 48 records" in capsys.readouterr().out
    shards = sorted(out.glob("shard-*.npz"))
    assert len(shards) == 6
    stamps = [p.stat().st_mtime_ns for p in shards]
    assert main(["embed", "--fasta", str(fasta), "--model", str(esm_path), "--out", str(out),
                 "--shard-size", "8"]) == 0
    assert [p.stat().st_mtime_ns for p in shards] == stamps
    with np.load(shards[0]) as z:
        expected = embed(load(esm_path), seqs[:8])
        np.testing.assert_allclose(z["embeddings"], expected, rtol=1e-5, atol=1e-5)
        assert set(z.files) == {"ids", "lengths", "embeddings"}  # the README's format
        assert list(z["lengths"]) == [len(s) for s in seqs[:8]]
    # read back as the README shows: ids in FASTA order, one (N, d) float32 array
    import json

    from plmscope.models import read_embeddings

    ids, X = read_embeddings(out)
    assert X.shape == (48, 32) and X.dtype == np.float32 and len(ids) == 48
    assert ids[0] == "wt0" and ids[1] == "wt0_m0"
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"layer", "pooling", "embed_dim", "records", "shards", "complete"} <= set(manifest)


def test_isotropy_command_compares_models_and_residues(setup):
    d, fasta, seqs, esm_path, bert_path = setup
    out = d / "iso"
    argv = ["isotropy", "--fasta", str(fasta), "--model", str(esm_path), "--model",
            str(bert_path), "--per-residue", "--out", str(out), "--shard-size", "16"]
    assert main(argv) == 0
    summary = pd.read_csv(out / "isotropy.csv")
    assert list(summary["model"]) == ["esm2_tiny", "esm2_tiny", "bert_tiny", "bert_tiny"]
    for name, path in (("esm2_tiny", esm_path), ("bert_tiny", bert_path)):
        model = load(path)
        pooled = embed(model, seqs)
        row = summary[(summary["model"] == name) & summary["embedding"].str.startswith("global")]
        expected = summarize(pooled)
        assert row["isoscore"].item() == pytest.approx(expected.isoscore, abs=1e-6)
        assert row["n_points"].item() == 48 and row["dim"].item() == 32
        assert row["effective_dims"].item() == expected.effective_dims
        assert row["mean_cosine"].item() == pytest.approx(expected.mean_cosine, abs=1e-6)
        per_res = ResidueIsotropy()
        for s, e in zip(seqs, embed(model, seqs, pooling="per_residue")):
            per_res.add(s, e)
        want = per_res.table().set_index("residues")
        got = pd.read_csv(out / f"per_residue_{name}.csv").set_index("residues")
        assert got.loc["all", "n_points"] == sum(map(len, seqs))
        np.testing.assert_allclose(got["isoscore"], want["isoscore"], atol=1e-6)
    for f in ("isotropy.png", "per_residue_isoscore.png", "report.html"):
        assert (out / f).stat().st_size > 0
    assert not (out / "report.md").exists()  # one report kind for every command
    page = check_report(out / "report.html", {"isotropy.png", "per_residue_isoscore.png"})
    report = " ".join(page.text)
    assert "esm2_tiny" in report and "bert_tiny" in report and "isotropic_baseline" in report
    # A rerun resumes from the shards: nothing is embedded again.
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("embeddings/*/*/shard-*.npz")}
    assert len(stamps) == 2 * 2 * 3  # models x poolings x shards of 16
    assert main(argv) == 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_align_corr_command(setup, capsys):
    d, fasta, seqs, esm_path, bert_path = setup
    out = d / "corr"
    argv = ["align-corr", "--fasta", str(fasta), "--model", str(esm_path), "--model",
            str(bert_path), "--fraction", "0.5", "--seed", "4", "--out", str(out),
            "--chunk-pairs", "100", "--threads", "2"]
    assert main(argv) == 0
    proteins = sample_proteins(48, 0.5, seed=4)
    assert len(proteins) == 24
    P = 24 * 23 // 2
    assert f"{P:,} pairs" in capsys.readouterr().out
    assert len(sorted((out / "alignments").glob("chunk-*.npz"))) == 3  # 276 pairs / 100
    models = pd.read_csv(out / "models.csv")
    assert list(models["model"]) == ["esm2_tiny", "bert_tiny"]
    sub = [seqs[i] for i in proteins]
    a, b = np.triu_indices(24, k=1)
    aln = align_pairs(sub, np.stack([a, b], 1), backend="biopython")
    for name, path in (("esm2_tiny", esm_path), ("bert_tiny", bert_path)):
        with np.load(out / name / "pair_metrics.npz") as z:
            np.testing.assert_array_equal(z["i"], proteins[a])
            np.testing.assert_array_equal(z["score"], aln.score)
            assert np.abs(z["identity"] - aln.identity).max() < 0.03
            emb = embed(load(path), sub)
            u = emb / np.linalg.norm(emb, axis=1, keepdims=True)
            np.testing.assert_allclose(z["cosine"], (u[a] * u[b]).sum(1), atol=1e-6)
            frame = pd.DataFrame({k: z[k] for k in ("cosine", "sqdist", "score", "identity")})
        spearman = pd.read_csv(out / name / "spearman.csv", index_col=0)
        np.testing.assert_allclose(spearman.values, correlation_tables(frame)["spearman"].values,
                                   atol=1e-12)
        row = models.set_index("model").loc[name]
        assert row["n_pairs"] == P and row["n_low"] + row["n_high"] == P
        assert row["spearman_cosine_identity"] == pytest.approx(
            spearman.loc["cosine", "identity"])
        for f in ("pearson.csv", "identity_bins.csv", "cosine_vs_identity.png",
                  "sqdist_vs_identity.png"):
            assert (out / name / f).stat().st_size > 0
    page = check_report(out / "report.html", {"esm2_tiny/cosine_vs_identity.png",
                                              "bert_tiny/sqdist_vs_identity.png"})
    assert "PAM250" in " ".join(page.text) and not (out / "report.md").exists()
    # the 20-column comparison table is wider than the window: it scrolls in its own box
    assert any(box["scrolls"] for box in page.layout["boxes"])
    # Resume: a lost checkpoint is recomputed, the others are reused.
    chunks = sorted((out / "alignments").glob("chunk-*.npz"))
    stamps = [p.stat().st_mtime_ns for p in chunks]
    chunks[1].unlink()
    assert main(argv) == 0
    assert chunks[0].stat().st_mtime_ns == stamps[0] and chunks[2].stat().st_mtime_ns == stamps[2]
    assert chunks[1].exists()
    # Other sampling settings must not mix into this folder.
    assert main(argv[:-6] + ["--seed", "5", "--out", str(out)]) == 2
    assert "other settings" in capsys.readouterr().err


def test_cli_bad_input(setup, tmp_path, capsys):
    d, fasta, _, esm_path, _ = setup
    assert main(["isotropy", "--fasta", str(tmp_path / "missing.fasta"), "--model",
                 str(esm_path), "--out", str(tmp_path / "x")]) == 2
    assert "is not a file" in capsys.readouterr().err
    bad = tmp_path / "u.fasta"
    bad.write_text(">a\nACDUE\n>b\nACDEE\n")
    assert main(["align-corr", "--fasta", str(bad), "--model", str(esm_path), "--fraction",
                 "1", "--out", str(tmp_path / "y")]) == 2
    assert "'U' at position 3" in capsys.readouterr().err
    assert main(["align-corr", "--fasta", str(fasta), "--model", str(esm_path), "--fraction",
                 "0", "--out", str(tmp_path / "z")]) == 2
    assert "fraction must be in" in capsys.readouterr().err
