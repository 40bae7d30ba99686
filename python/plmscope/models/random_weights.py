"""Randomly initialised models with the real classes and file formats.

Weights cannot be downloaded everywhere (CI, air-gapped clusters), but the cost of a forward
pass does not depend on the weights' values. These builders make models of any size with the
real fair-esm / transformers classes and save them exactly as the published checkpoints are
stored, so they load through the same :func:`plmscope.models.load` path as real weights. The
tests use tiny ones; the benchmark uses the ESM2-650M and ESM2-3B architectures.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .tokens import STANDARD

# ProtBERT's vocabulary order (Rostlab/prot_bert vocab.txt)
_ROSTLAB_RESIDUES = "LAGVESIKRDTPNQFYMHCWXUBZO"
FAMILIES = ("esm", "bert", "xlnet", "t5")


def _jitter(module: torch.nn.Module, seed: int, scale: float) -> None:
    """Perturb every parameter so no bias stays zero and no norm weight stays one: a wrong
    parameter mapping between backends then shows up in the outputs."""
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=torch.float32).to(p.dtype))


def random_fair_esm(num_layers: int = 2, embed_dim: int = 32, attention_heads: int = 4,
                    seed: int = 0, jitter: float = 0.1):
    """(ESM2 module, alphabet) from fair-esm with seeded random weights."""
    import esm

    torch.manual_seed(seed)
    alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
    model = esm.model.esm2.ESM2(num_layers=num_layers, embed_dim=embed_dim,
                                attention_heads=attention_heads, alphabet=alphabet,
                                token_dropout=True)
    if jitter:
        _jitter(model, seed, jitter)
    return model.eval(), alphabet


def save_fair_esm(model, path) -> Path:
    """Save a fair-esm ESM2 module in fair-esm's own checkpoint format (the format of
    ``esm2_*.pt`` on dl.fbaipublicfiles.com: {"model": state, "cfg": {"model": Namespace}})."""
    path = Path(path)
    if path.suffix != ".pt":
        raise ValueError(f"fair-esm checkpoints end in .pt, got {path}")
    cfg = argparse.Namespace(encoder_layers=model.num_layers, encoder_embed_dim=model.embed_dim,
                             encoder_attention_heads=model.attention_heads,
                             token_dropout=model.token_dropout)
    state = {"encoder.sentence_encoder." + k: v for k, v in model.state_dict().items()
             if not k.startswith("contact_head.")}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": state, "cfg": {"model": cfg}}, path)
    return path


def _vocabulary(family: str) -> list[str]:
    """Token strings in id order, laid out like the Rostlab vocabularies."""
    if family == "bert":
        return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(_ROSTLAB_RESIDUES)
    if family == "xlnet":
        return (["<unk>", "<s>", "</s>", "<cls>", "<sep>", "<pad>", "<mask>", "<eod>", "<eop>"]
                + ["\u2581" + a for a in _ROSTLAB_RESIDUES])
    if family == "t5":
        return ["<pad>", "</s>", "<unk>"] + ["\u2581" + a for a in _ROSTLAB_RESIDUES]
    raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")


def _write_rostlab_tokenizer(family: str, path: Path) -> None:
    """Tokenizer files as the Rostlab hub repos hold them: ProtBERT a vocab.txt, ProtXLNet and
    ProtT5 a SentencePiece spiece.model (read by transformers through sentencepiece and
    protobuf), each with a tokenizer_config.json."""
    import json

    vocab = _vocabulary(family)
    config = {"do_lower_case": False, "model_max_length": 1000000000}
    if family == "bert":
        (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
        config["tokenizer_class"] = "BertTokenizer"
    else:
        from sentencepiece import sentencepiece_model_pb2 as pb

        proto = pb.ModelProto()
        kinds = pb.ModelProto.SentencePiece
        for tok in vocab:
            piece = proto.pieces.add()
            piece.piece = tok
            piece.score = -1.0 if tok.startswith("\u2581") else 0.0
            piece.type = (kinds.NORMAL if tok.startswith("\u2581") else
                          kinds.UNKNOWN if tok == "<unk>" else kinds.CONTROL)
        spec = proto.trainer_spec
        spec.model_type = pb.TrainerSpec.UNIGRAM
        spec.unk_id, spec.pad_id = vocab.index("<unk>"), vocab.index("<pad>")
        spec.eos_id = vocab.index("</s>")
        spec.bos_id = vocab.index("<s>") if "<s>" in vocab else -1
        proto.normalizer_spec.name = "identity"
        proto.normalizer_spec.add_dummy_prefix = True
        proto.normalizer_spec.remove_extra_whitespaces = True
        (path / "spiece.model").write_bytes(proto.SerializeToString())
        config["tokenizer_class"] = "XLNetTokenizer" if family == "xlnet" else "T5Tokenizer"
        if family == "t5":
            config["extra_ids"] = 0
    (path / "tokenizer_config.json").write_text(json.dumps(config, indent=1))


def _tokenizer(family: str):
    from transformers import BertTokenizer, T5Tokenizer, XLNetTokenizer

    vocab = _vocabulary(family)
    # transformers >= 5: hand-built tokenizers take vocab=, not vocab_file= (silently ignored)
    if family == "bert":
        return BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=False)
    scored = [(t, -1.0 if t.startswith("\u2581") else 0.0) for t in vocab]
    if family == "xlnet":
        return XLNetTokenizer(vocab=scored)
    return T5Tokenizer(vocab=scored, extra_ids=0)


def random_transformers(family: str, num_layers: int = 2, embed_dim: int = 32,
                        attention_heads: int = 4, seed: int = 0, jitter: float = 0.1):
    """(module, tokenizer) of a transformers model of `family` with seeded random weights:
    "esm" EsmForMaskedLM, "bert" BertForMaskedLM (ProtBERT), "xlnet" XLNetLMHeadModel
    (ProtXLNet), "t5" T5ForConditionalGeneration (ProtT5; plmscope uses its encoder)."""
    import transformers as tf

    torch.manual_seed(seed)
    if family == "esm":
        from .convert import fair_esm_to_transformers

        fair, _ = random_fair_esm(num_layers, embed_dim, attention_heads, seed, jitter)
        return fair_esm_to_transformers(fair)
    tok = _tokenizer(family)
    V = len(tok)
    if family == "bert":
        cfg = tf.BertConfig(vocab_size=V, hidden_size=embed_dim, num_hidden_layers=num_layers,
                            num_attention_heads=attention_heads, intermediate_size=4 * embed_dim,
                            max_position_embeddings=512, pad_token_id=tok.pad_token_id,
                            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        model = tf.BertForMaskedLM(cfg)
    elif family == "xlnet":
        cfg = tf.XLNetConfig(vocab_size=V, d_model=embed_dim, n_layer=num_layers,
                             n_head=attention_heads, d_inner=4 * embed_dim, dropout=0.0,
                             pad_token_id=tok.pad_token_id)
        model = tf.XLNetLMHeadModel(cfg)
    else:
        cfg = tf.T5Config(vocab_size=V, d_model=embed_dim, d_kv=embed_dim // attention_heads,
                          d_ff=4 * embed_dim, num_layers=num_layers, num_heads=attention_heads,
                          feed_forward_proj="relu", dropout_rate=0.0,
                          pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                          decoder_start_token_id=tok.pad_token_id)
        model = tf.T5ForConditionalGeneration(cfg)
    if jitter:
        _jitter(model, seed, jitter)
    return model.eval(), tok


def save_random_model(family: str, path, *, backend: str = "transformers", num_layers: int = 2,
                      embed_dim: int = 32, attention_heads: int = 4, seed: int = 0,
                      jitter: float = 0.1) -> Path:
    """Write a random model of `family` to `path` in its published format and return the
    path: a fair-esm ``.pt`` file (family "esm", backend "fair-esm") or a save_pretrained
    folder with config, weights and the tokenizer files the hub repo has (backend
    "transformers"; ProtXLNet and ProtT5 need sentencepiece and protobuf, as real ones do)."""
    path = Path(path)
    if backend == "fair-esm":
        if family != "esm":
            raise ValueError(f"the fair-esm backend holds ESM models only, got family={family!r}")
        model, _ = random_fair_esm(num_layers, embed_dim, attention_heads, seed, jitter)
        return save_fair_esm(model, path)
    if backend != "transformers":
        raise ValueError(f"backend must be 'fair-esm' or 'transformers', got {backend!r}")
    from .loading import _quiet_transformers

    model, tok = random_transformers(family, num_layers, embed_dim, attention_heads, seed, jitter)
    with _quiet_transformers():
        model.save_pretrained(path)
        if family == "esm":
            tok.save_pretrained(path)
        else:
            _write_rostlab_tokenizer(family, path)
    return path


__all__ = [
    "FAMILIES",
    "STANDARD",
    "random_fair_esm",
    "random_transformers",
    "save_fair_esm",
    "save_random_model",
]
