"""``load``: a protein language model by name or local path, on the device asked for."""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import pickle
import socket
import urllib.error
import urllib.parse
import warnings
from pathlib import Path

import torch

from .model import ProteinModel, resolve_device, resolve_dtype
from .registry import (
    BACKENDS,
    ESM_MAX_RESIDUES,
    FAIR_ESM,
    LOCAL_HINT,
    TRANSFORMERS,
    known_model,
    known_names,
)
from .tokens import from_esm_alphabet, from_tokenizer

_FAIR_ESM_URL = "https://dl.fbaipublicfiles.com/fair-esm"
_HEAD_PREFIXES = ("lm_head.", "cls.")
_SAMPLE_CHUNKS, _CHUNK = 256, 1 << 16


class ModelUnavailableError(ValueError):
    """A model name that is unknown, or known but whose weights cannot be fetched here."""


def offline() -> bool:
    """HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE semantics, read when a model is loaded."""
    truthy = {"1", "true", "yes", "on"}
    if any(os.environ.get(v, "").strip().lower() in truthy
           for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except (ImportError, AttributeError):
        return False


_PROBE_TIMEOUT_S = 3.0


def reachable(url: str, timeout: float = _PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the host of `url` opens within `timeout` seconds.

    Asked before any download: without a network the hub clients retry for ~30 s before
    failing, while a refused or unresolvable host answers this at once."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def hub_endpoint() -> str:
    """The Hugging Face endpoint transformers downloads from (HF_ENDPOINT honoured)."""
    try:
        from huggingface_hub import constants

        return str(constants.ENDPOINT)
    except (ImportError, AttributeError):
        return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def _unavailable(name: str, reason: str) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"cannot load model {name!r}: {reason}\nKnown models:\n{known_names()}\n{LOCAL_HINT}"
    )


def content_digest(files) -> str:
    """Short digest of checkpoint files: sizes plus the full bytes of small files, or 256
    evenly spaced 64 KiB samples of large ones (different weights differ everywhere; reading
    all of a 60 GB checkpoint to name it would cost a minute)."""
    h = hashlib.blake2b(digest_size=8)
    for f in sorted(Path(p) for p in files):
        size = f.stat().st_size
        h.update(f"{f.name}:{size};".encode())
        with open(f, "rb") as fh:
            if size <= _SAMPLE_CHUNKS * _CHUNK:
                h.update(fh.read())
            else:
                step = (size - _CHUNK) // (_SAMPLE_CHUNKS - 1)
                for k in range(_SAMPLE_CHUNKS):
                    fh.seek(k * step)
                    h.update(fh.read(_CHUNK))
    return h.hexdigest()


# -- fair-esm -------------------------------------------------------------------------------
def _read_checkpoint(path: Path) -> dict:
    """torch.load with weights_only, allowing the argparse.Namespace that fair-esm's
    checkpoints store their config in.

    Every file is read this way, whatever its name: a file named like a published checkpoint
    (``esm2_t33_650M_UR50D.pt``) or its ``-contact-regression.pt`` is as untrusted as any
    other, and unpickling anything more than tensors and a Namespace can run arbitrary code.
    """
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Unsupported global" in text:
            found = text[text.index("Unsupported global"):].split(" was not")[0]
            raise ValueError(
                f"{path} holds Python objects other than tensors and an argparse.Namespace "
                f"({found}), which plmscope does not unpickle (torch.load weights_only=True) "
                "because unpickling them can run arbitrary code; a fair-esm ESM2 checkpoint "
                "holds only tensors and its Namespace config: re-save the file with "
                "torch.save({'model': state_dict, 'cfg': plain_dict}) from code you trust"
            ) from exc
        raise ValueError(f"{path} is not a readable torch checkpoint (unpickling failed)") from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f"{path} is not a readable torch checkpoint: {exc}") from exc


