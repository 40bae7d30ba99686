"""Embeddings: pooling over residue tokens only (checked against manual slices of the raw
module's hidden states), padding invariance, and FASTA streaming with resume."""
import json

import esm
import numpy as np
import pytest
import torch
import transformers
from plmscope.models import embed, embed_fasta, load, read_embeddings, save_random_model

SEQS = ["MKTAYIAKQRQISFVKSHFSRQ", "MQY", "GEWTYDDATKTFTVTEMQYKLILNGKTLKG", "W"]
KEYS = ["fair-esm", "esm", "bert", "xlnet", "t5"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    paths = {"fair-esm": save_random_model("esm", d / "esm2_tiny.pt", backend="fair-esm", seed=5)}
    for fam in ("esm", "bert", "xlnet", "t5"):
        paths[fam] = save_random_model(fam, d / fam, seed=6)
    return {k: (load(p), p) for k, p in paths.items()}


def manual_hidden(key, model, path, seq, layer):
    """(T, D) hidden states of one unpadded sequence from the raw module, tokenised by the
    model's own tokenizer, with the index range of its residues."""
    if key == "fair-esm":
        alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
        toks = alphabet.get_batch_converter()([("s", seq)])[2]
        with torch.no_grad():
            h = model.module(toks, repr_layers=[layer])["representations"][layer][0]
        return h, 1, 1 + len(seq)
    tok = transformers.AutoTokenizer.from_pretrained(path)
    ids = tok(seq if key == "esm" else " ".join(seq), return_tensors="pt")["input_ids"]
    base = model.module.base_model
    with torch.no_grad():
        out = base(input_ids=ids, output_hidden_states=True)
    h = out.last_hidden_state[0] if layer == model.num_layers else out.hidden_states[layer][0]
    first = {"esm": 1, "bert": 1, "xlnet": 0, "t5": 0}[key]
    return h, first, first + len(seq)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("layer", [-1, 0, 1])
def test_pooling_excludes_special_tokens(models, key, layer):
    model, path = models[key]
    mean = embed(model, SEQS, layer=layer, pooling="mean", batch_size=3)
    per_residue = embed(model, SEQS, layer=layer, pooling="per_residue", batch_size=3)
    assert mean.shape == (len(SEQS), 32) and mean.dtype == np.float32
    L = model.check_layer(layer)
    for i, seq in enumerate(SEQS):
        h, a, b = manual_hidden(key, model, path, seq, L)
        np.testing.assert_allclose(per_residue[i], h[a:b].numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(mean[i], h[a:b].mean(0).numpy(), rtol=1e-5, atol=1e-5)
        # and the specials really are different vectors: including them would change the mean
        assert not np.allclose(mean[i], h.mean(0).numpy(), atol=1e-4)
    if key == "t5":
        with pytest.raises(ValueError, match="CLS token"):
            embed(model, SEQS, pooling="cls")
        return
    cls = embed(model, SEQS, layer=layer, pooling="cls", batch_size=3)
    for i, seq in enumerate(SEQS):
        h, a, b = manual_hidden(key, model, path, seq, L)
        where = len(h) - 1 if key == "xlnet" else 0  # XLNet: <sep> <cls> at the end
        np.testing.assert_allclose(cls[i], h[where].numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("key", KEYS)
def test_padding_does_not_change_embeddings(models, key):
    model, _ = models[key]
    alone = np.stack([embed(model, [s])[0] for s in SEQS])
    together = embed(model, SEQS, batch_size=len(SEQS))
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-5)


def test_embed_input_checks(models):
    model, _ = models["fair-esm"]
    with pytest.raises(ValueError, match="pooling must be one of"):
        embed(model, SEQS, pooling="max")
    with pytest.raises(ValueError, match=r"layer=3 is outside \[-3, 2\]"):
        embed(model, SEQS, layer=3)
    with pytest.raises(ValueError, match=r"sequences\[1\] is empty"):
        embed(model, ["MK", ""])
    with pytest.raises(ValueError, match="one string"):
        embed(model, "MKT")
    assert embed(model, []).shape == (0, 32)
    assert embed(model, [], pooling="per_residue") == []


def write_fasta(path, records):
    path.write_text("".join(f">{rid} description\n{seq}\n" for rid, seq in records))
    return path


@pytest.mark.parametrize("pooling", ["mean", "per_residue"])
def test_embed_fasta_streams_and_resumes(models, tmp_path, pooling):
    model, _ = models["bert"]
    rng = np.random.default_rng(0)
    letters = list("ACDEFGHIKLMNPQRSTVWY")
    records = [(f"p{i}", "".join(rng.choice(letters, size=int(rng.integers(3, 40)))))
               for i in range(11)]
    records[4] = ("p4", records[4][1] + "*")  # a stop codon mark is dropped
    fasta = write_fasta(tmp_path / "in.fasta", records)
    out = tmp_path / "emb"
    embed_fasta(model, fasta, out, pooling=pooling, shard_size=4, batch_size=3)
    shards = sorted(out.glob("shard-*.npz"))
    assert [p.name for p in shards] == ["shard-000000.npz", "shard-000001.npz", "shard-000002.npz"]
    ids, emb = read_embeddings(out)
    assert ids == [r[0] for r in records]
    want = embed(model, [s.rstrip("*") for _, s in records], pooling=pooling)
    if pooling == "mean":
        np.testing.assert_allclose(emb, want, rtol=1e-6, atol=1e-6)
    else:
        for got, exp in zip(emb, want):
            np.testing.assert_allclose(got, exp, rtol=1e-6, atol=1e-6)
    # resume: a lost shard is recomputed, finished ones are left untouched
    stamps = {p.name: p.stat().st_mtime_ns for p in shards}
    shards[1].unlink()
    embed_fasta(model, fasta, out, pooling=pooling, shard_size=4, batch_size=3)
    assert shards[0].stat().st_mtime_ns == stamps[shards[0].name]
    assert shards[2].stat().st_mtime_ns == stamps[shards[2].name]
    ids2, emb2 = read_embeddings(out)
    assert ids2 == ids
    if pooling == "mean":
        np.testing.assert_array_equal(emb2, emb)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["records"] == 11 and manifest["model"] == model.name
    with pytest.raises(ValueError, match="other settings"):
        embed_fasta(model, fasta, out, pooling=pooling, shard_size=5)


def test_embed_fasta_bad_records(models, tmp_path):
    model, _ = models["fair-esm"]
    fasta = write_fasta(tmp_path / "bad.fasta", [("a", "MKT"), ("b", ""), ("c", "MKT")])
    with pytest.raises(ValueError, match=r"FASTA record 2 \('b'\) .* has no residues"):
        embed_fasta(model, fasta, tmp_path / "out", shard_size=1)
    assert (tmp_path / "out" / "shard-000000.npz").exists()  # work before the bad record is kept
    with pytest.raises(ValueError, match="incomplete"):
        read_embeddings(tmp_path / "out")
    fasta = write_fasta(tmp_path / "j.fasta", [("a", "MKT"), ("z", "MKJT")])
    with pytest.raises(ValueError, match="'J' at residue 3"):
        embed_fasta(model, fasta, tmp_path / "out2")
    fasta = write_fasta(tmp_path / "long.fasta", [("long", "A" * 1100)])
    with pytest.raises(ValueError, match="1100 residues .* at most 1022"):
        embed_fasta(model, fasta, tmp_path / "out3")
    with pytest.raises(ValueError, match="not a file"):
        embed_fasta(model, tmp_path / "missing.fasta", tmp_path / "out4")


@pytest.mark.parametrize("family", ["xlnet", "t5", "bert"])
def test_models_wrapped_from_memory(models, family):
    """from_transformers takes the published head classes (XLNetLMHeadModel, the full
    T5ForConditionalGeneration) and uses their encoders, like load does from a folder."""
    from plmscope.models import from_transformers, random_transformers

    module, tok = random_transformers(family, seed=6)
    mem = from_transformers(module, tok, name=f"{family}-in-memory")
    assert mem.source is None and mem.family == family
    loaded, _ = models[family]
    np.testing.assert_allclose(embed(mem, SEQS), embed(loaded, SEQS), rtol=1e-6, atol=1e-6)
