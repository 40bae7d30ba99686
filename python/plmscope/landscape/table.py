"""Measured variant tables (deep mutational scans, combinatorial libraries, another model's
scores) read into the q-ary encoding of DESIGN.md.

Accepted layouts, as CSV, TSV or parquet:

* ProteinGym: ``mutant`` (``A79V:L104V``; ``;`` also separates; ``WT``, ``wt``, ``_wt`` or an
  empty cell is the wild type), ``mutated_sequence`` and ``DMS_score``;
* any table with a variant column holding such mutation strings (or full mutated sequences)
  and a numeric score column, named by ``variant_column`` / ``score_column``.

Mutations are 1-based (``A79V``: the wild type has A at residue 79, the variant has V). The
wild type is given, or rebuilt from ``mutated_sequence`` and ``mutant``. Rows of the same
variant are averaged and counted. The sites are every residue some row mutates, in increasing
order; with q = 20 the states follow DESIGN.md (the alphabet minus the wild type), with a
smaller q each site's states are its observed substitutes in alphabet order, padded with
unobserved residues (alphabet order) to q - 1, since the encoding has q states at every site.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .variants import ALPHABET, Landscape

_WILDTYPE_WORDS = frozenset({"", "wt", "_wt", "wildtype", "wild_type", "wild-type"})
_MUTATION = re.compile(r"^([A-Za-z*])(\d+)([A-Za-z*])$")
_SPLIT = re.compile(r"[:;,\s]+")
VARIANT_COLUMNS = ("mutant", "mutation", "mutations", "variant", "variants")
SCORE_COLUMNS = ("DMS_score", "score", "fitness")
SEQUENCE_COLUMN = "mutated_sequence"


@dataclass(frozen=True)
class VariantTable:
    """What :func:`read_variants` returns: one entry per distinct variant.

    ``variants`` (m, n) uint8 in the encoding of :meth:`landscape`; ``scores`` (m,) the mean
    of the measured scores of the variant's rows; ``counts`` (m,) how many rows it had;
    ``row_variant`` (rows,) the variant of each input row (index into ``variants``);
    ``mutants`` the variants' labels ('A79V:L104V', '' for the wild type).
    """

    wildtype: str
    sites: tuple[int, ...]
    substitutions: tuple[str, ...]
    observed: tuple[str, ...]
    q: int
    variants: np.ndarray
    scores: np.ndarray
    counts: np.ndarray
    row_variant: np.ndarray
    mutants: tuple[str, ...]
    source: str = ""
    score_column: str = ""

    @property
    def n(self) -> int:
        return len(self.sites)

    @property
    def num_mutations(self) -> np.ndarray:
        """(m,) number of mutated sites of each variant."""
        return np.count_nonzero(self.variants, axis=1).astype(np.int64)

    @property
    def duplicates(self) -> int:
        """Rows folded into an earlier row of the same variant."""
        return int(self.row_variant.shape[0] - self.variants.shape[0])

    def landscape(self) -> Landscape:
        """The :class:`Landscape` whose encoding ``variants`` use."""
        return Landscape(self.wildtype, self.sites, self.q,
                         None if self.q == 20 else list(self.substitutions))

    def to_frame(self):
        """DataFrame with ``mutant``, ``num_mutations``, ``score``, ``count``: one row per
        variant, in first-seen order (what :func:`read_variants` reads back the same)."""
        import pandas as pd

        return pd.DataFrame({"mutant": list(self.mutants), "num_mutations": self.num_mutations,
                             "score": self.scores, "count": self.counts})


def read_table(path: str | os.PathLike, sheet_sep: str | None = None):
    """The raw table at `path` as a DataFrame: parquet by its extension, CSV or TSV by the
    extension or, failing that, by sniffing the first line."""
    import pandas as pd

    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"--table {path}: no such file; give a CSV, TSV or parquet table")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if sheet_sep is None:
            if suffix in (".tsv", ".tab"):
                sheet_sep = "\t"
            elif suffix == ".csv":
                sheet_sep = ","
            else:
                with open(path, encoding="utf-8") as handle:
                    first = handle.readline()
                sheet_sep = "\t" if first.count("\t") > first.count(",") else ","
        # every column as text: scores are checked (and named) row by row below
        return pd.read_csv(path, sep=sheet_sep, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"--table {path} cannot be read as a CSV, TSV or parquet table "
                         f"({exc})") from exc


def _pick(frame, given: str | None, candidates, flag: str, what: str, path) -> str:
    cols = list(frame.columns)
    if given is not None:
        if given not in cols:
            raise ValueError(f"{flag} {given!r} is not a column of {path} (columns: "
                             f"{', '.join(map(str, cols))})")
        return given
    lower = {str(c).lower(): c for c in cols}
    for name in candidates:
        if name.lower() in lower:
            return lower[name.lower()]
    raise ValueError(f"{path} has no {what} column (looked for {', '.join(candidates)}; "
                     f"columns: {', '.join(map(str, cols))}); name it with {flag}")


def parse_mutant(text, row: int, where: str) -> list[tuple[str, int, str]]:
    """[(wild-type letter, 1-based residue, mutant letter), ...] of one variant string."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    text = str(text).strip()
    if text.lower() in _WILDTYPE_WORDS:
        return []
    out = []
    for item in _SPLIT.split(text):
        if not item:
            continue
        match = _MUTATION.match(item)
        if not match:
            raise ValueError(f"{where} row {row}: {item!r} is not a mutation; write mutations "
                             "as wild-type letter, 1-based residue, mutant letter (A79V), "
                             "joined by ':' (A79V:L104V); 'WT' or an empty cell is the wild "
                             "type")
        out.append((match.group(1).upper(), int(match.group(2)), match.group(3).upper()))
    return out