def _fair_esm_from_file(path: Path):
    """(ESM2 module, alphabet) from a fair-esm checkpoint file (+ optional regression file)."""
    import esm

    data = _read_checkpoint(path)
    if not isinstance(data, dict) or "model" not in data or "cfg" not in data:
        raise ValueError(
            f"{path} is not a fair-esm ESM2 checkpoint (expected keys 'model' and 'cfg', got "
            f"{sorted(data) if isinstance(data, dict) else type(data).__name__}); only ESM2 "
            "checkpoints are read by the fair-esm backend"
        )
    regression_file = Path(str(path.with_suffix("")) + "-contact-regression.pt")
    regression = _read_checkpoint(regression_file) if regression_file.exists() else None
    with warnings.catch_warnings():
        # plmscope does not predict contacts, so a missing contact regression is harmless
        warnings.filterwarnings("ignore", message="Regression weights not found")
        # any name starting with "esm2" selects fair-esm's ESM2 (v2 checkpoint) reader
        model, alphabet = esm.pretrained.load_model_and_alphabet_core("esm2_local", data,
                                                                      regression)
    return model, alphabet


def _fair_esm_hub_file(name: str) -> Path:
    """The torch-hub cache path of a known fair-esm checkpoint, downloading it if needed."""
    ckpt_dir = Path(torch.hub.get_dir()) / "checkpoints"
    path = ckpt_dir / f"{name}.pt"
    if path.exists():
        return path
    if offline():
        raise _unavailable(name, f"it is not in the torch hub cache ({path}) and HF_HUB_OFFLINE "
                                 "is set, so it was not downloaded")
    if not reachable(_FAIR_ESM_URL):
        raise _unavailable(name, f"it is not in the torch hub cache ({path}) and "
                                 f"{_FAIR_ESM_URL} cannot be reached from here (no network?)")
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    try:
        for fname in (f"{name}.pt", f"{name}-contact-regression.pt"):
            sub = "models" if fname == f"{name}.pt" else "regression"
            torch.hub.download_url_to_file(f"{_FAIR_ESM_URL}/{sub}/{fname}", str(ckpt_dir / fname),
                                           progress=True)
    except (urllib.error.URLError, OSError) as exc:
        raise _unavailable(name, f"downloading it from {_FAIR_ESM_URL} failed ({exc})") from exc
    return path


def _wrap_fair_esm(module, alphabet, *, name, source, device, dtype) -> ProteinModel:
    weight_dtype, autocast = resolve_dtype(dtype, device)
    module = module.to(device=device, dtype=weight_dtype).eval()
    return ProteinModel(
        module=module, tokenization=from_esm_alphabet(alphabet), name=name, source=source,
        family="esm", backend=FAIR_ESM, device=device, dtype=weight_dtype, autocast=autocast,
        embed_dim=module.embed_dim, num_layers=module.num_layers, max_length=ESM_MAX_RESIDUES,
        has_lm_head=True, load_dtype=dtype,
    )


# -- transformers ---------------------------------------------------------------------------
_CLASSES = {"esm": "EsmForMaskedLM", "bert": "BertForMaskedLM", "xlnet": "XLNetModel",
            "t5": "T5EncoderModel"}


def _hf_dims(config) -> tuple[int, int]:
    for dim, layers in (("hidden_size", "num_hidden_layers"), ("d_model", "n_layer"),
                        ("d_model", "num_layers")):
        if hasattr(config, dim) and hasattr(config, layers):
            return int(getattr(config, dim)), int(getattr(config, layers))
    raise ValueError(f"cannot read the width and depth of {type(config).__name__}")


def _hf_max_length(family: str, config, tokenization) -> int | None:
    if family == "esm":
        return ESM_MAX_RESIDUES
    if family == "bert":
        return int(config.max_position_embeddings) - tokenization.specials
    return None  # XLNet and T5 use relative positions: no architectural limit


def _wrap_transformers(module, tokenizer, *, name, source, device, dtype, has_lm_head=True,
                       weight_dtype=None, autocast=None) -> ProteinModel:
    family = module.config.model_type
    if family not in _CLASSES:
        raise ValueError(
            f"{name}: transformers model type {family!r} is not supported; plmscope reads "
            f"{', '.join(_CLASSES)} (ESM, ProtBERT, ProtXLNet, ProtT5)"
        )
    if weight_dtype is None:
        weight_dtype, autocast = resolve_dtype(dtype, device)
        module = module.to(device=device, dtype=weight_dtype)
    tokenization = from_tokenizer(tokenizer, family)
    dim, layers = _hf_dims(module.config)
    return ProteinModel(
        module=module.eval(), tokenization=tokenization, name=name, source=source, family=family,
        backend=TRANSFORMERS, device=device, dtype=weight_dtype, autocast=autocast,
        embed_dim=dim, num_layers=layers,
        max_length=_hf_max_length(family, module.config, tokenization),
        has_lm_head=has_lm_head and family in ("esm", "bert"), load_dtype=dtype,
    )


