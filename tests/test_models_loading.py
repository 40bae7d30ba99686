"""Loading protein language models from local checkpoints of every backend, tokenisation
against each model's real tokenizer, and the errors for names that cannot be loaded."""
import os

import esm
import pytest
import torch
import transformers
from plmscope.models import KNOWN_MODELS, ModelUnavailableError, load, save_random_model
from plmscope.models.tokens import from_tokenizer

SEQS = ["MKTAYIAKQRQISFVKSHFSRQ", "MKTAY", "mqyklilngk", "ACDEFGHIKLMNPQRSTVWYX"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    out = {"fair-esm": save_random_model("esm", d / "esm2_tiny.pt", backend="fair-esm")}
    for fam in ("esm", "bert", "xlnet", "t5"):
        out[fam] = save_random_model(fam, d / fam, seed=3)
    return out


@pytest.mark.parametrize("key,family,backend,max_length", [
    ("fair-esm", "esm", "fair-esm", 1022), ("esm", "esm", "transformers", 1022),
    ("bert", "bert", "transformers", 510), ("xlnet", "xlnet", "transformers", None),
    ("t5", "t5", "transformers", None),
])
def test_load_local_checkpoint(checkpoints, key, family, backend, max_length):
    m = load(checkpoints[key], device="cpu")
    assert (m.family, m.backend, m.device.type) == (family, backend, "cpu")
    assert m.max_length == max_length
    assert (m.embed_dim, m.num_layers) == (32, 2)
    assert m.has_lm_head == (family in ("esm", "bert"))
    assert m.precision == "float32" and m.source == str(checkpoints[key].resolve())
    stem = checkpoints[key].stem
    assert m.name.startswith(f"{stem}@") and len(m.name) == len(stem) + 17
    assert load(checkpoints[key]).name == m.name  # stable id
    assert all(p.dtype == torch.float32 for p in m.module.parameters())


def test_name_tracks_weights(checkpoints, tmp_path):
    other = save_random_model("esm", tmp_path / "esm2_tiny.pt", backend="fair-esm", seed=9)
    assert load(other).name != load(checkpoints["fair-esm"]).name


def test_dtype_choices(checkpoints):
    m = load(checkpoints["bert"], dtype="bfloat16")
    assert m.dtype == torch.bfloat16 and m.autocast is None and m.precision == "bfloat16"
    assert next(m.module.parameters()).dtype == torch.bfloat16
    m = load(checkpoints["fair-esm"], dtype=torch.float64)
    assert next(m.module.parameters()).dtype == torch.float64
    with pytest.raises(ValueError, match="dtype='int8' is not understood"):
        load(checkpoints["bert"], dtype="int8")
    with pytest.raises(ValueError, match="backend must be one of"):
        load(checkpoints["bert"], backend="jax")
    with pytest.raises(ValueError, match="device='tpu'"):
        load(checkpoints["bert"], device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no GPU"):
            load(checkpoints["bert"], device="cuda")


def _reference_batch(key, path, seqs):
    """Token ids from the model's own tokenizer (fair-esm: its batch converter)."""
    if key == "fair-esm":
        alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
        data = [(str(i), s.upper()) for i, s in enumerate(seqs)]
        _, _, toks = alphabet.get_batch_converter()(data)
        return toks, toks != alphabet.padding_idx
    tok = transformers.AutoTokenizer.from_pretrained(path)
    if key == "esm":
        text = [s.upper() for s in seqs]
    else:  # Rostlab: residues separated by spaces, U Z O B -> X
        text = [" ".join(s.upper().translate(str.maketrans("UZOB", "XXXX"))) for s in seqs]
    enc = tok(text, padding=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"].bool()


@pytest.mark.parametrize("key", ["fair-esm", "esm", "bert", "xlnet", "t5"])
def test_tokenisation_matches_real_tokenizer(checkpoints, key):
    m = load(checkpoints[key])
    seqs = SEQS + ["MUZOBK"]
    if key in ("fair-esm", "esm"):
        seqs = seqs[:-1] + ["MBUZOK"]  # ESM has tokens of its own for these
    ref_ids, ref_mask = _reference_batch(key, checkpoints[key], seqs)
    batch = m.tokenize(seqs)
    torch.testing.assert_close(batch.ids, ref_ids)
    torch.testing.assert_close(batch.attention_mask, ref_mask)
    # residue positions: exactly the tokens that are neither special nor padding
    special = torch.tensor(sorted(set(m.tokenization.prefix + m.tokenization.suffix)))
    not_special = ~torch.isin(ref_ids, special) & ref_mask
    torch.testing.assert_close(batch.residue_mask(), not_special)
    if key == "xlnet":
        assert batch.ids[1, 0] == m.tokenization.pad_id  # left padding
    single = m.tokenize(["MKTAY"])
    assert single.attention_mask is None  # nothing padded: no mask, fast attention paths


def test_residue_policies(checkpoints):
    fair, bert = load(checkpoints["fair-esm"]), load(checkpoints["bert"])
    assert fair.tokenization.token_id("U") != fair.tokenization.token_id("X")
    assert bert.tokenization.token_id("U") == bert.tokenization.token_id("X")
    for m in (fair, bert):
        with pytest.raises(ValueError, match=r"sequences\[1\] has 'J' at residue 3"):
            m.tokenize(["MKT", "MKJA"])
        with pytest.raises(ValueError, match=r"'\*' at residue 4"):
            m.tokenize(["MKT*"])
        with pytest.raises(ValueError, match="empty"):
            m.tokenize(["MK", ""])
    with pytest.raises(ValueError, match="1023 residues but .* reads at most 1022"):
        fair.tokenize(["A" * 1023])
    fair.tokenize(["A" * 1022])


def test_vocab_file_pitfall_is_caught(tmp_path):
    """transformers 5 ignores vocab_file= for hand-built BERT tokenizers: every residue
    becomes [UNK]. The derived tokenisation refuses such a tokenizer instead of scoring junk."""
    vocab = tmp_path / "vocab.txt"
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("LAGVESIKRDTPNQFYMHCWXUBZO")
    vocab.write_text("\n".join(tokens))
    bad = transformers.BertTokenizer(vocab_file=str(vocab), do_lower_case=False)
    with pytest.raises(ValueError, match="pass vocab= "):
        from_tokenizer(bad, "bert")


def test_fair_esm_checkpoint_through_transformers(checkpoints):
    m = load(checkpoints["fair-esm"], backend="transformers")
    assert m.backend == "transformers" and type(m.module).__name__ == "EsmForMaskedLM"
    assert m.module.config._attn_implementation == "sdpa"
    assert m.name == load(checkpoints["fair-esm"]).name


def test_bad_paths(tmp_path, checkpoints):
    with pytest.raises(ValueError, match="no file or folder"):
        load(tmp_path / "missing.pt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="without config.json"):
        load(tmp_path / "empty")
    with pytest.raises(ValueError, match="fair-esm backend reads a .pt"):
        load(checkpoints["bert"], backend="fair-esm")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a fair-esm ESM2 checkpoint"):
        load(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        load(tmp_path / "junk.pt")


def test_unknown_name_lists_known_names():
    with pytest.raises(ModelUnavailableError) as info:
        load("esm3_huge")
    msg = str(info.value)
    for name in ("esm2_t33_650M_UR50D", "facebook/esm2_t36_3B_UR50D", "Rostlab/prot_bert",
                 "Rostlab/prot_t5_xl_uniref50", "save_pretrained", ".pt"):
        assert name in msg
    assert isinstance(info.value, ValueError)


def test_offline_known_names_fail_clearly(monkeypatch, tmp_path):
    """With HF_HUB_OFFLINE set and empty caches, the real hub calls fail and say why."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for name in ("esm2_t6_8M_UR50D", "facebook/esm2_t6_8M_UR50D", "Rostlab/prot_bert",
                 "someone/finetuned_esm2"):
        with pytest.raises(ModelUnavailableError) as info:
            load(name)
        msg = str(info.value)
        assert name in msg and "HF_HUB_OFFLINE" in msg and "esm2_t48_15B_UR50D" in msg
    assert not os.path.exists(tmp_path / "torch" / "hub" / "checkpoints" / "esm2_t6_8M_UR50D.pt")


def test_registry_facts():
    m = KNOWN_MODELS["esm2_t33_650M_UR50D"]
    assert KNOWN_MODELS["facebook/esm2_t33_650M_UR50D"] is m
    assert (m.num_layers, m.embed_dim, m.attention_heads) == (33, 1280, 20)
    assert KNOWN_MODELS["esm2_t36_3B_UR50D"].embed_dim == 2560
    assert not KNOWN_MODELS["Rostlab/prot_t5_xl_uniref50"].scores
    assert KNOWN_MODELS["Rostlab/prot_bert_bfd"].backends == ("transformers",)


def test_checkpoint_globals_policy(checkpoints, tmp_path):
    """Only tensors and argparse.Namespace are unpickled, whatever the file is named (a file
    named like Meta's published checkpoints is no more trusted than any other)."""
    import fractions

    data = torch.load(checkpoints["fair-esm"], weights_only=False)
    data["cfg"]["extra"] = fractions.Fraction(1, 3)  # an object weights_only refuses
    torch.save(data, tmp_path / "mine.pt")
    with pytest.raises(ValueError, match="Unsupported global.*fractions.Fraction"):
        load(tmp_path / "mine.pt")
    (tmp_path / "official").mkdir()
    torch.save(data, tmp_path / "official" / "esm2_t6_8M_UR50D.pt")
    with pytest.raises(ValueError, match="Unsupported global.*fractions.Fraction"):
        load(tmp_path / "official" / "esm2_t6_8M_UR50D.pt")
