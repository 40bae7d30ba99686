import itertools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from plmscope.experiment import truth_counts
from plmscope.fourier import SparseFourier
from plmscope.landscape import reference_effects, wildtype_value
from plmscope.report.interactions import summary_lines, write_interactions_report
from plmscope.report.plots import pairwise_energy
from plmscope.report.tables import (SiteLabels, interaction_table, mutation_table, truth_table,
                                    write_table)
from reference import sparse_series_ref
from report_check import check_report, image_is_picture


def random_transform(rng, q, n, K, max_order=None):
    freqs = rng.integers(0, q, size=(K, n))
    if max_order is not None:
        for row in freqs:
            row[rng.permutation(n)[max_order:]] = 0
    values = rng.standard_normal(K) + 1j * rng.standard_normal(K)
    return SparseFourier(freqs, values, q)


def moebius_ref(sf, sites, states):
    """beta_S(a) by inclusion-exclusion over the subsets of S of f at wild type + a_T."""
    total = 0.0
    for size in range(len(sites) + 1):
        for T in itertools.combinations(range(len(sites)), size):
            x = np.zeros((1, sf.n), np.int64)
            for j in T:
                x[0, sites[j]] = states[j]
            total += (-1) ** (len(sites) - size) * sparse_series_ref(sf.frequencies, sf.values, sf.q, x)[0]
    return total


@settings(max_examples=40, deadline=None)
@given(q=st.integers(2, 5), n=st.integers(1, 5), K=st.integers(0, 10), order=st.integers(1, 5),
       seed=st.integers(0, 2**31))
def test_reference_effects_are_the_moebius_expansion(q, n, K, order, seed):
    rng = np.random.default_rng(seed)
    sf = random_transform(rng, q, n, K)
    effects = reference_effects(sf, order)
    for sites, states, effect in zip(effects["sites"], effects["states"], effects["effect"]):
        assert len(sites) <= order and all(s >= 1 for s in states)
        assert effect == pytest.approx(moebius_ref(sf, [s - 1 for s in sites], states), abs=1e-9)
    # every site set inside a support is listed with all (q-1)^|S| mutant states
    want = {S for k in sf.frequencies for size in range(1, order + 1)
            for S in itertools.combinations(np.flatnonzero(k).tolist(), size)}
    got = {tuple(s - 1 for s in S) for S in effects["sites"]}  # 1-based site numbers
    assert got == want
    assert len(effects) == sum((q - 1) ** len(S) for S in want)
    assert wildtype_value(sf) == pytest.approx(
        sparse_series_ref(sf.frequencies, sf.values, q, np.zeros((1, n), int))[0])


def test_reference_effects_rebuild_the_function():
    """f(x) = f(0) + sum over the site sets inside supp(x) of beta_S(x_S), all orders."""
    rng = np.random.default_rng(3)
    q, n = 3, 4
    sf = random_transform(rng, q, n, 12)
    effects = reference_effects(sf, n)
    table = {(tuple(i - 1 for i in s), a): e
             for s, a, e in zip(effects["sites"], effects["states"], effects["effect"])}
    for x in itertools.product(range(q), repeat=n):
        support = [i for i in range(n) if x[i]]
        total = wildtype_value(sf)
        for size in range(1, len(support) + 1):
            for S in itertools.combinations(support, size):
                total += table.get((S, tuple(x[i] for i in S)), 0.0)
        want = sparse_series_ref(sf.frequencies, sf.values, q, np.array([x]))[0]
        assert total == pytest.approx(want, abs=1e-9)


def test_reference_effects_bad_input():
    sf = SparseFourier(np.zeros((0, 3), int), np.zeros(0), 2)
    assert len(reference_effects(sf)) == 0
    with pytest.raises(ValueError, match="max_order must be an integer >= 1"):
        reference_effects(sf, 0)
    with pytest.raises(ValueError, match="transform must be a SparseFourier"):
        reference_effects(np.zeros(3))


LABELS2 = SiteLabels((3, 4, 9), ("YA", "KC", "LW"))


def test_tables_q2_with_residues(tmp_path):
    sf = SparseFourier([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 1]], [0.5, -2.0, 1.0, 0.25], 2)
    table = interaction_table(sf, LABELS2)
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert list(table["magnitude"]) == [2.0, 1.0, 0.5, 0.25]
    first = table.iloc[0]
    assert (first["order"], first["sites"], first["wildtype"], first["mutant"]) == (1, "3", "Y", "A")
    assert table.iloc[1]["sites"] == "3,4" and table.iloc[1]["mutant"] == "A,C"
    assert table.iloc[2]["order"] == 0 and table.iloc[2]["sites"] == ""
    mutations = mutation_table(sf, LABELS2, 2)
    # Walsh: beta_{3}(A) = f(A..) - f(wt) = -2(-1-1) + 1(-1-1) = 2
    row = mutations[mutations["mutations"] == "Y3A"].iloc[0]
    assert row["effect"] == pytest.approx(moebius_ref(sf, (0,), (1,)))
    pair = mutations[mutations["mutations"] == "Y3A:K4C"].iloc[0]
    assert pair["effect"] == pytest.approx(moebius_ref(sf, (0, 1), (1, 1)))
    assert (pair["wildtype"], pair["mutant"], pair["order"]) == ("Y,K", "A,C", 2)
    assert list(mutations["magnitude"]) == sorted(mutations["magnitude"], reverse=True)
    files = write_table(table, tmp_path, "interactions")
    back = pd.read_parquet(files[1])
    assert not any(np.iscomplexobj(back[c]) for c in back.columns)
    np.testing.assert_array_equal(back["real"], sf.values.real[np.argsort(-np.abs(sf.values))])
    csv = pd.read_csv(files[0], keep_default_na=False)
    assert list(csv["sites"]) == list(table["sites"])


