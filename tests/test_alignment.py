"""plmscope.alignment: PAM250 global alignment (parasail == Biopython), pair sampling."""
import numpy as np
import pytest

from conftest import data_file
from plmscope.alignment import (
    align_pairs, all_pairs, global_alignment, parasail_agrees, prepare_sequences,
    sample_pairs, sample_proteins,
)
from plmscope.alignment.scoring import biopython_aligner, pam250, probe_pairs

AA = "ACDEFGHIKLMNPQRSTVWY"


def read_fasta(path):
    from Bio import SeqIO

    with open(path) as fh:
        return [str(rec.seq) for rec in SeqIO.parse(fh, "fasta")]


def mutate(seq, rate, rng):
    """Substitutions, insertions and deletions, each at about rate / 3 per residue."""
    out = []
    for c in seq:
        r = rng.random()
        if r < rate / 3:
            continue
        if r < 2 * rate / 3:
            out.append(AA[rng.integers(20)])
        out.append(AA[rng.integers(20)] if r < rate and r >= 2 * rate / 3 else c)
    return "".join(out) or "M"


@pytest.fixture(scope="module")
def protein_family():
    wild = read_fasta(data_file("wildtypes.fasta"))
    assert len(wild) == 3 and all(set(s) <= set(AA) for s in wild)
    rng = np.random.default_rng(7)
    seqs = list(wild)
    for w in wild:
        seqs += [mutate(w, rate, rng) for rate in (0.02, 0.1, 0.3, 0.6, 0.9)]
    return seqs


def test_parasail_reproduces_biopython_scores_on_real_proteins(protein_family):
    assert parasail_agrees()
    pairs = all_pairs(np.arange(len(protein_family)))
    fast = align_pairs(protein_family, pairs, backend="parasail", nthreads=2)
    ref = align_pairs(protein_family, pairs, backend="biopython")
    assert fast.backend == "parasail" and ref.backend == "biopython"
    np.testing.assert_array_equal(fast.score, ref.score)
    # Ties between optimal alignments are broken differently; identities stay close.
    diff = np.abs(fast.identity - ref.identity)
    assert diff.max() < 0.03 and diff.mean() < 0.005
    assert np.all((0 <= fast.identity) & (fast.identity <= 1))
    # Each wild type against itself: identity 1, score = sum of PAM250 diagonal.
    self_pairs = np.array([[0, 0], [1, 1]])
    res = align_pairs(protein_family, self_pairs)
    pam = pam250()
    assert res.score[0] == sum(pam[c][c] for c in protein_family[0])
    np.testing.assert_array_equal(res.identity, [1.0, 1.0])


@pytest.mark.parametrize("seed", [0, 1])
def test_random_pairs_scores_equal_biopython_identities_within_004(seed):
    # The README's promise: scores identical, identity within 0.04 (ties between optimal
    # alignments, docs/geometry.md). Families of random proteins (100-300 residues) with
    # substitutions and indels at rates up to 0.8, and unrelated pairs across families, so
    # identities span the whole range; the unrelated pairs have the most ties.
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(4):
        base = "".join(rng.choice(list(AA), int(rng.integers(100, 300))))
        seqs += [base] + [mutate(base, rate, rng) for rate in rng.uniform(0, 0.8, 9)]
    pairs = rng.integers(0, len(seqs), size=(300, 2))
    fast = align_pairs(seqs, pairs, backend="parasail", nthreads=2)
    ref = align_pairs(seqs, pairs, backend="biopython")
    np.testing.assert_array_equal(fast.score, ref.score)
    diff = np.abs(fast.identity - ref.identity)
    assert diff.max() <= 0.04, f"pair {pairs[np.argmax(diff)]}: identity differs by {diff.max()}"
    assert np.mean(diff > 0) < 0.2  # ties that change the identity are the exception
    assert np.ptp(ref.identity) > 0.5  # the pairs span low and high identity


def test_scores_follow_the_gap_convention():
    pam = pam250()
    # One gap of length 3: open -10 for the first position, -0.5 for each further one.
    a, b = "WWWWWCCCWWWWW", "WWWWWWWWWW"
    expected = 10 * pam["W"]["W"] - 10 - 2 * 0.5
    for backend in ("parasail", "biopython"):
        r = align_pairs([a, b], [[0, 1]], backend=backend)
        assert r.score[0] == expected
        assert r.identity[0] == pytest.approx(10 / 13)
    assert global_alignment(a, b) == (expected, pytest.approx(10 / 13))