@contextlib.contextmanager
def _quiet_transformers():
    """Silence transformers' weight-loading bars and load reports (e.g. ProtXLNet's unused
    LM-head bias, ProtT5's unused decoder) for the duration of one load."""
    from transformers.utils import logging as tf_logging

    verbosity = tf_logging.get_verbosity()
    bars = tf_logging.is_progress_bar_enabled()
    tf_logging.set_verbosity_error()
    tf_logging.disable_progress_bar()
    try:
        yield
    finally:
        tf_logging.set_verbosity(verbosity)
        if bars:
            tf_logging.enable_progress_bar()


def _load_transformers(src: str, *, name, source, device, dtype, display: str) -> ProteinModel:
    import transformers

    local_only = offline()
    why_local = "HF_HUB_OFFLINE is set and it is not in the Hugging Face cache"
    if not local_only and not Path(src).is_dir() and not reachable(hub_endpoint()):
        # no network: read the cache only, so a cached model still loads and any other
        # fails at once instead of after the hub client's retries
        local_only = True
        why_local = (f"it is not in the Hugging Face cache and {hub_endpoint()} cannot be "
                     "reached from here (no network?)")
    try:
        config = transformers.AutoConfig.from_pretrained(src, local_files_only=local_only)
    except OSError as exc:
        why = why_local if local_only else \
            f"the Hugging Face hub could not provide it ({str(exc).splitlines()[0]})"
        raise _unavailable(display, why) from exc
    family = config.model_type
    if family not in _CLASSES:
        raise ValueError(
            f"{display}: transformers model type {family!r} is not supported; plmscope reads "
            f"{', '.join(_CLASSES)} (ESM, ProtBERT, ProtXLNet, ProtT5)"
        )
    cls = getattr(transformers, _CLASSES[family])
    weight_dtype, autocast = resolve_dtype(dtype, device)
    kwargs = {"local_files_only": local_only, "dtype": weight_dtype, "output_loading_info": True}
    if getattr(cls, "_supports_sdpa", False):
        kwargs["attn_implementation"] = "sdpa"
    try:
        with _quiet_transformers():
            module, info = cls.from_pretrained(src, **kwargs)
            tokenizer = transformers.AutoTokenizer.from_pretrained(src, local_files_only=local_only)
    except OSError as exc:
        why = f"its files could not be read ({str(exc).splitlines()[0]})"
        raise _unavailable(display, why) from exc
    has_head = not any(k.startswith(_HEAD_PREFIXES) for k in info.get("missing_keys", ()))
    module = module.to(device)
    return _wrap_transformers(module, tokenizer, name=name, source=source, device=device,
                              dtype=dtype, has_lm_head=has_head, weight_dtype=weight_dtype,
                              autocast=autocast)


