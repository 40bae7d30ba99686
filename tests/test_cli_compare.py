"""`plmscope compare` over interactions run folders made by q-SFT of planted surrogates: a run
against itself, a planted perturbation (exactly the planted differences reported), runs over
different site sets (compared on the shared ones) and runs of different proteins (refused)."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from plmscope.cli import main
from plmscope.experiment import run_interactions
from plmscope.fourier import SparseFourier, SurrogateOracle
from plmscope.landscape import Landscape
from plmscope.report.tables import SiteLabels
from report_check import check_report

GB1 = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"
Q = 4
SITES = [3, 4, 5, 6, 7, 8]
SUBS = {3: "ACD", 4: "WEF", 5: "GHI", 6: "KLM", 7: "NPQ", 8: "RST", 9: "AVW", 10: "CDE"}
BASE_TERMS = [((1, 0, 0, 0, 0, 0), 0.8 + 0.2j), ((0, 2, 0, 0, 0, 0), 0.5),
              ((0, 0, 1, 0, 0, 0), 0.3 - 0.4j), ((0, 0, 0, 0, 3, 0), 0.6),
              ((1, 3, 0, 0, 0, 0), 0.7 + 0.1j), ((0, 0, 2, 1, 0, 0), 0.5 - 0.3j)]
REMOVED = ((0, 0, 2, 1, 0, 0), 0.5 - 0.3j)   # the pair of residues 5 and 6
ADDED = ((0, 0, 0, 0, 1, 1), 0.6j)          # a new pair of residues 7 and 8


def real_transform(terms, mean=-1.0):
    """Each term with its conjugate mirror, so the function is real."""
    freqs, vals = [(0,) * len(terms[0][0])], [mean]
    for k, v in terms:
        mirror = tuple((-np.array(k)) % Q)
        freqs.append(k)
        vals.append(v)
        if mirror != tuple(k):
            freqs.append(mirror)
            vals.append(np.conj(v))
    return SparseFourier(np.array(freqs, np.uint8), np.array(vals), Q)


def make_run(path, truth, sites, wildtype=GB1):
    labels = SiteLabels.of(Landscape(wildtype, sites, Q, [SUBS[s] for s in sites]))
    run_interactions(SurrogateOracle(truth, 0.0), Q, len(sites), 2, num_subsample=3,
                     num_repeat=1, test=100, out=path, labels=labels, batch_size=100,
                     oracle_info={"kind": "planted", "noise_sd": 0.0, "wildtype": wildtype},
                     progress=False)
    found = SparseFourier.load(path / "transform.npz")
    assert len(found) == len(truth)  # q-SFT recovered the planted support, nothing else
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    base = real_transform(BASE_TERMS)
    perturbed = real_transform([t for t in BASE_TERMS if t != REMOVED] + [ADDED])
    # residues 5..10: the base function with residues 3 and 4 kept wild type, plus a pair on
    # the new residues 9 and 10 (mutation effects over residues 5..8 are unchanged)
    shifted = [(k[2:] + (0, 0), v) for k, v in BASE_TERMS if any(k[2:])]
    other_sites = real_transform(shifted + [((0, 0, 0, 0, 1, 2), 0.4 + 0.4j)])
    return {"base": make_run(root / "base", base, SITES),
            "perturbed": make_run(root / "perturbed", perturbed, SITES),
            "shifted": make_run(root / "shifted", other_sites, [5, 6, 7, 8, 9, 10])}


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def comparison(out):
    return json.loads((out / "summary.json").read_text())["comparisons"]


def test_a_run_with_itself(runs, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(runs["base"], copy)
    out = tmp_path / "cmp"
    rc, text, err = cli(capsys, "compare", runs["base"], copy, "--out", out)
    assert rc == 0, err
    (c,) = comparison(out)
    assert c["shared_sites"] == SITES
    for row in c["by_order"]:
        assert row["pearson"] == pytest.approx(1.0, abs=1e-12)
        assert row["spearman"] == pytest.approx(1.0, abs=1e-12)
        assert row["max_abs_difference"] < 1e-9
    assert c["top_overlap"] == 1.0
    assert c["pairs_only_in_a"] == c["pairs_only_in_b"] == []
    assert c["differing_site_sets"] == []
    check_report(out / "report.html", {"energy_by_order.png", "compare1_effects.png"})


def test_planted_perturbation_reports_exactly_the_planted_differences(runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    rc, text, err = cli(capsys, "compare", runs["base"], runs["perturbed"], "--out", out)
    assert rc == 0, err
    (c,) = comparison(out)
    assert c["pairs_only_in_a"] == ["5,6"] and c["pairs_only_in_b"] == ["7,8"]
    assert "pairs only in base: 5,6" in text and "pairs only in perturbed: 7,8" in text
    differing = {(d["order"], d["sites"]) for d in c["differing_site_sets"]}
    # a Fourier pair term also moves the single-mutant effects of its two sites
    assert differing == {(2, "5,6"), (2, "7,8"), (1, "5"), (1, "6"), (1, "7"), (1, "8")}
    pairs = pd.read_csv(out / "compare1_pairs.csv", dtype={"sites": str})
    strong = pairs.set_index("sites")
    assert strong.loc["3,4", "strength_a"] == pytest.approx(strong.loc["3,4", "strength_b"], rel=1e-4)
    assert strong.loc["5,6", "strength_b"] < 1e-18 and strong.loc["7,8", "strength_a"] < 1e-18
    # one of the two present pairs is shared: half the top pairs in common
    assert c["top_overlap"] == 0.5
    effects = pd.read_csv(out / "compare1_effects.csv", dtype={"sites": str})
    untouched = effects[~effects["sites"].isin(["5,6", "7,8", "5", "6", "7", "8"])]
    np.testing.assert_allclose(untouched["effect_a"], untouched["effect_b"], atol=1e-3)


def test_different_site_sets_compare_on_shared_sites(runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    rc, text, err = cli(capsys, "compare", runs["base"], runs["shifted"], runs["perturbed"],
                        "--out", out)
    assert rc == 0, err
    first, second, third = comparison(out)
    assert (first["a"], first["b"]) == ("base", "shifted")
    assert first["shared_sites"] == [5, 6, 7, 8]
    assert first["differing_site_sets"] == []  # the effects over residues 5..8 are the same
    # (up to the regression decoder's shrinkage, below --tol)
    assert all(row["pearson"] == pytest.approx(1.0, abs=1e-6) for row in first["by_order"])
    effects = pd.read_csv(out / "compare1_effects.csv", dtype={"sites": str})
    # residue 8 carries no effect in the base run; residues 3, 4, 9, 10 are not shared
    assert set(",".join(effects["sites"]).split(",")) == {"5", "6", "7"}
    assert (second["a"], second["b"]) == ("base", "perturbed") and third["b"] == "perturbed"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["energy_by_order"]) == {"base", "shifted", "perturbed"}
    check_report(out / "report.html", {"energy_by_order.png", "compare1_effects.png",
                                       "compare2_effects.png", "compare3_effects.png"})


def test_different_proteins_are_refused(runs, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(runs["base"], other)
    summary = json.loads((other / "summary.json").read_text())
    summary["oracle"]["wildtype"] = GB1[:19] + "W" + GB1[20:]
    (other / "summary.json").write_text(json.dumps(summary))
    rc, _, err = cli(capsys, "compare", runs["base"], other, "--out", tmp_path / "cmp")
    assert rc == 2
    assert "different proteins: residue 20 is A vs W" in err
    # a run that knows only the residues at its sites: checked against the other's wild type
    del summary["oracle"]["wildtype"]
    summary["sites"]["residues"][0] = "A" + summary["sites"]["residues"][0][1:]
    (other / "summary.json").write_text(json.dumps(summary))
    rc, _, err = cli(capsys, "compare", runs["base"], other, "--out", tmp_path / "cmp")
    assert rc == 2 and "different proteins: residue 3 is Y vs A" in err
    rc, _, err = cli(capsys, "compare", runs["base"], tmp_path, "--out", tmp_path / "cmp")
    assert rc == 2 and "not a finished interactions or fit run folder" in err
