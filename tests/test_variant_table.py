"""read_variants: every accepted layout, the q-ary encoding it chooses, duplicates, round trips
and the errors that name the row and the residue."""
import numpy as np
import pandas as pd
import pytest

from plmscope.landscape import ALPHABET, Landscape, read_variants

GB1 = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"


def mutate(seq, mutant):
    chars = list(seq)
    for m in filter(None, mutant.replace(";", ":").split(":")):
        if m.upper() == "WT":
            continue
        chars[int(m[1:-1]) - 1] = m[-1]
    return "".join(chars)


def proteingym_frame():
    mutants = ["Y3A", "Y3A:K4W", "K4W", "Y3G;L5P", "", "Y3A"]
    return pd.DataFrame({"mutant": mutants,
                         "mutated_sequence": [mutate(GB1, m) for m in mutants],
                         "DMS_score": [1.0, 2.5, -0.5, 0.25, 0.0, 2.0],
                         "DMS_score_bin": [1, 1, 0, 0, 0, 1]})


def write(frame, path):
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".txt"])
def test_proteingym_layout_rebuilds_the_wildtype(tmp_path, suffix):
    frame = proteingym_frame()
    table = read_variants(write(frame, tmp_path / f"dms{suffix}"))
    assert table.wildtype == GB1
    assert table.sites == (3, 4, 5)
    assert table.observed == ("AG", "W", "P")
    assert table.q == 3  # two substitutes at residue 3
    assert table.substitutions[0] == "AG" and table.substitutions[1][0] == "W"
    assert len(table.substitutions[1]) == 2 and table.substitutions[1][1] not in "WK"
    L = table.landscape()
    assert [L.residues[i][0] for i in range(3)] == ["Y", "K", "L"]
    # first-seen order; the repeated Y3A is averaged and counted
    assert table.mutants == ("Y3A", "Y3A:K4W", "K4W", "Y3G:L5P", "")
    np.testing.assert_array_equal(table.variants,
                                  [[1, 0, 0], [1, 1, 0], [0, 1, 0], [2, 0, 1], [0, 0, 0]])
    np.testing.assert_allclose(table.scores, [1.5, 2.5, -0.5, 0.25, 0.0])
    np.testing.assert_array_equal(table.counts, [2, 1, 1, 1, 1])
    np.testing.assert_array_equal(table.row_variant, [0, 1, 2, 3, 4, 0])
    assert table.duplicates == 1
    np.testing.assert_array_equal(table.num_mutations, [1, 2, 1, 2, 0])
    assert L.sequences(table.variants) == [mutate(GB1, m) for m in table.mutants]


def test_generic_columns_and_given_wildtype(tmp_path):
    frame = pd.DataFrame({"id": [1, 2, 3], "variant": ["Y3F", "K4A:Y3W", "wt"],
                          "fitness_a": ["0.1", "-2", "1e-3"]})
    path = write(frame, tmp_path / "lib.csv")
    with pytest.raises(ValueError, match="no score column.*--score-column"):
        read_variants(path, GB1)
    table = read_variants(path, GB1, variant_column="variant", score_column="fitness_a")
    assert table.sites == (3, 4) and table.observed == ("FW", "A")
    np.testing.assert_array_equal(table.variants, [[1, 0], [2, 1], [0, 0]])
    np.testing.assert_allclose(table.scores, [0.1, -2, 1e-3])
    with pytest.raises(ValueError, match="no wild type.*--fasta"):
        read_variants(path, variant_column="variant", score_column="fitness_a")
    with pytest.raises(ValueError, match="--variant-column 'nope' is not a column"):
        read_variants(path, GB1, variant_column="nope", score_column="fitness_a")


def test_full_sequences_as_variants(tmp_path):
    seqs = [mutate(GB1, "Y3A:K4W"), GB1, mutate(GB1, "L5P")]
    frame = pd.DataFrame({"mutated_sequence": seqs, "score": [1, 2, 3]})
    table = read_variants(write(frame, tmp_path / "s.csv"), GB1)
    assert table.mutants == ("Y3A:K4W", "", "L5P")


