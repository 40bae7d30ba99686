"""The q-ary variant encoding of docs/conventions.md: Landscape."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plmscope.landscape import ALPHABET, Landscape

GB1 = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"


def slow_sequence(wildtype, sites, residues, x):
    """One variant's sequence by explicit loops over the sites."""
    seq = list(wildtype)
    for i, site in enumerate(sites):
        seq[site - 1] = residues[i][x[i]]
    return "".join(seq)


def test_q20_states_are_alphabet_without_wildtype():
    L = Landscape(GB1, [3, 1, 56])
    assert (L.n, L.q, L.sites) == (3, 20, (3, 1, 56))
    np.testing.assert_array_equal(L.positions, [2, 0, 55])
    for i, site in enumerate(L.sites):
        wt = GB1[site - 1]
        assert L.residues[i][0] == wt
        assert L.residues[i][1:] == ALPHABET.replace(wt, "")
    # site 3 is Y: state 1 is A, state 19 is W (the last letter other than Y)
    assert L.residue(0, 1) == "A" and L.residue(0, 19) == "W"
    assert L.mutation(0, 1) == "Y3A"
    x = np.array([[0, 0, 0], [1, 0, 19], [19, 5, 2]], dtype=np.uint8)
    seqs = L.sequences(x)
    assert seqs[0] == GB1
    for row, seq in zip(x, seqs):
        assert seq == slow_sequence(GB1, L.sites, L.residues, row)
    assert L.mutations(x) == ["", "Y3A:E56Y", "Y3W:M1F:E56C"]


def test_q2_one_substitution_per_site():
    L = Landscape(GB1, [2, 4], q=2, substitutions="AW")
    assert L.residues == ("QA", "KW")
    assert L.sequences(np.array([[1, 1]]))[0] == "MAYW" + GB1[4:]
    same = Landscape(GB1, [2, 4], q=2, substitutions=["A", "W"])
    assert same == L and hash(same) == hash(L)


def test_general_q_with_substitutions():
    L = Landscape("ACDE", [1, 4], q=3, substitutions=["GH", "kL"])
    assert L.residues == ("AGH", "EKL")
    assert L.sequences(np.array([[2, 1]], np.uint8)) == ["HCDK"]


def test_flat_order_is_most_significant_site_first():
    L = Landscape("ACDEF", [1, 3, 5], q=4, substitutions=["GHI", "KLM", "NPQ"])
    allx = L.all_variants()
    assert allx.shape == (64, 3)
    expected = np.array(np.unravel_index(np.arange(64), (4, 4, 4))).T
    np.testing.assert_array_equal(allx, expected)
    np.testing.assert_array_equal(L.flatten(allx), np.arange(64))
    np.testing.assert_array_equal(L.unflatten(L.flatten(allx[::-1])), allx[::-1])


@settings(max_examples=60, deadline=None)
@given(data=st.data(), length=st.integers(1, 40), q=st.integers(2, 20), seed=st.integers(0, 2**31))
def test_roundtrip_hypothesis(data, length, q, seed):
    rng = np.random.default_rng(seed)
    wt = "".join(rng.choice(list(ALPHABET), size=length))
    n = data.draw(st.integers(1, length))
    sites = [int(s) + 1 for s in rng.choice(length, size=n, replace=False)]
    if q == 20:
        subs = None
    else:
        subs = ["".join(rng.choice([a for a in ALPHABET if a != wt[s - 1]], size=q - 1,
                                   replace=False)) for s in sites]
    L = Landscape(wt, sites, q, subs)
    m = data.draw(st.integers(0, 30))
    x = rng.integers(0, q, size=(m, n)).astype(np.uint8)
    seqs = L.sequences(x)
    assert len(seqs) == m
    for row, seq in zip(x, seqs):
        assert seq == slow_sequence(wt, sites, L.residues, row)
    np.testing.assert_array_equal(L.encode(seqs).reshape(m, n), x)
    assert Landscape.from_dict(L.to_dict()) == L
    if n * np.log2(q) < 62:
        np.testing.assert_array_equal(L.unflatten(L.flatten(x)), x)


@pytest.mark.parametrize("sites,match", [
    ([0], "outside the wild type"), ([57], "outside the wild type"), ([3, 3], "listed twice"),
    ([], "empty"), ([1.5], "integers"), ("12", "list of 1-based"), ([True], "integers"),
])
def test_bad_sites(sites, match):
    with pytest.raises(ValueError, match=match):
        Landscape(GB1, sites)


@pytest.mark.parametrize("kwargs,match", [
    ({"q": 1}, "q must be an integer in 2..20"), ({"q": 21}, "q must be"),
    ({"q": 2}, "substitutions=None needs q=20"),
    ({"q": 2, "substitutions": "A"}, "1 entries but there are n=2"),
    ({"q": 2, "substitutions": "QA"}, "wild-type residue 'Q'"),
    ({"q": 2, "substitutions": "AB"}, "not one of"),
    ({"q": 3, "substitutions": "AG"}, "needs q=2"),
    ({"q": 3, "substitutions": ["AA", "GH"]}, "repeats"),
    ({"q": 3, "substitutions": ["A", "GH"]}, "exactly 2"),
])
def test_bad_q_and_substitutions(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Landscape(GB1, [2, 4], **kwargs)


def test_bad_wildtype_and_variants():
    with pytest.raises(ValueError, match="non-empty"):
        Landscape("", [1])
    with pytest.raises(ValueError, match="residue 3"):
        Landscape("AC-DE", [1])
    with pytest.raises(ValueError, match="'X' at site 2"):
        Landscape("AXC", [2])
    L = Landscape(GB1, [2, 4])
    with pytest.raises(ValueError, match=r"x\[1, 0\] = 20 is outside"):
        L.sequences(np.array([[0, 0], [20, 0]]))
    with pytest.raises(ValueError, match="shape"):
        L.sequences(np.zeros((3,), np.uint8))
    with pytest.raises(ValueError, match="integers"):
        L.sequences(np.array([[0.5, 1.0]]))
    with pytest.raises(ValueError, match="not one of the sites"):
        L.encode(["A" + GB1[1:]])
    with pytest.raises(ValueError, match="length"):
        L.encode([GB1 + "A"])
    with pytest.raises(ValueError, match="too many"):
        Landscape(GB1, list(range(1, 11))).all_variants()
    assert L.sequences(np.zeros((0, 2), np.uint8)) == []
