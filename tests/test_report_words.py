"""What a protein scientist reads: each real interaction once (k and -k together), ranks from
1, mutations in residue letters, one sentence for coefficients vs interactions, 1-based sites
everywhere, the single-mutant map; and the figures' layout defects of issue 16 (a clipped
title, percentages on error bars, a saturated scale for a negligible maximum)."""
import json
import re

import numpy as np
import pytest

from plmscope.cli import main
from plmscope.fourier import SparseFourier, random_real_transform
from plmscope.report.interactions import coefficients_line, peel_warning
from plmscope.report.plots import HEATMAP_FLOOR_PCT, energy_figure, pairwise_figure
from plmscope.report.tables import (SiteLabels, conjugate_pairs, effect_table, num_effects,
                                    single_mutant_grid)
from report_check import check_report


def real_transform(seed=0, q=20, n=6):
    rng = np.random.default_rng(seed)
    return random_real_transform(q, n, {1: (5, 1.0), 2: (4, 0.6), 3: (2, 0.4)}, -1.0, rng)


def test_effect_table_lists_each_real_effect_once_from_rank_1():
    sf = real_transform()
    labels = SiteLabels((3, 7, 12, 20, 33, 40), ("ACDEFGHIKLMNPQRSTVWY",) * 6)
    table = effect_table(sf, labels)
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    assert len(table) == 11 == num_effects(sf)  # 5 + 4 + 2 planted pairs
    assert (np.diff(table["magnitude"].to_numpy()) <= 1e-12).all()
    seen = set()
    for sites, freq in zip(table["sites"], table["frequency"]):
        k = tuple(int(v) for v in freq.split(","))
        assert (sites, tuple((-v) % 20 for v in k)) not in seen  # never the mirror again
        seen.add((sites, k))
    assert table["variance_pct"].sum() == pytest.approx(100.0)
    assert table["sites"].iloc[0][0] == "A"  # residue letter, then the residue number


def test_conjugate_pairs_count_self_mirrors_once():
    sf = SparseFourier([[0, 0], [1, 0], [1, 1], [0, 1]], [3.0, 1.0, 0.5, -0.2], 2)
    idx, weight = conjugate_pairs(sf)  # q = 2: every k is its own mirror
    assert sorted(idx.tolist()) == [1, 2, 3] and set(weight.tolist()) == {1}


def test_one_sentence_for_coefficients_and_interactions():
    sf = real_transform()
    summary = {"num_coefficients": len(sf), "num_effects": num_effects(sf), "has_mean": True}
    # seed 0 plants one order-1 k with k = -k (k_i = q/2): 10 pairs, 1 self-mirror, the mean
    assert len(sf) == 22 and sorted(conjugate_pairs(sf)[1]).count(1) == 1
    assert coefficients_line(summary) == ("11 interactions (22 Fourier coefficients: the mean "
                                          "+ each interaction's conjugate pair k, -k)")


def test_single_mutant_grid_is_the_transform_at_single_mutants():
    sf = real_transform(3, q=5, n=4)
    labels = SiteLabels((2, 4, 6, 8), ("ACDEF", "CADEF", "DACEF", "EACDF"))
    grid, names = single_mutant_grid(sf, labels)
    wt = sf.evaluate(np.zeros((1, 4), np.uint8))[0]
    for i in range(4):
        for v in range(5):
            x = np.zeros((1, 4), np.uint8)
            x[0, i] = v
            assert grid[i, v] == pytest.approx(sf.evaluate(x)[0] - wt, abs=1e-12)
            assert names[i][v] == labels.residues[i][v]


def test_python_api_prints_1_based_sites():
    sf = SparseFourier([[0, 0, 0], [0, 2, 0], [1, 0, 3]], [1.0, 0.5, 0.25], 4)
    assert list(sf.to_frame()["sites"]) == [(), (2,), (1, 3)]
    from plmscope.landscape import reference_effects

    effects = reference_effects(sf, 2)
    assert set(effects["sites"]) == {(1,), (2,), (3,), (1, 3)}


