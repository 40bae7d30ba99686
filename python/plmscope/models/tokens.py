"""Tokenisation rules per model family, applied with one table lookup per residue.

Each family puts special tokens around the residues (ESM: ``<cls> ... <eos>``; ProtBERT:
``[CLS] ... [SEP]``; ProtXLNet: ``... <sep> <cls>`` padded on the left; ProtT5: ``... </s>``)
and has a policy for non-standard residues: ESM has tokens of its own for X, B, U, Z and O;
the Rostlab models (ProtBERT, ProtXLNet, ProtT5) map U, Z, O and B to X, as their model cards
say. Anything else is rejected with its position. A :class:`Tokenization` is derived once
from the model's real tokenizer (or fair-esm alphabet), so the ids are the tokenizer's own;
the tests check it against the tokenizer on padded batches.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

STANDARD = "ACDEFGHIKLMNPQRSTVWY"
ESM_EXTRA = "XBUZO"
ROSTLAB_TO_X = "UZOB"


@dataclass(frozen=True)
class TokenBatch:
    """Token ids of a batch of sequences, padded to one width.

    ``ids`` (B, T) int64; ``attention_mask`` (B, T) bool or None when nothing is padded;
    ``starts`` (B,) token index of each sequence's first residue; ``lengths`` (B,) residues.
    """

    ids: torch.Tensor
    attention_mask: torch.Tensor | None
    starts: np.ndarray
    lengths: np.ndarray

    def residue_mask(self) -> torch.Tensor:
        """(B, T) bool: True at residue tokens (not special, not padding)."""
        T = self.ids.shape[1]
        pos = torch.arange(T, device=self.ids.device)[None, :]
        starts = torch.as_tensor(self.starts, device=self.ids.device)[:, None]
        ends = starts + torch.as_tensor(self.lengths, device=self.ids.device)[:, None]
        return (pos >= starts) & (pos < ends)


@dataclass(frozen=True)
class Tokenization:
    """How one model family turns a protein sequence into token ids."""

    lookup: np.ndarray  # (256,) int64: ASCII code -> token id, -1 where not allowed
    prefix: tuple[int, ...]
    suffix: tuple[int, ...]
    pad_id: int
    mask_id: int | None
    cls_index: int | None  # index of the CLS token in prefix + [residues] + suffix; <0 from end
    padding_side: str  # "right" or "left"
    policy: str  # how non-standard residues are handled, for error messages

    @property
    def specials(self) -> int:
        return len(self.prefix) + len(self.suffix)

    def token_id(self, residue: str) -> int:
        """Token id of one residue letter (after this family's mapping)."""
        single = len(residue) == 1 and residue.isascii()
        tid = int(self.lookup[ord(residue.upper())]) if single else -1
        if tid < 0:
            raise ValueError(f"residue {residue!r} has no token in this model ({self.policy})")
        return tid

    def residue_ids(self, sequence: str, index: int = 0) -> np.ndarray:
        """Token ids of the residues of one sequence (no special tokens)."""
        if not isinstance(sequence, str):
            raise ValueError(f"sequences[{index}] must be a string, got {type(sequence).__name__}")
        raw = sequence.upper().encode("ascii", errors="replace")
        ids = self.lookup[np.frombuffer(raw, dtype=np.uint8)]
        bad = np.flatnonzero(ids < 0)
        if bad.size:
            p = int(bad[0])
            raise ValueError(
                f"sequences[{index}] has {sequence[p]!r} at residue {p + 1}, which this model "
                f"cannot read ({self.policy}); remove or replace it"
            )
        return ids

    def encode(self, sequences, device="cpu", max_length: int | None = None) -> TokenBatch:
        """Pad and tokenise a batch of sequences the way the family's tokenizer does."""
        rows = [self.residue_ids(s, i) for i, s in enumerate(sequences)]
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        for i, n in enumerate(lengths):
            if n == 0:
                raise ValueError(f"sequences[{i}] is empty; every sequence needs residues")
            if max_length is not None and n > max_length:
                raise ValueError(
                    f"sequences[{i}] has {n} residues but the model reads at most {max_length}; "
                    "split it into windows of at most that length"
                )
        width = int(lengths.max(initial=0)) + self.specials
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        pre, suf = np.asarray(self.prefix, np.int64), np.asarray(self.suffix, np.int64)
        starts = np.empty(len(rows), dtype=np.int64)
        for i, r in enumerate(rows):
            total = len(r) + self.specials
            begin = width - total if self.padding_side == "left" else 0
            ids[i, begin:begin + len(pre)] = pre
            starts[i] = begin + len(pre)
            ids[i, starts[i]:starts[i] + len(r)] = r
            ids[i, starts[i] + len(r):begin + total] = suf
        padded = bool((lengths != lengths.max(initial=0)).any())
        ids_t = torch.from_numpy(ids).to(device)
        mask = None
        if padded:
            m = np.zeros_like(ids, dtype=bool)
            for i, n in enumerate(lengths):
                begin = width - (n + self.specials) if self.padding_side == "left" else 0
                m[i, begin:begin + n + self.specials] = True
            mask = torch.from_numpy(m).to(device)
        return TokenBatch(ids_t, mask, starts, lengths)

    def cls_positions(self, batch: TokenBatch) -> np.ndarray:
        """(B,) token index of each row's CLS token."""
        if self.cls_index is None:
            raise ValueError("pooling='cls' needs a CLS token, which this model family has not; "
                             "use pooling='mean'")
        if self.cls_index >= 0:
            return batch.starts - len(self.prefix) + self.cls_index
        return batch.starts + batch.lengths + len(self.suffix) + self.cls_index


def _lookup(table: dict[str, int]) -> np.ndarray:
    lookup = np.full(256, -1, dtype=np.int64)
    for letter, tid in table.items():
        lookup[ord(letter)] = tid
    return lookup


def from_esm_alphabet(alphabet) -> Tokenization:
    """The tokenisation of a fair-esm ``Alphabet`` (ESM-1b/ESM2: <cls> residues <eos>)."""
    table = {c: alphabet.get_idx(c) for c in STANDARD + ESM_EXTRA}
    prefix = (alphabet.cls_idx,) if alphabet.prepend_bos else ()
    suffix = (alphabet.eos_idx,) if alphabet.append_eos else ()
    return Tokenization(
        lookup=_lookup(table), prefix=prefix, suffix=suffix, pad_id=alphabet.padding_idx,
        mask_id=alphabet.mask_idx, cls_index=0 if prefix else None, padding_side="right",
        policy=f"ESM reads {STANDARD} and {ESM_EXTRA}",
    )


def from_tokenizer(tokenizer, family: str) -> Tokenization:
    """The tokenisation of a transformers tokenizer, derived by asking the tokenizer itself.

    Every residue letter is tokenised alone and must give one known token; the special tokens
    around a sequence are read off the tokenizer's own output for a two-residue input.
    """
    rostlab = family in ("bert", "xlnet", "t5")
    letters = STANDARD + ("X" if rostlab else ESM_EXTRA)
    unk = tokenizer.unk_token_id
    table: dict[str, int] = {}
    for c in letters:
        ids = tokenizer(c, add_special_tokens=False)["input_ids"]
        if len(ids) != 1 or ids[0] == unk:
            raise ValueError(
                f"the tokenizer of this {family} model turns residue {c!r} into {ids} (unknown "
                "token or several tokens); its vocabulary does not hold single residues. If you "
                "built the tokenizer by hand with transformers >= 5, pass vocab= (not vocab_file=)"
            )
        table[c] = int(ids[0])
    if rostlab:
        for c in ROSTLAB_TO_X:
            table[c] = table["X"]
    a, g = table["A"], table["G"]
    sep = " " if rostlab else ""
    full = list(tokenizer(f"A{sep}G", add_special_tokens=True)["input_ids"])
    try:
        i = full.index(a)
    except ValueError:
        raise ValueError(f"the {family} tokenizer drops residues when adding special "
                         f"tokens: {full}") from None
    if full[i:i + 2] != [a, g]:
        raise ValueError(f"the {family} tokenizer does not keep one token per residue: {full}")
    prefix, suffix = tuple(full[:i]), tuple(full[i + 2:])
    cls_id = getattr(tokenizer, "cls_token_id", None)
    cls_index = None
    if cls_id is not None and cls_id in prefix:
        cls_index = prefix.index(cls_id)
    elif cls_id is not None and cls_id in suffix:
        cls_index = suffix.index(cls_id) - len(suffix)
    pad = tokenizer.pad_token_id
    if pad is None:
        raise ValueError(f"the {family} tokenizer has no padding token")
    policy = (f"{family} reads {STANDARD} and X; U, Z, O and B are read as X" if rostlab
              else f"{family} reads {STANDARD} and {ESM_EXTRA}")
    return Tokenization(
        lookup=_lookup(table), prefix=prefix, suffix=suffix, pad_id=int(pad),
        mask_id=getattr(tokenizer, "mask_token_id", None), cls_index=cls_index,
        padding_side=getattr(tokenizer, "padding_side", "right"), policy=policy,
    )