def _check_letter(letter: str, row: int, pos: int, where: str, role: str) -> None:
    if letter not in ALPHABET:
        raise ValueError(f"{where} row {row}, residue {pos}: {role} {letter!r} is not one of "
                         f"the 20 amino acids {ALPHABET}; drop the row (stop codons and "
                         "insertions are not substitution variants)")


def _is_sequence(value: str) -> bool:
    return len(value) > 6 and value.isalpha() and value.upper() == value


def _rebuild_wildtype(mutants, sequences, where: str) -> str:
    """The wild type from the first row that has a mutated sequence: that sequence with its
    mutations undone."""
    for r, (muts, seq) in enumerate(zip(mutants, sequences), start=1):
        if not seq:
            continue
        chars = list(seq.strip().upper())
        for wt, pos, mut in muts:
            if not 1 <= pos <= len(chars):
                raise ValueError(f"{where} row {r}, residue {pos}: the site is outside the "
                                 f"mutated sequence (residues 1..{len(chars)})")
            if chars[pos - 1] != mut:
                raise ValueError(f"{where} row {r}, residue {pos}: {SEQUENCE_COLUMN} has "
                                 f"{chars[pos - 1]!r} there but the mutant says {mut!r}")
            chars[pos - 1] = wt
        return "".join(chars)
    raise ValueError(f"{where}: no wild type; give --fasta (or wildtype=), or a "
                     f"{SEQUENCE_COLUMN} column to rebuild it from")