def test_percentages_sit_above_the_error_bars():
    energy = np.array([0.0, 6.0, 3.0, 1.0, 0.2])
    share = energy[1:] / energy[1:].sum()
    spread = np.vstack([share * 0.5, np.minimum(share * 1.6, 1.0)])
    fig = energy_figure(energy, "a long title " * 12, spread)
    fig.tight_layout()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_text().endswith("%")]
    assert len(labels) == 4
    tops = []  # (x, y) in pixels of the upper end of every error bar
    for collection in ax.collections:
        for seg in collection.get_segments():
            px = ax.transData.transform(seg)
            tops.append((px[0, 0], px[:, 1].max()))
    assert len(tops) == 4
    for t in labels:
        box = t.get_window_extent(renderer)
        x, top = min(tops, key=lambda p: abs(p[0] - (box.x0 + box.x1) / 2))
        assert box.x0 <= x <= box.x1
        assert box.y0 >= top + 1, (t.get_text(), box.y0, top)  # above the bar's end, clear
    title = ax.title.get_window_extent(renderer)
    assert title.x0 >= 0 and title.x1 <= fig.bbox.width  # wrapped, not clipped


def test_pairwise_scale_has_a_floor():
    # pairs carrying 0.014% of the variance must not fill the scale
    sf = SparseFourier([[1, 0, 0], [0, 1, 0], [1, 1, 0]], [1.0, 1.0, 0.0167], 2)
    fig = pairwise_figure(sf, SiteLabels.plain(3), "pairs")
    vmin, vmax = fig.axes[0].images[0].get_clim()
    assert (vmin, vmax) == (0, HEATMAP_FLOOR_PCT)
    assert "floor" in fig.axes[1].get_ylabel()
    big = SparseFourier([[1, 0, 0], [1, 1, 0]], [1.0, 1.0], 2)
    assert pairwise_figure(big, SiteLabels.plain(3), "pairs").axes[0].images[0].get_clim()[1] \
        == pytest.approx(50.0)


def test_peel_cap_warning():
    assert peel_warning({"singletons_per_round": [40, 3]}) is None
    text = peel_warning({"singletons_per_round": [30] + [2] * 99})
    assert "100-round cap" in text and "--b" in text
    summary = json.loads(json.dumps({"singletons_per_round": [2] * 100}))
    assert peel_warning(summary)


def test_demo_console_and_report_agree(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    page = check_report(out / "report.html", {"single_mutants.png", "energy_by_order.png",
                                              "pairwise_heatmap.png", "top_interactions.png"})
    html = (out / "report.html").read_text()
    console_time = re.search(r"time:\s+(\S+ s \(oracle [^)]*\))", text).group(1)
    assert console_time in html  # the report's time is the console's
    assert "24 interactions (49 Fourier coefficients" in text
    assert re.search(r"single mutants: [A-Z]\d+[A-Z] ", text)  # letters lead
    assert re.search(r"pair epistasis: [A-Z]\d+[A-Z]:[A-Z]\d+[A-Z] ", text)
    assert "For experts: the Fourier coefficients" in page.headings
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_effects"] == 24 and summary["timings"]["report"] > 0


def test_peel_round_cap_warning_in_console_and_report(tmp_path):
    """A peel that ran to the 100-round cap is flagged in the console lines and the report
    (the issue's GB1 b=3 case no longer reaches the cap since onto matrices are built
    directly, so the cap is planted in a real run's summary)."""
    from plmscope.experiment import run_interactions
    from plmscope.fourier import SparseFourier, SurrogateOracle
    from plmscope.report.interactions import PEEL_ROUND_CAP, peel_warning, summary_lines

    sf = SparseFourier([[1, 0, 0], [2, 0, 0], [0, 0, 0]], [1 + 1j, 1 - 1j, 0.5], 3)
    res = run_interactions(SurrogateOracle(sf), 3, 3, 1, num_subsample=2, num_repeat=1,
                           test=5, progress=False, report=False)
    assert peel_warning(res.summary) is None
    assert not any("WARNING: peeling ran" in line for line in summary_lines(res.summary))
    capped = dict(res.summary, singletons_per_round=[2] * PEEL_ROUND_CAP)
    assert "100-round cap" in peel_warning(capped)
    assert any("WARNING: peeling ran" in line for line in summary_lines(capped))