def test_tables_without_residues_q20():
    rng = np.random.default_rng(0)
    sf = random_transform(rng, 20, 4, 6, max_order=2)
    labels = SiteLabels.plain(4)
    table = interaction_table(sf, labels)
    assert set(table["mutant"]) == {""} and set(table["wildtype"]) == {""}
    mutations = mutation_table(sf, labels, 2)
    assert all(":" not in m or m.count("(") == 2 for m in mutations["mutations"])
    assert len(mutations) == len(reference_effects(sf, 2))
    with pytest.raises(ValueError, match="labels name 3 sites"):
        interaction_table(sf, SiteLabels.plain(3))


def test_truth_table_statuses():
    q = 5
    truth = SparseFourier([[1, 0, 0], [4, 0, 0], [0, 2, 1], [0, 3, 4], [0, 0, 0]],
                          [1 + 1j, 1 - 1j, 0.5j, -0.5j, 3.0], q)
    got = SparseFourier([[1, 0, 0], [4, 0, 0], [2, 2, 0], [3, 3, 0], [0, 0, 0]],
                        [1.01 + 1j, 1.01 - 1j, 0.1, 0.1, 3.0], q)
    table = truth_table(got, truth, SiteLabels.plain(3))
    assert list(table["status"]) == ["found", "missed", "spurious"]
    assert table.iloc[0]["abs_error"] == pytest.approx(0.01)
    counts = truth_counts(got, truth, SiteLabels.plain(3))
    assert (counts["planted"], counts["found"], counts["missed"], counts["spurious"]) == (2, 1, 1, 1)


def test_pairwise_energy():
    sf = SparseFourier([[1, 2, 0], [0, 1, 1], [0, 3, 3], [1, 1, 1]], [1.0, 2.0, 1.0, 5.0], 4)
    e = pairwise_energy(sf)
    assert e[0, 1] == e[1, 0] == 1.0 and e[1, 2] == e[2, 1] == 5.0 and e[0, 2] == 0.0
    assert np.all(np.diag(e) == 0)


def test_blank_image_is_caught(tmp_path):
    from PIL import Image

    path = tmp_path / "blank.png"
    Image.new("RGB", (300, 200), "white").save(path)
    with pytest.raises(AssertionError):
        image_is_picture(path.read_bytes())


def small_summary(sf, labels, r2):
    energy = sf.energy_by_order()
    return {"title": "test run", "oracle": {"kind": "surrogate", "noise_sd": 0.0},
            "q": sf.q, "n": sf.n, "sites": labels.to_dict(),
            "qsft": {"b": 2, "num_subsample": 3, "num_repeat": 1, "delays": "nso", "seed": 0},
            "num_queries": 100, "num_samples": 120, "fraction_of_all_variants": 0.1,
            "num_coefficients": len(sf), "noise_sd_estimate": 0.01, "noise_threshold": 1e-4,
            "test": {"r2": r2, "size": 50}, "extra_tests": {}, "truth": None, "note": None,
            "energy_by_order": energy.tolist(), "timings": {"total": 1.0, "oracle": 0.5},
            "versions": {"plmscope": "test"}}


def test_interactions_report_as_a_person_sees_it(tmp_path):
    rng = np.random.default_rng(7)
    q, n = 4, 5
    freqs = np.array([[1, 0, 0, 0, 0], [3, 0, 0, 0, 0], [0, 2, 0, 0, 0], [1, 1, 0, 0, 0],
                      [3, 3, 0, 0, 0], [0, 0, 1, 0, 2], [0, 0, 3, 0, 2], [0, 0, 0, 0, 0]])
    values = np.array([1 + 1j, 1 - 1j, 0.7, 0.5j, -0.5j, 0.3, 0.3, -1.0])
    sf = SparseFourier(freqs, values, q)
    labels = SiteLabels((5, 8, 13, 21, 34), ("ACDE", "KLMN", "PQRS", "TVWY", "FGHI"))
    x = rng.integers(0, q, size=(50, n))
    y = sf.evaluate(x) + 0.01 * rng.standard_normal(50)
    summary = small_summary(sf, labels, 0.99)
    files = write_interactions_report(tmp_path, sf, summary, labels, y, sf.evaluate(x), 2)
    names = {p.name for p in files}
    assert {"interactions.csv", "interactions.parquet", "mutations.csv", "mutations.parquet",
            "energy_by_order.png", "pairwise_heatmap.png", "top_interactions.png",
            "test_fit.png", "report.html"} <= names
    page = check_report(tmp_path / "report.html",
                        {"energy_by_order.png", "pairwise_heatmap.png", "top_interactions.png",
                         "test_fit.png"})
    assert page.tables >= 3
    text = " ".join(page.text)
    assert "A5C:K8L" in text or "A5D:K8M" in text  # the mutation table names mutants
    assert "0.9900" in text  # R^2 as the summary states it
    assert page.headings.index("Single mutants") < page.headings.index(
        "For experts: the Fourier coefficients")  # mutations in letters lead, k comes last
    lines = summary_lines(summary)
    assert any("R^2" in line and "0.9900" in line for line in lines)


def test_report_without_test_set_or_residues(tmp_path):
    sf = SparseFourier([[1, 0], [0, 1], [1, 1], [0, 0]], [1.0, 0.5, 0.25, 2.0], 2)
    labels = SiteLabels.plain(2)
    summary = small_summary(sf, labels, None)
    files = write_interactions_report(tmp_path, sf, summary, labels, None, None, 2)
    assert "test_fit.png" not in {p.name for p in files}
    check_report(tmp_path / "report.html", {"energy_by_order.png", "pairwise_heatmap.png",
                                            "top_interactions.png"})
    json.dumps(summary)  # the summary stays JSON-ready