def test_identity_counts_end_gaps_in_the_alignment_length():
    # parasail's nw "stats" would report 1.0 here (leading gaps left out of the length).
    for backend in ("parasail", "biopython"):
        r = align_pairs(["KCVQQGVAYCMGCKYWF", "W"], [[0, 1]], backend=backend)
        assert r.identity[0] == pytest.approx(1 / 17)
    r = align_pairs(["AAAAAAAAAA", "AAAAA"], [[0, 1]])
    assert r.identity[0] == 0.5


def test_probe_pairs_and_saturating_lengths_match_biopython():
    aligner = biopython_aligner()
    seqs = [s for pair in probe_pairs() for s in pair] + ["W" * 1100, "W" * 1000 + "C" * 50]
    pairs = np.array([[2 * k, 2 * k + 1] for k in range(len(seqs) // 2)])
    r = align_pairs(seqs, pairs, nthreads=2)
    expected = [aligner.score(seqs[i], seqs[j]) for i, j in pairs]
    np.testing.assert_array_equal(r.score, expected)
    assert r.score[-1] > 32767 / 2  # took the 32-bit path
    score_only = align_pairs(seqs, pairs, identity=False)
    assert score_only.identity is None
    np.testing.assert_array_equal(score_only.score, expected)


def test_threads_and_progress(protein_family):
    pairs = sample_pairs(len(protein_family), 1.0, seed=0)
    seen = []
    one = align_pairs(protein_family, pairs, nthreads=1, progress=seen.append)
    two = align_pairs(protein_family, pairs, nthreads=2)
    np.testing.assert_array_equal(one.score, two.score)
    np.testing.assert_array_equal(one.identity, two.identity)
    assert sum(seen) == len(pairs)
    seen.clear()
    align_pairs(protein_family[:4], [[0, 1], [2, 3]], backend="biopython",
                progress=seen.append)
    assert sum(seen) == 2


def test_residues_pam250_cannot_score():
    with pytest.raises(ValueError, match=r"sequence 1 has 'U' at position 2.*nonstandard='map'"):
        align_pairs(["ACDE", "ACUE"], [[0, 1]])
    with pytest.raises(ValueError, match=r"sequence 0 has 'c' at position 1"):
        prepare_sequences(["AcD"])
    assert prepare_sequences(["AcUOJb*"], nonstandard="map") == ["ACCKXB*"]
    mapped = align_pairs(["ACUEO", "acceK"], [[0, 1]], nonstandard="map")
    plain = align_pairs(["ACCEK", "ACCEK"], [[0, 1]])
    assert mapped.score[0] == plain.score[0]
    with pytest.raises(ValueError, match="cannot score"):
        prepare_sequences(["AC-D"], nonstandard="map")
    with pytest.raises(ValueError, match="empty"):
        prepare_sequences(["ACD", ""])
    with pytest.raises(ValueError, match="nonstandard must be"):
        prepare_sequences(["ACD"], nonstandard="drop")


def test_pairs_argument_checks():
    seqs = ["ACD", "ACE", "W"]
    empty = align_pairs(seqs, [])
    assert empty.score.shape == (0,) and empty.identity.shape == (0,)
    with pytest.raises(ValueError, match=r"pairs\[1\] = \[2, 3\] indexes outside the 3"):
        align_pairs(seqs, [[0, 1], [2, 3]])
    with pytest.raises(ValueError, match=r"shape \(P, 2\)"):
        align_pairs(seqs, [0, 1])
    with pytest.raises(ValueError, match="backend must be"):
        align_pairs(seqs, [[0, 1]], backend="emboss")
    with pytest.raises(ValueError, match="nthreads"):
        align_pairs(seqs, [[0, 1]], nthreads=-1)


def test_pair_sampling_is_seeded_and_complete():
    a = sample_pairs(1000, 0.05, seed=3)
    assert a.shape == (50 * 49 // 2, 2)
    np.testing.assert_array_equal(a, sample_pairs(1000, 0.05, seed=3))
    assert not np.array_equal(a, sample_pairs(1000, 0.05, seed=4))
    assert np.all(a[:, 0] < a[:, 1])
    chosen = sample_proteins(1000, 0.05, seed=3)
    assert len(np.unique(a)) == len(chosen) == 50
    assert set(np.unique(a)) == set(chosen.tolist())
    assert sample_pairs(10, 0.01).shape == (1, 2)  # at least two proteins
    assert all_pairs([5]).shape == (0, 2)
    for bad in (0.0, 1.5, -0.1, True):
        with pytest.raises(ValueError, match="fraction must be in"):
            sample_pairs(10, bad)
    with pytest.raises(ValueError, match="at least 2 proteins"):
        sample_pairs(1, 0.5)
