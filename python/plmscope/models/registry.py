"""The protein language models plmscope knows by name, and their architectures.

A known model can be asked for by its fair-esm name (``esm2_t33_650M_UR50D``) or its Hugging
Face hub id (``facebook/esm2_t33_650M_UR50D``); the backend decides which weights are used.
"""
from __future__ import annotations

from dataclasses import dataclass

FAIR_ESM = "fair-esm"
TRANSFORMERS = "transformers"
BACKENDS = (FAIR_ESM, TRANSFORMERS)

# ESM2 was trained on crops of 1024 tokens: <cls> + 1022 residues + <eos>.
ESM_MAX_RESIDUES = 1022


@dataclass(frozen=True)
class KnownModel:
    """One published model: where its weights live and the shape of its architecture."""

    family: str  # tokenisation family: "esm", "bert", "xlnet", "t5"
    hub_id: str | None  # Hugging Face hub id (transformers backend)
    fair_esm_name: str | None  # fair-esm hub name (fair-esm backend)
    num_layers: int
    embed_dim: int
    attention_heads: int
    scores: bool  # has a masked-LM head usable by the scorers
    note: str = ""

    @property
    def backends(self) -> tuple[str, ...]:
        pairs = ((FAIR_ESM, self.fair_esm_name), (TRANSFORMERS, self.hub_id))
        return tuple(backend for backend, name in pairs if name)


def _esm2(tag: str, layers: int, dim: int, heads: int) -> KnownModel:
    name = f"esm2_{tag}_UR50D"
    return KnownModel("esm", f"facebook/{name}", name, layers, dim, heads, True)


_MODELS = [
    _esm2("t6_8M", 6, 320, 20),
    _esm2("t12_35M", 12, 480, 20),
    _esm2("t30_150M", 30, 640, 20),
    _esm2("t33_650M", 33, 1280, 20),
    _esm2("t36_3B", 36, 2560, 40),
    _esm2("t48_15B", 48, 5120, 40),
    KnownModel("bert", "Rostlab/prot_bert", None, 30, 1024, 16, True, "ProtBERT (UniRef100)"),
    KnownModel("bert", "Rostlab/prot_bert_bfd", None, 30, 1024, 16, True, "ProtBERT-BFD"),
    KnownModel("xlnet", "Rostlab/prot_xlnet", None, 30, 1024, 16, False,
               "ProtXLNet: permutation LM, embeddings only"),
    KnownModel("t5", "Rostlab/prot_t5_xl_uniref50", None, 24, 1024, 32, False,
               "ProtT5-XL encoder: embeddings only"),
]

#: every accepted name (fair-esm names and hub ids) -> its KnownModel
KNOWN_MODELS: dict[str, KnownModel] = {}
for _m in _MODELS:
    for _name in (_m.fair_esm_name, _m.hub_id):
        if _name:
            KNOWN_MODELS[_name] = _m


def known_model(name: str) -> KnownModel | None:
    return KNOWN_MODELS.get(name)


def known_names() -> str:
    """The known names, one backend per line, for error messages."""
    esm = [m.fair_esm_name for m in _MODELS if m.fair_esm_name]
    hub = [m.hub_id for m in _MODELS if m.hub_id]
    return f"  fair-esm: {', '.join(esm)}\n  transformers: {', '.join(hub)}"


LOCAL_HINT = (
    "To use weights you already have, pass a local path instead of a name: a fair-esm "
    "checkpoint file (e.g. ~/.cache/torch/hub/checkpoints/esm2_t33_650M_UR50D.pt) or a folder "
    "written by transformers' save_pretrained (config.json, the weights and the tokenizer files)."
)
