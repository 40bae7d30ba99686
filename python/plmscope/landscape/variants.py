"""The q-ary encoding of variants over n sites of a wild-type protein (docs/conventions.md).

A variant is a vector x in Z_q^n. x_i = 0 keeps the wild-type residue at site i; x_i = v >= 1
puts the v-th substitute there. With q = 20 the substitutes of a site are the alphabet
``ACDEFGHIKLMNPQRSTVWY`` with the wild-type residue removed; with q = 2 there is one chosen
substitute per site; any 2 <= q <= 20 works with q - 1 chosen substitutes per site.
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

ALPHABET = "ACDEFGHIKLMNPQRSTVWY"
_ALPHABET_SET = frozenset(ALPHABET)


def _check_wildtype(wildtype) -> str:
    if not isinstance(wildtype, str) or not wildtype:
        raise ValueError(f"wildtype must be a non-empty protein sequence string, got {wildtype!r}")
    seq = wildtype.strip().upper()
    bad = [(i + 1, c) for i, c in enumerate(seq) if not ("A" <= c <= "Z")]
    if bad:
        pos, c = bad[0]
        raise ValueError(
            f"wildtype has {c!r} at residue {pos}: a protein sequence holds one letter per residue"
        )
    return seq


def _check_sites(sites, length: int) -> tuple[int, ...]:
    if isinstance(sites, (str, bytes)) or not hasattr(sites, "__iter__"):
        raise ValueError(f"sites must be a list of 1-based residue numbers, got {sites!r}")
    out = []
    for s in sites:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral):
            raise ValueError(f"sites must be integers (1-based residue numbers), got {s!r}")
        s = int(s)
        if not 1 <= s <= length:
            raise ValueError(
                f"site {s} is outside the wild type (residues 1..{length}); sites are 1-based"
            )
        if s in out:
            raise ValueError(f"site {s} is listed twice in sites={list(sites)}; list each site "
                             "once")
        out.append(s)
    if not out:
        raise ValueError("sites is empty: choose at least one site (1-based residue numbers)")
    return tuple(out)


class Landscape:
    """Variants of `wildtype` over `sites`, encoded in Z_q^n.

    Parameters
    ----------
    wildtype : str
        The wild-type protein sequence (one letter per residue).
    sites : sequence of int
        1-based residue numbers, distinct; their order is the order of the variant's entries
        (x[0] is sites[0]).
    q : int
        States per site, 2..20. State 0 is the wild type.
    substitutions : None, str, or sequence of str
        The substitutes of each site, in state order (state v is substitutions[i][v-1]).
        None is allowed only for q = 20 (the alphabet minus the wild type). For q = 2 a string
        of n letters gives one substitute per site. Otherwise n strings of q - 1 distinct
        letters from ``ACDEFGHIKLMNPQRSTVWY``, none equal to the site's wild-type residue.
    """

    def __init__(self, wildtype: str, sites: Sequence[int], q: int = 20, substitutions=None):
        self._wildtype = _check_wildtype(wildtype)
        self._sites = _check_sites(sites, len(self._wildtype))
        if isinstance(q, (bool, np.bool_)) or not isinstance(q, numbers.Integral) \
                or not 2 <= q <= 20:
            raise ValueError(f"q must be an integer in 2..20 (states per site), got q={q!r}")
        self._q = int(q)
        wt_at_sites = [self._wildtype[s - 1] for s in self._sites]
        if substitutions is None:
            if self._q != 20:
                raise ValueError(
                    f"substitutions=None needs q=20 (all other residues); for q={self._q} pass "
                    f"{self._q - 1} substitute residue(s) per site"
                )
            for s, w in zip(self._sites, wt_at_sites):
                if w not in _ALPHABET_SET:
                    raise ValueError(
                        f"the wild type has {w!r} at site {s}, not one of {ALPHABET}; q=20 needs a "
                        f"standard residue there (or pass substitutions explicitly)"
                    )
            subs = [ALPHABET.replace(w, "") for w in wt_at_sites]
        else:
            subs = self._check_substitutions(substitutions, wt_at_sites)
        self._residues = tuple(w + s for w, s in zip(wt_at_sites, subs))
        # residue letters as bytes, shape (n, q): state v of site i -> self._table[i, v]
        self._table = np.frombuffer("".join(self._residues).encode("ascii"), dtype=np.uint8)
        self._table = self._table.reshape(self.n, self._q)
        self._positions = np.asarray(self._sites, dtype=np.int64) - 1
        self._wt_bytes = np.frombuffer(self._wildtype.encode("ascii"), dtype=np.uint8)

    def _check_substitutions(self, substitutions, wt_at_sites) -> list[str]:
        n, q = len(self._sites), self._q
        if isinstance(substitutions, str):
            if q != 2:
                raise ValueError(
                    f"substitutions as one string gives one substitute per site, which needs q=2, "
                    f"got q={q}; pass a list of n strings of q-1 residues instead"
                )
            substitutions = list(substitutions)
        subs = [str(s).upper() for s in substitutions]
        if len(subs) != n:
            raise ValueError(
                f"substitutions has {len(subs)} entries but there are n={n} sites; give the "
                f"substitutes of each site"
            )
        for s, w, site in zip(subs, wt_at_sites, self._sites):
            if len(s) != q - 1:
                raise ValueError(
                    f"site {site} has substitutions {s!r}: q={q} needs exactly {q - 1} residue(s)"
                )
            bad = [c for c in s if c not in _ALPHABET_SET]
            if bad:
                raise ValueError(
                    f"site {site} has substitute {bad[0]!r}, not one of {ALPHABET}"
                )
            if w in s:
                raise ValueError(
                    f"site {site} lists its wild-type residue {w!r} among substitutions {s!r}; "
                    f"state 0 is already the wild type"
                )
            if len(set(s)) != len(s):
                raise ValueError(f"site {site} repeats a residue in substitutions {s!r}")
        return subs

    # -- description ------------------------------------------------------------------------
    @property
    def wildtype(self) -> str:
        return self._wildtype

    @property
    def sites(self) -> tuple[int, ...]:
        """1-based residue numbers, in the order of the variant's entries."""
        return self._sites

    @property
    def positions(self) -> np.ndarray:
        """0-based indices of the sites in the wild-type string."""
        return self._positions.copy()

    @property
    def n(self) -> int:
        return len(self._sites)

    @property
    def q(self) -> int:
        return self._q

    @property
    def size(self) -> int:
        """Number of variants, q**n."""
        return self._q**self.n

    @property
    def residues(self) -> tuple[str, ...]:
        """residues[i][v]: the residue that state v puts at site i (v = 0: the wild type)."""
        return self._residues

    @property
    def substitutions(self) -> tuple[str, ...]:
        """The substitutes of each site in state order (residues without the wild type)."""
        return tuple(r[1:] for r in self._residues)

    def residue(self, i: int, v: int) -> str:
        """The residue of state v at the i-th site (0-based index into sites)."""
        return self._residues[i][v]

    def wildtype_residue(self, i: int) -> str:
        return self._residues[i][0]

    def mutation(self, i: int, v: int) -> str:
        """Label of state v at the i-th site, e.g. 'Y3A' (wild type, residue number, mutant)."""
        return f"{self._residues[i][0]}{self._sites[i]}{self._residues[i][v]}"

    def mutations(self, x) -> list[str]:
        """Labels of the variants, mutations joined by ':' ('' for the wild type)."""
        x = self.check_variants(x)
        return [":".join(self.mutation(i, v) for i, v in enumerate(row) if v) for row in x]

    def __repr__(self) -> str:
        return (f"Landscape(n={self.n}, q={self.q}, sites={list(self._sites)}, "
                f"length={len(self._wildtype)})")

    def __eq__(self, other) -> bool:
        return isinstance(other, Landscape) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self._wildtype, self._sites, self._residues))

    def to_dict(self) -> dict:
        """JSON-ready description; ``Landscape.from_dict`` rebuilds it."""
        return {"wildtype": self._wildtype, "sites": list(self._sites), "q": self._q,
                "substitutions": list(self.substitutions)}

    @classmethod
    def from_dict(cls, d: dict) -> Landscape:
        return cls(d["wildtype"], d["sites"], d["q"], d.get("substitutions"))

    # -- variants <-> sequences -------------------------------------------------------------
    def check_variants(self, x, name: str = "x") -> np.ndarray:
        """x as a C-contiguous (m, n) uint8 array, or ValueError naming the first bad entry."""
        arr = np.asarray(x)
        if arr.ndim != 2 or arr.shape[1] != self.n:
            raise ValueError(
                f"{name} must be an (m, n={self.n}) array of variants, got shape {arr.shape}"
            )
        if arr.size and not np.issubdtype(arr.dtype, np.integer) and (
                arr.dtype == np.bool_ or not np.all(np.isfinite(arr))
                or np.any(arr != np.round(arr))):
            raise ValueError(f"{name} must hold integers in [0, q={self._q}), got dtype "
                             f"{arr.dtype}")
        if arr.size:
            bad = (arr < 0) | (arr >= self._q)
            if bad.any():
                i, j = np.argwhere(bad)[0]
                raise ValueError(f"{name}[{i}, {j}] = {arr[i, j]} is outside [0, q={self._q})")
        return np.ascontiguousarray(arr, dtype=np.uint8)

    def residue_codes(self, x) -> np.ndarray:
        """(m, n) uint8 ASCII codes of the residues each variant puts at the sites."""
        x = self.check_variants(x)
        return self._table[np.arange(self.n)[None, :], x]

    def sequence_array(self, x) -> np.ndarray:
        """(m, L) uint8 ASCII codes of the variants' full sequences."""
        codes = self.residue_codes(x)
        out = np.broadcast_to(self._wt_bytes, (codes.shape[0], self._wt_bytes.shape[0])).copy()
        out[:, self._positions] = codes
        return out

    def sequences(self, x) -> list[str]:
        """The full protein sequence of each variant (rows of x, an (m, n) array)."""
        arr = self.sequence_array(x)
        return [row.tobytes().decode("ascii") for row in arr]

    def encode(self, sequences) -> np.ndarray:
        """The (m, n) uint8 variants of full sequences that differ from the wild type only at
        the sites and only by this landscape's residues (ValueError otherwise)."""
        if isinstance(sequences, str):
            sequences = [sequences]
        out = np.zeros((len(sequences), self.n), dtype=np.uint8)
        L = len(self._wildtype)
        for r, seq in enumerate(sequences):
            seq = str(seq).upper()
            if len(seq) != L:
                raise ValueError(
                    f"sequences[{r}] has length {len(seq)} but the wild type has {L}: only "
                    "substitutions are variants of a landscape"
                )
            arr = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
            diff = np.flatnonzero(arr != self._wt_bytes)
            off = np.setdiff1d(diff, self._positions)
            if off.size:
                p = int(off[0])
                raise ValueError(
                    f"sequences[{r}] changes residue {p + 1} ({self._wildtype[p]}->{seq[p]}), "
                    f"which is not one of the sites {list(self._sites)}"
                )
            for i, pos in enumerate(self._positions):
                v = self._residues[i].find(seq[pos])
                if v < 0:
                    raise ValueError(
                        f"sequences[{r}] puts {seq[pos]!r} at site {self._sites[i]}, which is not "
                        f"a state of that site ({self._residues[i]})"
                    )
                out[r, i] = v
        return out

    def all_variants(self) -> np.ndarray:
        """All q**n variants as a (q**n, n) uint8 array in flat order (most significant site
        first: index = sum x_i q^(n-1-i))."""
        size = self.size
        if size > 1 << 26:
            raise ValueError(
                f"the landscape has q**n = {self._q}**{self.n} = {size} variants, too many to "
                "list; sample variants instead (or use fewer sites)"
            )
        idx = np.arange(size, dtype=np.int64)
        return self.unflatten(idx)

    def flatten(self, x) -> np.ndarray:
        """Flat indices sum x_i q^(n-1-i) of the variants (int64; needs q**n < 2**63)."""
        x = self.check_variants(x)
        if self.n * np.log2(self._q) >= 63:
            raise ValueError(f"q**n = {self._q}**{self.n} does not fit in int64 flat indices")
        weights = self._q ** np.arange(self.n - 1, -1, -1, dtype=np.int64)
        return x.astype(np.int64) @ weights

    def unflatten(self, index) -> np.ndarray:
        """Inverse of :meth:`flatten`: (m,) flat indices to (m, n) uint8 variants."""
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.size):
            raise ValueError(f"flat indices must lie in [0, q**n = {self.size})")
        out = np.empty((idx.shape[0], self.n), dtype=np.uint8)
        rest = idx.copy()
        for i in range(self.n - 1, -1, -1):
            out[:, i] = rest % self._q
            rest //= self._q
        return out