def read_variants(path: str | os.PathLike, wildtype: str | None = None, *,
                  variant_column: str | None = None, score_column: str | None = None,
                  q: int | None = None, substitutions=None, sep: str | None = None,
                  frame=None) -> VariantTable:
    """Read a variant table (see the module docstring) into a :class:`VariantTable`.

    Parameters
    ----------
    path : path
        The table: ``.csv``, ``.tsv`` or ``.parquet`` (other extensions are sniffed as
        CSV/TSV). Only used in messages when `frame` is given.
    wildtype : str or None
        The wild-type sequence; None rebuilds it from ``mutated_sequence`` and the mutations.
    variant_column, score_column : str or None
        Column names; None looks for ``mutant``/``mutation``/``variant`` and
        ``DMS_score``/``score``/``fitness`` (case-insensitive). A variant column holding full
        sequences (same length as the wild type) is read by comparing them with it.
    q : int or None
        States per site; None chooses 1 + the most substitutes observed at one site.
    substitutions : None or sequence of str
        Each site's substitutes in state order (needs `q`; for q = 20 leave it out).
    sep : str or None
        Column separator of a text table (default: from the extension, else sniffed).
    frame : DataFrame or None
        An already loaded table (the CLI reads it once); `path` then only names it.

    Errors name the row (1-based, data rows) and the residue: a wild-type letter that
    disagrees with the sequence, an unknown residue, a site outside the protein, a score that
    is not a number, the same site twice in one variant.
    """
    where = str(path)
    if frame is None:
        frame = read_table(path, sep)
    if len(frame) == 0:
        raise ValueError(f"{where} has no rows")
    vcol = _pick(frame, variant_column, VARIANT_COLUMNS + (SEQUENCE_COLUMN,),
                 "--variant-column", "variant", where)
    scol = _pick(frame, score_column, SCORE_COLUMNS, "--score-column", "score", where)
    raw_variants = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
                    for v in frame[vcol].tolist()]
    scores = _scores(frame[scol].tolist(), scol, where)
    sequences = None
    if SEQUENCE_COLUMN in frame.columns and vcol != SEQUENCE_COLUMN:
        sequences = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                     for v in frame[SEQUENCE_COLUMN].tolist()]
    if wildtype is not None:
        wildtype = str(wildtype).strip().upper()
    as_sequences = any(_is_sequence(v) and not _MUTATION.match(v) for v in raw_variants)
    if as_sequences:
        if wildtype is None:
            raise ValueError(f"{where}: column {vcol!r} holds full sequences; give the wild type "
                             "(--fasta) to compare them with")
        mutants = [_diff(v, wildtype, r, where) for r, v in enumerate(raw_variants, start=1)]
    else:
        mutants = [parse_mutant(v, r, where) for r, v in enumerate(raw_variants, start=1)]
    if wildtype is None:
        if sequences is None:
            raise ValueError(f"{where}: no wild type; give --fasta (or wildtype=), or a "
                             f"{SEQUENCE_COLUMN} column to rebuild it from")
        wildtype = _rebuild_wildtype(mutants, sequences, where)
    return _encode(mutants, scores, wildtype, sequences, q, substitutions, where, scol)


def _scores(values, column: str, where: str) -> np.ndarray:
    out = np.empty(len(values), dtype=np.float64)
    for r, v in enumerate(values, start=1):
        try:
            out[r - 1] = float(v)
        except (TypeError, ValueError):
            out[r - 1] = np.nan
        if not np.isfinite(out[r - 1]):
            raise ValueError(f"{where} row {r}: score {v!r} in column {column!r} is not a "
                             "number; fix or drop the row")
    return out


def _diff(seq: str, wildtype: str, row: int, where: str) -> list[tuple[str, int, str]]:
    seq = seq.upper()
    if len(seq) != len(wildtype):
        raise ValueError(f"{where} row {row}: the sequence has {len(seq)} residues but the wild "
                         f"type has {len(wildtype)}; only substitution variants are read")
    return [(w, i + 1, s) for i, (w, s) in enumerate(zip(wildtype, seq)) if w != s]


