"""A sparse q-ary Fourier series: the result of a q-SFT recovery, or a planted truth."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from .. import _core, _device
from .._memory import require_memory
from .._checks import check_nthreads, check_q

_FORMAT = "plmscope.SparseFourier/1"


def as_variants(x, q: int, n: int, name: str = "x") -> np.ndarray:
    """(M, n) uint8 copy of integer variants, or ValueError naming the first bad entry."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (M, n) array of variants, got shape {arr.shape}")
    if arr.shape[1] != n:
        raise ValueError(f"{name} has n={arr.shape[1]} sites per variant but this transform has n={n}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name} must hold integers in [0, q={q}), got dtype {arr.dtype}")
    bad = (arr < 0) | (arr >= q)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name}[{i}, {j}] = {arr[i, j]} is outside [0, q={q})")
    return np.ascontiguousarray(arr, dtype=np.uint8)


class SparseFourier:
    """K q-ary frequencies k in Z_q^n with complex values F[k].

    The function it represents is f(x) = Re sum_k F[k] omega^<k,x>, omega = exp(2 pi i / q).
    The order of a frequency (its number of nonzero sites) is the order of the interaction.
    """

    def __init__(self, frequencies, values, q: int):
        q = check_q(q)
        if q > 256:
            raise ValueError(f"q must be <= 256 (sites are stored as bytes), got q={q}")
        freqs = np.asarray(frequencies)
        if freqs.ndim != 2:
            raise ValueError(
                f"frequencies must be a 2-D (K, n) integer array, got shape {freqs.shape}"
            )
        self._freqs = as_variants(freqs, q, freqs.shape[1], "frequencies")
        vals = np.asarray(values).astype(np.complex128, copy=True).reshape(-1)
        if vals.shape[0] != self._freqs.shape[0]:
            raise ValueError(
                f"values has {vals.shape[0]} entries but frequencies has {self._freqs.shape[0]} rows"
            )
        self._values = vals
        self.q = q
        self._freqs.setflags(write=False)
        self._values.setflags(write=False)

    # -- basic properties ------------------------------------------------------------------
    @property
    def frequencies(self) -> np.ndarray:
        """(K, n) uint8 frequencies (read-only)."""
        return self._freqs

    @property
    def values(self) -> np.ndarray:
        """(K,) complex128 values (read-only)."""
        return self._values

    @property
    def n(self) -> int:
        return self._freqs.shape[1]

    def __len__(self) -> int:
        return self._freqs.shape[0]

    def __repr__(self) -> str:
        return f"SparseFourier(K={len(self)}, n={self.n}, q={self.q})"

    # -- evaluation ------------------------------------------------------------------------
    def evaluate(self, x, nthreads: int = 0, device=None) -> np.ndarray:
        """f at M variants x ((M, n) ints in [0, q)) as float64 (M,).

        A torch CUDA tensor or CuPy array x is evaluated on its GPU and gives the same kind;
        ``device`` overrides where (see :mod:`plmscope._device`)."""
        if _device.routed(x, device):
            from . import gpu

            return _device.run(x, device, lambda a: gpu.evaluate(self, a),
                               lambda h: self.evaluate(h, nthreads, device="cpu"))
        xv = as_variants(x, self.q, self.n)
        return _core.sparse_series_evaluate(
            self._freqs, self._values, self.q, xv, check_nthreads(nthreads)
        )

    def to_dense(self) -> np.ndarray:
        """The full transform as a flat complex array of length q**n (flat index of docs/conventions.md)."""
        size = float(self.q) ** self.n
        require_memory(int(size * 16), f"a dense transform over q^n = {self.q}^{self.n} entries")
        dense = np.zeros(self.q**self.n, dtype=np.complex128)
        np.add.at(dense, self.flat_indices(), self._values)
        return dense

    def flat_indices(self) -> np.ndarray:
        """Flat index sum k_i q^(n-1-i) of each frequency: int64 while q^n fits in it, else
        an object array of exact Python ints (int64 would wrap around to wrong values)."""
        if self.q**self.n < 2**63:
            weights = self.q ** np.arange(self.n - 1, -1, -1, dtype=np.int64)
            return self._freqs.astype(np.int64) @ weights
        weights = [self.q ** (self.n - 1 - i) for i in range(self.n)]
        out = np.empty(len(self._freqs), dtype=object)
        out[:] = [sum(int(k) * w for k, w in zip(row, weights)) for row in self._freqs]
        return out

    # -- summaries -------------------------------------------------------------------------
    def orders(self) -> np.ndarray:
        """Number of nonzero sites of each frequency (int64, (K,))."""
        return np.count_nonzero(self._freqs, axis=1).astype(np.int64)

    def top(self, m: int) -> "SparseFourier":
        """The m coefficients of largest magnitude, largest first (ties keep input order)."""
        if m < 0:
            raise ValueError(f"m must be >= 0, got m={m}")
        order = np.argsort(-np.abs(self._values), kind="stable")[:m]
        return SparseFourier(self._freqs[order], self._values[order], self.q)

    def energy_by_order(self) -> np.ndarray:
        """sum |F[k]|^2 over the frequencies of each order 0..n (float64, (n + 1,))."""
        return np.bincount(self.orders(), weights=np.abs(self._values) ** 2, minlength=self.n + 1)

    def to_frame(self, site_labels: Sequence | None = None):
        """pandas DataFrame, one row per coefficient.

        Columns: ``order``, ``sites`` (tuple of the nonzero sites, as ``site_labels`` when
        given, e.g. residue numbers, else 1-based site numbers 1..n, the convention of the
        command line and the reports), ``states`` (tuple of their q-ary values), ``value``
        (complex), ``real``, ``imag``, ``magnitude``.
        """
        import pandas as pd

        if site_labels is None:
            site_labels = list(range(1, self.n + 1))
        if len(site_labels) != self.n:
            raise ValueError(f"site_labels has {len(site_labels)} labels for n={self.n} sites")
        labels = list(site_labels)
        nz = [np.flatnonzero(row) for row in self._freqs]
        return pd.DataFrame(
            {
                "order": self.orders(),
                "sites": [tuple(labels[i] for i in idx) for idx in nz],
                "states": [tuple(int(v) for v in row[idx]) for row, idx in zip(self._freqs, nz)],
                "value": self._values,
                "real": self._values.real,
                "imag": self._values.imag,
                "magnitude": np.abs(self._values),
            }
        )

    # -- persistence -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike, **arrays) -> None:
        """Write an .npz (no pickles): frequencies, values, q and a format tag, plus any
        named `arrays` stored beside them (e.g. a run's ``stages``; :meth:`load` ignores
        them)."""
        taken = {"format", "frequencies", "values", "q"} & set(arrays)
        if taken:
            raise ValueError(f"save: {sorted(taken)} name(s) the transform's own arrays; "
                             "give the extra arrays other names")
        np.savez(
            path, format=np.array(_FORMAT), frequencies=self._freqs, values=self._values,
            q=np.array(self.q), **arrays,
        )

    @classmethod
    def load(cls, path: str | os.PathLike, q: int | None = None) -> "SparseFourier":
        """Read a file written by :meth:`save`, or one in the published format
        (``coef_index``, ``coef_value``; then ``q`` must be given)."""
        from ..folders import read_npz, scalar_int

        data = read_npz(path, "transform file")
        if "frequencies" in data and "values" in data:
            if "q" not in data:
                raise ValueError(f"{path} stores no q beside its frequencies; re-save it with "
                                 "SparseFourier.save")
            stored_q = scalar_int(data["q"], f"q stored in {path}")
            if q is not None and int(q) != stored_q:
                raise ValueError(f"{path} holds a q={stored_q} transform, not q={q}")
            return cls(data["frequencies"], data["values"], stored_q)
        if "coef_index" in data and "coef_value" in data:
            if q is None:
                raise ValueError(f"{path} has no q stored: pass q= (e.g. q=20)")
            _check_published_q(data["coef_index"], int(q), path)
            return cls(data["coef_index"], data["coef_value"], q)
        raise ValueError(
            f"{path} is not a SparseFourier file: expected arrays 'frequencies' and 'values' "
            "(or 'coef_index' and 'coef_value')"
        )


def _check_published_q(index: np.ndarray, q: int, path) -> None:
    """ValueError when a file without a stored q is read with a q its frequencies do not
    fit. The transform of a real landscape holds every k with its conjugate -k (mod q), so
    a set closed under negation modulo max + 1 but not modulo `q` was made with that q: read
    with another, every frequency's digits would be silently reinterpreted."""
    index = np.asarray(index)
    if index.size == 0 or index.ndim != 2:
        return
    top = int(index.max())
    if top >= q:
        raise ValueError(f"{path}: frequency entries reach {top}, so q must be > {top}, "
                         f"not q={q}")

    def closed(m: int) -> bool:
        keys = {row.tobytes() for row in index.astype(np.uint8)}
        return all(((-row.astype(np.int64)) % m).astype(np.uint8).tobytes() in keys
                   for row in index)

    guess = top + 1
    if guess != q and guess >= 2 and closed(guess) and not closed(q):
        raise ValueError(f"{path} stores no q and its frequencies pair up as k, -k modulo "
                         f"{guess}, not modulo {q}: it was made with q={guess}; pass --q "
                         f"{guess} (q=) instead of {q}")
