"""Per-residue isotropy: overall and per amino-acid type."""
import numpy as np
import pytest

from plmscope.isotropy import ResidueIsotropy, summarize

ALPHABET = "ACDEFGHIKLMNPQRSTVWY"


def proteins(count, d, seed):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((21, d)) * 3  # per-type mean, so types differ from "all"
    out = []
    for _ in range(count):
        L = int(rng.integers(5, 60))
        seq = "".join(rng.choice(list(ALPHABET + "X"), size=L, p=[0.049] * 20 + [0.02]))
        idx = np.array([ALPHABET.find(a) for a in seq])
        emb = centres[idx] + rng.standard_normal((L, d)) * rng.uniform(0.2, 1.0, d)
        out.append((seq, emb.astype(np.float32)))
    return out


@pytest.mark.parametrize("buffer_rows", [1, 100, 100000])
def test_groups_match_direct_summaries(buffer_rows):
    data = proteins(40, 12, seed=1)
    res = ResidueIsotropy(buffer_rows=buffer_rows)
    for seq, emb in data:
        res.add(seq, emb)
    table = res.table().set_index("residues")
    allrows = np.concatenate([e for _, e in data])
    seqs = "".join(s for s, _ in data)
    assert table.loc["all", "n_points"] == len(seqs) == len(allrows)
    expected = summarize(allrows)
    assert table.loc["all", "isoscore"] == pytest.approx(expected.isoscore, abs=1e-7)
    assert table.loc["all", "mean_cosine"] == pytest.approx(expected.mean_cosine, abs=1e-12)
    letters = np.array(list(seqs))
    for a in ALPHABET:
        rows = allrows[letters == a]
        assert table.loc[a, "n_points"] == len(rows)
        if len(rows) >= 2:
            s = summarize(rows)
            assert table.loc[a, "isoscore"] == pytest.approx(s.isoscore, abs=1e-7)
            assert table.loc[a, "effective_dims"] == s.effective_dims
    other = allrows[letters == "X"]
    assert table.loc["other", "n_points"] == len(other)
    assert list(table.index[:21]) == ["all", *ALPHABET]
    assert res.n_proteins == 40 and res.dim == 12


def test_small_groups_get_notes_not_errors():
    res = ResidueIsotropy()
    rng = np.random.default_rng(2)
    res.add("ACA", rng.standard_normal((3, 50)))
    res.add("AAW", np.ones((3, 50)))
    table = res.table().set_index("residues")
    assert table.loc["C", "note"] == "fewer than 2 residues"
    assert np.isnan(table.loc["C", "isoscore"])
    assert table.loc["W", "n_points"] == 1
    assert table.loc["G", "n_points"] == 0
    assert "N < d" in table.loc["all", "note"]
    assert "other" not in table.index


def test_bad_input():
    res = ResidueIsotropy()
    with pytest.raises(ValueError, match="4 rows but the sequence has 3 residues"):
        res.add("ACD", np.ones((4, 8)))
    res.add("ACD", np.ones((3, 8)))
    with pytest.raises(ValueError, match="d=9, earlier proteins had d=8"):
        res.add("ACD", np.ones((3, 9)))
    with pytest.raises(ValueError, match="ASCII"):
        res.add("AΩD", np.ones((3, 8)))
    with pytest.raises(ValueError, match="alphabet"):
        ResidueIsotropy(alphabet="AAC")
