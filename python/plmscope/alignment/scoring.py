"""PAM250 global alignment scoring: the Biopython reference, the parasail fast path, and the
residues PAM250 can score.

Reference (docs/geometry.md): Biopython ``PairwiseAligner`` in global mode with PAM250, gap open
-10 and extend -0.5 (a gap of length L scores -10 - 0.5 (L - 1), end gaps included).
parasail works in integers, so it gets PAM250 doubled with open 20 / extend 1 (its open
penalty also covers a gap's first position) and its score is halved: the same optimum,
exactly, because every score involved is a multiple of 0.5.
"""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

GAP_OPEN = -10.0
GAP_EXTEND = -0.5
# Letters outside PAM250's alphabet that have an obvious stand-in (nonstandard="map"):
# selenocysteine scores as cysteine, pyrrolysine as lysine; other letters become X.
RESIDUE_MAP = {"U": "C", "O": "K"}


@functools.lru_cache(maxsize=1)
def pam250():
    """Biopython's PAM250 substitution matrix (alphabet ARNDCQEGHILKMFPSTWYVBZX*)."""
    from Bio.Align import substitution_matrices

    return substitution_matrices.load("PAM250")


def biopython_aligner():
    """The reference aligner: global, PAM250, open -10, extend -0.5 (end gaps too)."""
    from Bio.Align import PairwiseAligner

    return PairwiseAligner(mode="global", substitution_matrix=pam250(),
                           open_gap_score=GAP_OPEN, extend_gap_score=GAP_EXTEND)


def prepare_sequences(sequences: Sequence[str], nonstandard: str = "error") -> list[str]:
    """Check that PAM250 can score every residue, or map the ones it cannot.

    nonstandard="error" (default): a ValueError names the first sequence, position and
    letter outside PAM250's alphabet (ARNDCQEGHILKMFPSTWYVBZX*; U, O, J and lowercase are
    not in it). nonstandard="map": letters are upper-cased, U -> C, O -> K, any other letter
    -> X; characters that are not letters still raise.
    """
    if nonstandard not in ("error", "map"):
        raise ValueError(f"nonstandard must be 'error' or 'map', got {nonstandard!r}")
    alphabet = set(pam250().alphabet)
    out = []
    for i, seq in enumerate(sequences):
        if not isinstance(seq, str):
            raise ValueError(f"sequence {i} must be a str, got {type(seq).__name__}")
        if nonstandard == "map":
            up = seq.upper()
            seq = "".join(c if c in alphabet else RESIDUE_MAP.get(c, "X" if c.isalpha() else c)
                          for c in up)
        bad = next((p for p, c in enumerate(seq) if c not in alphabet), None)
        if bad is not None:
            hint = (" (use nonstandard='map' to score U as C, O as K, other letters as X and "
                    "lowercase as uppercase)" if nonstandard == "error" else "")
            raise ValueError(
                f"sequence {i} has {seq[bad]!r} at position {bad}, which PAM250 cannot score; "
                f"PAM250 scores {''.join(pam250().alphabet)}{hint}"
            )
        if not seq:
            raise ValueError(f"sequence {i} is empty: global alignment needs residues")
        out.append(seq)
    return out


@functools.lru_cache(maxsize=1)
def parasail_matrix():
    """PAM250 x 2 as a parasail integer matrix (same alphabet as Biopython's)."""
    import parasail

    pam = pam250()
    alphabet = "".join(pam.alphabet)
    matrix = parasail.matrix_create(alphabet, 0, 0)
    for i, a in enumerate(alphabet):
        for j, b in enumerate(alphabet):
            doubled = 2.0 * pam[a][b]
            if doubled != round(doubled):
                raise ValueError(f"PAM250[{a},{b}] = {pam[a][b]} is not a multiple of 0.5")
            matrix[i, j] = int(round(doubled))
    return matrix


def probe_pairs(count: int = 24, seed: int = 20251021) -> list[tuple[str, str]]:
    """Protein-like pairs with substitutions, insertions, deletions, unequal lengths and the
    ambiguity letters B, Z, X: enough to catch any convention mismatch between backends."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    pairs = []
    for k in range(count):
        base = "".join(rng.choice(letters, int(rng.integers(1, 120))))
        rate = k / count
        out = []
        for c in base:
            r = rng.random()
            if r < rate / 3:
                continue
            out.append(c if r >= rate else str(rng.choice(letters)))
            if rate / 3 <= r < 2 * rate / 3:
                out.append(str(rng.choice(list("ACDBZX"))))
        pairs.append((base, "".join(out) or "W"))
    return pairs


# BAM CIGAR operation codes parasail uses: 1 = I, 2 = D, 7 = '=' (identical), 8 = X.
_CIGAR_IDENTICAL = 7
_CIGAR_OPS = frozenset((1, 2, 7, 8))


def parasail_score_identity(a: str, b: str, matrix, identity: bool):
    """(score, identity or None) of the global alignment of a and b with parasail (doubled
    PAM250 `matrix`, open 20 / extend 1; the score halved back)."""
    import parasail

    # 16-bit lanes are ~2x faster; a result that saturates is recomputed with 32 bits.
    # Identity comes from the traceback's CIGAR: parasail's nw "stats" leave leading end
    # gaps out of the alignment length, which would inflate the identity of such pairs.
    fn16 = parasail.nw_trace_scan_16 if identity else parasail.nw_scan_16
    res = fn16(a, b, 20, 1, matrix)
    if res.saturated:
        fn32 = parasail.nw_trace_scan_32 if identity else parasail.nw_scan_32
        res = fn32(a, b, 20, 1, matrix)
    score = res.score / 2.0
    if not identity:
        return score, None
    # A CIGAR has tens of operations: plain Python beats numpy's per-call overhead here.
    identical = total = 0
    for v in res.get_cigar().seq.tolist():
        op, n = v & 0xF, v >> 4
        if op not in _CIGAR_OPS:
            raise RuntimeError(f"unexpected CIGAR operation {op} from parasail; expected I, D, "
                               "= and X only")
        total += n
        if op == _CIGAR_IDENTICAL:
            identical += n
    return score, identical / total


@functools.lru_cache(maxsize=1)
def parasail_agrees() -> bool:
    """True when parasail is installed and its halved scores equal Biopython's on the probe
    pairs (checked once per process)."""
    try:
        import parasail  # noqa: F401
    except ImportError:
        return False
    aligner = biopython_aligner()
    matrix = parasail_matrix()
    for a, b in probe_pairs():
        score, _ = parasail_score_identity(a, b, matrix, identity=False)
        if score != aligner.score(a, b):
            return False
    return True