def _encode(mutants, scores, wildtype, sequences, q, substitutions, where, score_column):
    L = len(wildtype)
    observed: dict[int, set[str]] = {}
    for r, muts in enumerate(mutants, start=1):
        seen = set()
        for wt, pos, mut in muts:
            if not 1 <= pos <= L:
                raise ValueError(f"{where} row {r}, residue {pos}: the site is outside the "
                                 f"protein (residues 1..{L}); mutations are numbered from 1")
            if pos in seen:
                raise ValueError(f"{where} row {r}, residue {pos}: the variant mutates the site "
                                 "twice; give one mutation per site")
            seen.add(pos)
            _check_letter(wt, r, pos, where, "wild-type residue")
            _check_letter(mut, r, pos, where, "mutant residue")
            if wildtype[pos - 1] != wt:
                raise ValueError(f"{where} row {r}, residue {pos}: the mutation says the wild "
                                 f"type has {wt!r} there but the wild-type sequence has "
                                 f"{wildtype[pos - 1]!r}; check the numbering (1-based) or "
                                 "the wild type")
            if mut != wt:
                observed.setdefault(pos, set()).add(mut)
        if sequences is not None and sequences[r - 1]:
            seq = sequences[r - 1].strip().upper()
            expect = list(wildtype)
            for _, pos, mut in muts:
                expect[pos - 1] = mut
            if seq != "".join(expect):
                first = next((i for i, (a, b) in enumerate(zip(seq, expect)) if a != b),
                             min(len(seq), L))
                raise ValueError(f"{where} row {r}, residue {first + 1}: {SEQUENCE_COLUMN} "
                                 "does not match the wild type with the row's mutations")
    sites = tuple(sorted(observed))
    if not sites:
        raise ValueError(f"{where}: every row is the wild type; a table of variants needs "
                         "mutations")
    obs = tuple("".join(sorted(observed[s], key=ALPHABET.index)) for s in sites)
    most = max(len(o) for o in obs)
    if q is None:
        q = 20 if most == 19 else most + 1
    if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or not 2 <= q <= 20:
        raise ValueError(f"q must be an integer in 2..20, got q={q!r}")
    q = int(q)
    if q - 1 < most:
        s = sites[[len(o) for o in obs].index(most)]
        raise ValueError(f"{where}: residue {s} has {most} different substitutes but q={q} "
                         f"allows {q - 1}; raise q (or leave it out to choose it from the data)")
    if q == 20:
        if substitutions is not None:
            raise ValueError("substitutions are fixed for q = 20 (the alphabet minus the wild "
                             "type); leave them out")
        subs = tuple(ALPHABET.replace(wildtype[s - 1], "") for s in sites)
    elif substitutions is not None:
        subs = tuple(str(s).upper() for s in substitutions)
        if len(subs) != len(sites):
            raise ValueError(f"substitutions has {len(subs)} entries but the table mutates "
                             f"{len(sites)} sites ({', '.join(map(str, sites))})")
        for s, given, o in zip(sites, subs, obs):
            missing = [c for c in o if c not in given]
            if missing:
                raise ValueError(f"{where}: residue {s} is mutated to {missing[0]!r}, which "
                                 f"is not among its substitutions {given!r}")
    else:
        subs = tuple(o + "".join(c for c in ALPHABET if c not in o and c != wildtype[s - 1])
                     [:q - 1 - len(o)] for s, o in zip(sites, obs))
    landscape = Landscape(wildtype, sites, q, None if q == 20 else list(subs))
    column = {s: i for i, s in enumerate(sites)}
    residues = landscape.residues
    # one key per variant, its (residue, mutant) pairs in site order (synonymous ones are the
    # wild type), folded into first-seen order: no sort over the (rows, n) array
    index: dict[tuple, int] = {}
    row_variant = np.empty(len(mutants), dtype=np.int64)
    for r, muts in enumerate(mutants):
        key = tuple(sorted((pos, mut) for wt, pos, mut in muts if mut != wt))
        row_variant[r] = index.setdefault(key, len(index))
    keys = list(index)
    variants = np.zeros((len(keys), len(sites)), dtype=np.uint8)
    for u, key in enumerate(keys):
        for pos, mut in key:
            i = column[pos]
            variants[u, i] = residues[i].index(mut)
    counts = np.bincount(row_variant, minlength=len(keys)).astype(np.int64)
    means = np.bincount(row_variant, weights=scores, minlength=len(keys)) / counts
    labels = tuple(":".join(f"{wildtype[pos - 1]}{pos}{mut}" for pos, mut in key)
                   for key in keys)
    return VariantTable(wildtype, sites, landscape.substitutions, obs, q, variants, means,
                        counts, row_variant, labels, where, score_column)