# -- the public entry point -----------------------------------------------------------------
def load(name_or_path, backend: str | None = None, device=None, dtype=None) -> ProteinModel:
    """Load a protein language model for scoring and embedding.

    Parameters
    ----------
    name_or_path : str or path
        A known name (``esm2_t33_650M_UR50D``, ``facebook/esm2_t33_650M_UR50D``,
        ``Rostlab/prot_bert``, ...; see ``plmscope.models.KNOWN_MODELS``), another Hugging
        Face hub id, a fair-esm checkpoint file (``*.pt``), or a folder written by
        transformers' ``save_pretrained``.
    backend : "fair-esm", "transformers" or None
        None picks fair-esm for fair-esm names and ``.pt`` files, transformers otherwise.
        ``backend="transformers"`` with a fair-esm checkpoint converts it (SDPA attention).
    device : "cpu", "cuda", "cuda:N" or None (cuda when available)
    dtype : None, "float32", "bfloat16", "float16", "bf16-autocast"
        None: float32 on the CPU, bf16 autocast over float32 weights on a GPU.
        "bf16-autocast": float32 weights under bf16 autocast on any device (on a CPU with
        AVX512-BF16 or AMX about twice as fast as float32; scores differ at the bf16 level).

    Weights are fetched from the hub only when not cached and HF_HUB_OFFLINE is not set;
    otherwise, or when that fails, a ``ModelUnavailableError`` (a ValueError) lists the known
    names and how to pass a local checkpoint.
    """
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None, got {backend!r}")
    if not isinstance(name_or_path, (str, os.PathLike)) or not str(name_or_path).strip():
        raise ValueError(f"name_or_path must be a model name or a path, got {name_or_path!r}")
    dev = resolve_device(device)
    resolve_dtype(dtype, dev)  # fail on a bad dtype before any loading
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.exists():
        return _load_local(path.resolve(), backend, dev, dtype)
    known = known_model(text)
    if known is not None:
        use = backend or (FAIR_ESM if text == known.fair_esm_name else TRANSFORMERS)
        if use == FAIR_ESM:
            if known.fair_esm_name is None:
                raise ValueError(f"{text} is not a fair-esm model; use backend='transformers'")
            ckpt = _fair_esm_hub_file(known.fair_esm_name)
            module, alphabet = _fair_esm_from_file(ckpt)
            return _wrap_fair_esm(module, alphabet, name=known.fair_esm_name, source=text,
                                  device=dev, dtype=dtype)
        if known.hub_id is None:
            raise ValueError(f"{text} has no transformers weights; use backend='fair-esm'")
        return _load_transformers(known.hub_id, name=known.hub_id, source=text, device=dev,
                                  dtype=dtype, display=text)
    hub_like = text.count("/") == 1 and not text.startswith(("/", ".", "~")) \
        and not text.endswith(".pt")
    if not hub_like and (text.endswith(".pt") or "/" in text or os.sep in text):
        raise ValueError(f"no file or folder at {path}. {LOCAL_HINT}")
    if hub_like and backend != FAIR_ESM:
        # not one of ours, but maybe a hub model of a supported type: ask the hub
        return _load_transformers(text, name=text, source=text, device=dev, dtype=dtype,
                                  display=text)
    raise _unavailable(text, "it is neither a known model, a Hugging Face hub id, nor a path")


def _load_local(path: Path, backend, device, dtype) -> ProteinModel:
    if path.is_file():
        module, alphabet = _fair_esm_from_file(path)
        name = f"{path.stem}@{content_digest([path])}"
        if backend == TRANSFORMERS:
            from .convert import fair_esm_to_transformers

            hf, tok = fair_esm_to_transformers(module)
            return _wrap_transformers(hf, tok, name=name, source=str(path), device=device,
                                      dtype=dtype)
        return _wrap_fair_esm(module, alphabet, name=name, source=str(path), device=device,
                              dtype=dtype)
    if backend == FAIR_ESM:
        raise ValueError(f"{path} is a folder; the fair-esm backend reads a .pt checkpoint file")
    if not (path / "config.json").exists():
        raise ValueError(
            f"{path} is a folder without config.json, so not a save_pretrained model folder. "
            f"{LOCAL_HINT}"
        )
    weights = [p for p in path.iterdir() if p.suffix in (".safetensors", ".bin", ".json")
               and p.is_file()]
    name = f"{path.name}@{content_digest(weights)}"
    return _load_transformers(str(path), name=name, source=str(path), device=device,
                              dtype=dtype, display=str(path))


def from_fair_esm(module, alphabet, name: str, device=None, dtype=None) -> ProteinModel:
    """Wrap a fair-esm ESM2 module already in memory (no OracleSpec: it has no source)."""
    return _wrap_fair_esm(module, alphabet, name=name, source=None,
                          device=resolve_device(device), dtype=dtype)


def from_transformers(module, tokenizer, name: str, device=None, dtype=None) -> ProteinModel:
    """Wrap a transformers model and its tokenizer already in memory (EsmForMaskedLM,
    BertForMaskedLM, XLNetModel/XLNetLMHeadModel, T5EncoderModel/T5ForConditionalGeneration)."""
    import transformers

    if isinstance(module, transformers.XLNetLMHeadModel):
        module = module.transformer
    elif isinstance(module, transformers.T5ForConditionalGeneration):
        encoder = transformers.T5EncoderModel(module.config)
        missing, _ = encoder.load_state_dict(module.state_dict(), strict=False)
        if missing:
            raise ValueError(f"{name}: the T5 model lacks encoder weights {missing[:3]}")
        module = encoder.to(next(module.parameters()).dtype)
    return _wrap_transformers(module, tokenizer, name=name, source=None,
                              device=resolve_device(device), dtype=dtype)