def test_q20_follows_design_conventions(tmp_path):
    frame = pd.DataFrame({"mutant": ["Y3A", "Y3W:K4C"], "DMS_score": [1, 2]})
    table = read_variants(write(frame, tmp_path / "t.csv"), GB1, q=20)
    assert table.substitutions == (ALPHABET.replace("Y", ""), ALPHABET.replace("K", ""))
    L = Landscape(GB1, [3, 4])
    np.testing.assert_array_equal(table.variants, L.encode([mutate(GB1, m) for m in
                                                            ("Y3A", "Y3W:K4C")]))
    with pytest.raises(ValueError, match="residue 3 has 2 different substitutes but q=2"):
        read_variants(write(frame, tmp_path / "t.csv"), GB1, q=2)


def test_all_19_substitutes_choose_q20(tmp_path):
    mutants = [f"Y3{a}" for a in ALPHABET if a != "Y"]
    frame = pd.DataFrame({"mutant": mutants, "DMS_score": np.arange(19.0)})
    table = read_variants(write(frame, tmp_path / "t.csv"), GB1)
    assert table.q == 20 and table.variants[:, 0].tolist() == list(range(1, 20))


@pytest.mark.parametrize("q,subs", [(20, None), (4, ["ACD", "EFG", "HIK", "MNP"]),
                                    (2, ["A", "C", "D", "E"])])
def test_round_trip_variants_table_variants(tmp_path, q, subs):
    L = Landscape(GB1, [2, 7, 11, 30], q, subs)
    rng = np.random.default_rng(q)
    x = np.unique(rng.integers(0, q, size=(50, 4)).astype(np.uint8), axis=0)
    x = x[rng.permutation(len(x))]
    x = x[x.any(axis=1) | (np.arange(len(x)) == 0)]
    scores = rng.normal(size=len(x))
    frame = pd.DataFrame({"mutant": L.mutations(x), "DMS_score": scores})
    for suffix in (".csv", ".parquet"):
        table = read_variants(write(frame, tmp_path / f"r{suffix}"), GB1, q=q,
                              substitutions=subs)
        used = [i for i, s in enumerate(L.sites) if s in table.sites]
        assert table.landscape().residues == tuple(L.residues[i] for i in used)
        np.testing.assert_array_equal(table.variants, x[:, used])
        np.testing.assert_array_equal(table.scores, scores)
        again = read_variants(write(table.to_frame(), tmp_path / f"again{suffix}"), GB1, q=q,
                              substitutions=None if subs is None else
                              [subs[i] for i in used])
        np.testing.assert_array_equal(again.variants, table.variants)
        np.testing.assert_array_equal(again.scores, table.scores)


@pytest.mark.parametrize("mutant,score,match", [
    ("A3V", "1", r"row 2, residue 3: the mutation says the wild type has 'A' there but the "
                 r"wild-type sequence has 'Y'"),
    ("Y3B", "1", r"row 2, residue 3: mutant residue 'B' is not one of the 20 amino acids"),
    ("Y3*", "1", r"row 2, residue 3: mutant residue '\*'"),
    ("Y99A", "1", r"row 2, residue 99: the site is outside the protein \(residues 1..56\)"),
    ("Y3A", "n/a", r"row 2: score 'n/a' in column 'DMS_score' is not a number"),
    ("Y3A", "", r"row 2: score '' in column 'DMS_score' is not a number"),
    ("Y3A:Y3G", "1", r"row 2, residue 3: the variant mutates the site twice"),
    ("3A", "1", r"row 2: '3A' is not a mutation"),
])
def test_errors_name_row_and_residue(tmp_path, mutant, score, match):
    frame = pd.DataFrame({"mutant": ["K4A", mutant], "DMS_score": ["0.5", score]})
    with pytest.raises(ValueError, match=match):
        read_variants(write(frame, tmp_path / "bad.csv"), GB1)


def test_mutated_sequence_that_disagrees_is_named(tmp_path):
    frame = proteingym_frame()
    frame.loc[3, "mutated_sequence"] = mutate(GB1, "Y3G:L5A")
    with pytest.raises(ValueError, match=r"row 4, residue 5: mutated_sequence does not match"):
        read_variants(write(frame, tmp_path / "d.csv"))


def test_missing_file_and_wildtype_only(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        read_variants(tmp_path / "none.csv", GB1)
    frame = pd.DataFrame({"mutant": ["WT", ""], "DMS_score": [1, 2]})
    with pytest.raises(ValueError, match="every row is the wild type"):
        read_variants(write(frame, tmp_path / "wt.csv"), GB1)
