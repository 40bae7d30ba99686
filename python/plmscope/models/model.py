"""One loaded protein language model behind one interface, whatever its backend."""
from __future__ import annotations

import contextlib
import numbers

import numpy as np
import torch

from .registry import FAIR_ESM, TRANSFORMERS
from .tokens import TokenBatch, Tokenization

_DTYPES = {
    "float32": torch.float32, "fp32": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
}


_AUTOCAST = ("bf16-autocast", "autocast-bfloat16")


def resolve_device(device) -> torch.device:
    """None -> cuda when available, else cpu; otherwise a checked torch.device."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device; use 'cpu', 'cuda' or "
                         "'cuda:N'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} asks for CUDA but torch sees no GPU; use device='cpu'")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r}: plmscope runs models on 'cpu' or 'cuda'")
    return dev


def resolve_dtype(dtype, device: torch.device) -> tuple[torch.dtype, torch.dtype | None]:
    """(weight dtype, autocast dtype or None) for a user's dtype choice.

    None is the fast default: float32 on the CPU; on a GPU float32 weights under bf16 autocast
    (fp16 where the GPU has no bf16), which keeps layer norms and softmax in float32. An
    explicit dtype is used as is, without autocast. "bf16-autocast" asks for float32 weights
    under bf16 autocast on any device: on a CPU with AVX512-BF16 or AMX about twice as fast
    as float32, with scores that differ at the bf16 level (so not the CPU's default).
    """
    if isinstance(dtype, str) and dtype.lower() in _AUTOCAST:
        return torch.float32, torch.bfloat16
    if dtype is None:
        if device.type == "cuda":
            half = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            return torch.float32, half
        return torch.float32, None
    if isinstance(dtype, torch.dtype):
        if dtype not in (torch.float32, torch.bfloat16, torch.float16, torch.float64):
            raise ValueError(f"dtype={dtype} is not a floating dtype a model can run in")
        return dtype, None
    if isinstance(dtype, str) and dtype.lower() in _DTYPES:
        return _DTYPES[dtype.lower()], None
    if isinstance(dtype, str) and dtype.lower() in ("float64", "double"):
        return torch.float64, None
    raise ValueError(
        f"dtype={dtype!r} is not understood; use None (automatic), 'float32', 'bfloat16', "
        "'float16' or 'bf16-autocast' (or a torch dtype)"
    )


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


class ProteinModel:
    """A protein language model ready for inference.

    Attributes
    ----------
    name : str
        Stable id of the weights, used as the cache key (a known name, or for local
        checkpoints the file/folder name plus a digest of its contents).
    source : str or None
        What :func:`plmscope.models.load` was given (absolute for local paths); None for a
        model wrapped from memory.
    family : str
        Tokenisation family: "esm", "bert", "xlnet" or "t5".
    backend : str
        "fair-esm" or "transformers".
    device : torch.device
    dtype : torch.dtype
        Dtype of the weights.
    autocast : torch.dtype or None
        Autocast dtype used on the GPU (None: no autocast).
    embed_dim, num_layers : int
    max_length : int or None
        Most residues one sequence may have (None: no limit from the architecture).
    has_lm_head : bool
        Whether the model has a trained masked-LM head (needed by the scorers).
    tokenization : Tokenization
    module : torch.nn.Module
    """

    def __init__(self, *, module, tokenization: Tokenization, name: str, source, family: str,
                 backend: str, device: torch.device, dtype: torch.dtype, autocast,
                 embed_dim: int, num_layers: int, max_length, has_lm_head: bool,
                 load_dtype=None):
        self.module = module
        self.tokenization = tokenization
        self.name = name
        self.source = source
        self.family = family
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.autocast = autocast
        self.embed_dim = int(embed_dim)
        self.num_layers = int(num_layers)
        self.max_length = max_length
        self.has_lm_head = bool(has_lm_head)
        self.load_dtype = load_dtype  # the dtype argument given to load(), for OracleSpec
        self.batch_cap: int | None = None  # largest batch that fit after an out-of-memory
        self._fast = None  # esm_forward.ESM2Forward; False where it does not apply; None: unbuilt

    def __repr__(self) -> str:
        return (f"ProteinModel({self.name!r}, backend={self.backend!r}, family={self.family!r}, "
                f"device={self.device}, precision={self.precision!r}, layers={self.num_layers}, "
                f"dim={self.embed_dim})")

    @property
    def precision(self) -> str:
        """Numerical precision of the forward pass, part of the score cache key."""
        if self.autocast is not None:
            return f"{dtype_name(self.dtype)}+autocast-{dtype_name(self.autocast)}"
        return dtype_name(self.dtype)

    @property
    def vocab_size(self) -> int:
        if self.backend == FAIR_ESM:
            return int(self.module.alphabet_size)
        return int(self.module.config.vocab_size)

    # -- tokenisation -----------------------------------------------------------------------
    def tokenize(self, sequences) -> TokenBatch:
        """Token ids of a batch of sequences on the model's device."""
        return self.tokenization.encode(sequences, self.device, self.max_length)

    def residue_ids(self, sequence: str) -> np.ndarray:
        return self.tokenization.residue_ids(sequence)

    def check_length(self, length: int, what: str = "the sequence") -> None:
        if self.max_length is not None and length > self.max_length:
            raise ValueError(
                f"{what} has {length} residues but {self.name} reads at most {self.max_length}; "
                "split it into windows of at most that length"
            )

    # -- forward passes ---------------------------------------------------------------------
    def inference(self):
        """inference_mode plus autocast where the model uses it."""
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        if self.autocast is not None:
            stack.enter_context(torch.autocast(self.device.type, dtype=self.autocast))
        return stack

    def logits(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, V) masked-LM logits, float32 (float64 for a float64 model). Call inside
        :meth:`inference`."""
        self.require_lm_head()
        fast = self._fast_forward()
        if fast is not None:
            with torch.autocast("cpu", enabled=False):  # the pass sets its own precisions
                return fast.logits(ids)
        if self.backend == FAIR_ESM:
            out = self.module(ids)["logits"]
        else:
            out = self.module(input_ids=ids, attention_mask=self._mask(attention_mask)).logits
        return out if out.dtype == torch.float64 else out.float()

    def _fast_forward(self):
        """The leaner ESM2 pass of :mod:`.esm_forward` where it computes this model's logits:
        ESM2 (fair-esm, or transformers' EsmForMaskedLM) with float32 weights on the CPU
        (bfloat16 matrix products under ``dtype="bf16-autocast"``); None elsewhere (GPUs keep
        the module's own forward)."""
        if self._fast is None:
            from . import esm_forward

            tok = self.tokenization
            usable = (self.device.type == "cpu" and self.dtype == torch.float32
                      and self.autocast in (None, torch.bfloat16) and self.has_lm_head
                      and esm_forward.supports(self.module))
            compute = torch.float32 if self.autocast is None else torch.bfloat16
            fast = esm_forward.ESM2Forward(self.module, compute) if usable else None
            # it reads padding and masks from token ids, so they must be the tokenizer's
            if fast is not None and (fast.parts.padding_idx != tok.pad_id
                                     or fast.parts.mask_idx != tok.mask_id):
                fast = None
            self._fast = fast or False
        return self._fast or None

    def require_lm_head(self) -> None:
        if not self.has_lm_head:
            raise ValueError(
                f"{self.name} ({self.family}) has no masked-LM head, so it cannot score variants; "
                "the scorers need ESM2 or ProtBERT (use this model for embeddings instead)"
            )

    def hidden(self, ids: torch.Tensor, attention_mask: torch.Tensor | None,
               layer: int) -> torch.Tensor:
        """(B, T, D) hidden states after `layer` (0 = token embeddings, num_layers = final
        representation: after ESM's final layer norm). Call inside :meth:`inference`."""
        if self.backend == FAIR_ESM:
            return self.module(ids, repr_layers=[layer])["representations"][layer]
        base = self.module.base_model
        last = layer == self.num_layers
        kwargs = {"input_ids": ids, "attention_mask": self._mask(attention_mask)}
        if self.family == "xlnet":
            kwargs["use_mems"] = False
        out = base(output_hidden_states=not last, **kwargs)
        return out.last_hidden_state if last else out.hidden_states[layer]

    def check_layer(self, layer) -> int:
        """A layer index in [-(num_layers+1), num_layers] as a non-negative one."""
        if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, numbers.Integral):
            raise ValueError(f"layer must be an integer, got {layer!r}")
        L = self.num_layers
        if not -(L + 1) <= layer <= L:
            raise ValueError(
                f"layer={layer} is outside [-{L + 1}, {L}] for {self.name} ({L} layers; 0 is the "
                "token embedding, -1 the last layer)"
            )
        return int(layer) % (L + 1)

    @staticmethod
    def _mask(attention_mask):
        return None if attention_mask is None else attention_mask.long()


def oom_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean 'the batch did not fit in memory'."""
    errs: list[type[BaseException]] = [MemoryError]
    if hasattr(torch, "OutOfMemoryError"):
        errs.append(torch.OutOfMemoryError)
    return tuple(errs)


__all__ = ["FAIR_ESM", "TRANSFORMERS", "ProteinModel", "resolve_device", "resolve_dtype"]
