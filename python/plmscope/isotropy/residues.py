"""Isotropy of per-residue (local) embeddings, over all residues and per amino-acid type."""
from __future__ import annotations

import warnings

import numpy as np

from .. import _device
from .._checks import check_nthreads
from .rows import device_index, place_rows
from .scores import FewPointsWarning, IsotropyAccumulator, isotropic_baseline

ALPHABET = "ACDEFGHIKLMNPQRSTVWY"
OTHER = "other"  # residues outside the alphabet (X, U, B, Z, O, lowercase, ...)
ALL = "all"


class ResidueIsotropy:
    """Streams per-residue embeddings of many proteins into one accumulator for all residues
    and one per amino-acid type (plus ``other`` for letters outside the alphabet).

    Each accumulator holds a d x d float64 scatter, so memory is about 22 d^2 8 bytes
    (180 MB at d = 1024). Rows are buffered per group and handed to the kernels
    ``buffer_rows`` at a time, so short proteins do not pay one kernel call each.

    Embeddings on a GPU (torch CUDA tensors, CuPy arrays) are split into groups, buffered and
    summed on that GPU, and the accumulators' sums live there (``device`` and mixing host and
    GPU proteins as in :class:`~plmscope.isotropy.CovarianceAccumulator`: a group's buffer is
    handed on before rows from elsewhere join it); :meth:`table` downloads each group's sums
    once.
    """

    def __init__(self, alphabet: str = ALPHABET, buffer_rows: int = 4096, nthreads: int = 0,
                 device=None):
        if not alphabet or len(set(alphabet)) != len(alphabet):
            raise ValueError(f"alphabet must be distinct letters, got {alphabet!r}")
        if not isinstance(buffer_rows, int) or buffer_rows < 1:
            raise ValueError(f"buffer_rows must be a positive integer, got {buffer_rows!r}")
        self.alphabet = alphabet
        self.buffer_rows = buffer_rows
        self.nthreads = check_nthreads(nthreads)
        _device.parse_device(device)  # a bad device fails here, not at the first protein
        self.device = device
        self.groups: dict[str, IsotropyAccumulator] = {}
        self._pending: dict[str, list] = {}
        self._pending_rows: dict[str, int] = {}
        self._pending_where: dict[str, tuple | None] = {}  # None: host rows
        self._code = np.full(256, len(alphabet), dtype=np.int64)
        for i, a in enumerate(alphabet):
            self._code[ord(a)] = i
        self.dim: int | None = None
        self.n_proteins = 0

    def add(self, sequence: str, embeddings) -> None:
        """Add one protein: row i of `embeddings` (L, d) is the embedding of sequence[i]."""
        x = place_rows(embeddings, "embeddings", self.device)
        if x.shape[0] != len(sequence):
            raise ValueError(
                f"embeddings has {x.shape[0]} rows but the sequence has {len(sequence)} "
                "residues: pass per-residue embeddings without special tokens"
            )
        if self.dim is None:
            self.dim = x.shape[1]
        elif x.shape[1] != self.dim:
            raise ValueError(f"embeddings has d={x.shape[1]}, earlier proteins had d={self.dim}")
        try:
            raw = np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)
        except UnicodeEncodeError:
            raise ValueError(f"sequence must be ASCII letters, got {sequence[:30]!r}") from None
        codes = self._code[raw]
        gpu = _device.is_device_array(x)
        self._push(ALL, x)
        for c in np.unique(codes):
            name = self.alphabet[c] if c < len(self.alphabet) else OTHER
            self._push(name, _device.take(x, np.flatnonzero(codes == c)) if gpu
                       else x[codes == c])
        self.n_proteins += 1

    def _push(self, name: str, rows) -> None:
        here = (_device.library_of(rows), device_index(rows)) \
            if _device.is_device_array(rows) else None
        if name in self._pending and self._pending_where[name] != here:
            self._flush(name)  # one buffer holds rows of one place, to be concatenated
        self._pending_where[name] = here
        self._pending.setdefault(name, []).append(rows)
        self._pending_rows[name] = self._pending_rows.get(name, 0) + rows.shape[0]
        if self._pending_rows[name] >= self.buffer_rows:
            self._flush(name)

    def _flush(self, name: str) -> None:
        parts = self._pending.pop(name, [])
        self._pending_rows.pop(name, None)
        where = self._pending_where.pop(name, None)
        if not parts:
            return
        acc = self.groups.get(name)
        if acc is None:
            acc = self.groups[name] = IsotropyAccumulator(self.dim, nthreads=self.nthreads,
                                                          device=self.device)
        if len(parts) > 1:
            rows = np.concatenate(parts) if where is None else _device.concatenate(parts)
        else:
            rows = parts[0]
        acc.update(rows, f"residues {name}")

    def flush(self) -> None:
        """Hand every buffered row to the accumulators (done by :meth:`table`)."""
        for name in list(self._pending):
            self._flush(name)

    def table(self):
        """One row per group (``all``, then the alphabet in order, then ``other``):
        residues, n_points, dim, isoscore, participation_ratio, effective_dims,
        isotropic_baseline, mean_cosine, note. Groups too small or constant get NaN scores
        and say why in ``note``."""
        import pandas as pd

        self.flush()
        rows = []
        for name in [ALL, *self.alphabet, OTHER]:
            acc = self.groups.get(name)
            n = acc.n_points if acc is not None else 0
            row = {"residues": name, "n_points": n, "dim": self.dim, "isoscore": np.nan,
                   "participation_ratio": np.nan, "effective_dims": np.nan,
                   "isotropic_baseline": isotropic_baseline(n, self.dim or 0),
                   "mean_cosine": np.nan, "note": ""}
            if n < 2:
                if name == OTHER and n == 0:
                    continue
                row["note"] = "fewer than 2 residues"
                rows.append(row)
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FewPointsWarning)
                try:
                    s = acc.summary()
                except ValueError as exc:
                    row["note"] = str(exc).split(":")[0]
                    rows.append(row)
                    continue
            row.update(isoscore=s.isoscore, participation_ratio=s.participation_ratio,
                       effective_dims=s.effective_dims, mean_cosine=s.mean_cosine)
            if n < (self.dim or 0):
                row["note"] = "N < d: score capped at (N-2)/(d-1)"
            rows.append(row)
        return pd.DataFrame(rows)
