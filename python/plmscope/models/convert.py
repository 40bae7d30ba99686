"""fair-esm ESM2 weights as a transformers ``EsmForMaskedLM``, parameter for parameter.

transformers 5 no longer ships its ESM conversion script, so the mapping lives here. It is
used to run fair-esm checkpoints on the transformers backend (SDPA attention) and by the
tests that check both backends give the same logits for the same weights.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch

# fair-esm module path inside one layer -> transformers module path inside EsmLayer
_LAYER_MAP = {
    "self_attn.q_proj": "attention.self.query",
    "self_attn.k_proj": "attention.self.key",
    "self_attn.v_proj": "attention.self.value",
    "self_attn.out_proj": "attention.output.dense",
    "self_attn_layer_norm": "attention.LayerNorm",
    "final_layer_norm": "LayerNorm",
    "fc1": "intermediate.dense",
    "fc2": "output.dense",
}


def esm_config(fair_model):
    """The transformers ``EsmConfig`` of a fair-esm ``ESM2`` module."""
    from transformers import EsmConfig

    alphabet = fair_model.alphabet
    return EsmConfig(
        vocab_size=len(alphabet.all_toks),
        hidden_size=fair_model.embed_dim,
        num_hidden_layers=fair_model.num_layers,
        num_attention_heads=fair_model.attention_heads,
        intermediate_size=4 * fair_model.embed_dim,
        max_position_embeddings=1026,
        layer_norm_eps=1e-5,  # fair-esm's ESM1bLayerNorm
        position_embedding_type="rotary",
        token_dropout=bool(fair_model.token_dropout),
        emb_layer_norm_before=False,
        pad_token_id=alphabet.padding_idx,
        mask_token_id=alphabet.mask_idx,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        hidden_act="gelu",
    )


def esm_state_dict(fair_model) -> dict[str, torch.Tensor]:
    """fair-esm ESM2 state dict renamed to transformers ``EsmForMaskedLM`` keys."""
    out = {}
    for key, value in fair_model.state_dict().items():
        if key.startswith("layers."):
            _, i, rest = key.split(".", 2)
            module, param = rest.rsplit(".", 1)
            if module == "self_attn.rot_emb":  # inv_freq: transformers recomputes it
                continue
            out[f"esm.encoder.layer.{i}.{_LAYER_MAP[module]}.{param}"] = value
        elif key == "embed_tokens.weight":
            out["esm.embeddings.word_embeddings.weight"] = value
        elif key.startswith("emb_layer_norm_after."):
            out["esm.encoder." + key] = value
        elif key == "lm_head.weight":
            out["lm_head.decoder.weight"] = value
        elif key.startswith("lm_head."):
            out[key] = value
        elif key.startswith("contact_head."):
            out["esm." + key] = value
        else:
            raise ValueError(f"fair-esm parameter {key!r} has no transformers counterpart")
    return out


def esm_tokenizer(alphabet):
    """A transformers ``EsmTokenizer`` with the fair-esm alphabet's vocabulary."""
    from transformers import EsmTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        vocab = Path(tmp) / "vocab.txt"
        vocab.write_text("\n".join(alphabet.all_toks) + "\n")
        return EsmTokenizer(vocab_file=str(vocab))


def fair_esm_to_transformers(fair_model):
    """(EsmForMaskedLM, EsmTokenizer) holding exactly the weights of a fair-esm ESM2 module."""
    from transformers import EsmForMaskedLM

    if type(fair_model).__name__ != "ESM2":
        raise ValueError(f"only fair-esm ESM2 modules convert, got {type(fair_model).__name__}")
    hf = EsmForMaskedLM(esm_config(fair_model))
    state = esm_state_dict(fair_model)
    missing, unexpected = hf.load_state_dict(state, strict=False)
    # rotary inv_freq is a recomputed buffer; the contact head may be absent from fair-esm
    missing = [k for k in missing if not k.endswith("rotary_embeddings.inv_freq")]
    if missing or unexpected:
        raise ValueError(f"ESM2 conversion left missing={missing} unexpected={unexpected}")
    hf.tie_weights()
    hf = hf.to(dtype=next(fair_model.parameters()).dtype).eval()
    return hf, esm_tokenizer(fair_model.alphabet)
