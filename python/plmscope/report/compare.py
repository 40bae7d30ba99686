"""The report of `plmscope compare`: tables, figures and report.html for runs side by side."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .html import Section, write_html
from .plots import _colour, _figure, _save
from .tables import write_table


def plot_energy_side_by_side(names, shares, path, title: str) -> Path:
    """Grouped bars: each run's share of variance by interaction order."""
    orders = max(len(s) for s in shares)
    fig = _figure(min(10.0, max(6.4, 1.2 + 0.5 * orders * len(names))), 3.8)
    ax = fig.add_subplot()
    width = 0.8 / len(names)
    palette = ["#3b75af", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for r, (name, share) in enumerate(zip(names, shares)):
        x = np.arange(1, len(share) + 1) + (r - (len(names) - 1) / 2) * width
        ax.bar(x, 100 * np.asarray(share), width, label=name, color=palette[r % len(palette)])
    ax.set_xticks(np.arange(1, orders + 1))
    ax.set_xlabel("interaction order (number of sites)")
    ax.set_ylabel("share of variance (%)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_effect_scatter(effects, a: str, b: str, path, title: str) -> Path:
    """Effects of run b against run a on the shared terms, coloured by order."""
    fig = _figure(4.8, 4.6)
    ax = fig.add_subplot()
    for order in sorted(set(effects["order"])):
        part = effects[effects["order"] == order]
        ax.scatter(part["effect_a"], part["effect_b"], s=8, alpha=0.6, color=_colour(order),
                   linewidths=0, label=f"order {order} ({len(part):,})")
    if len(effects):
        lo = float(min(effects["effect_a"].min(), effects["effect_b"].min()))
        hi = float(max(effects["effect_a"].max(), effects["effect_b"].max()))
        ax.plot([lo, hi], [lo, hi], color="black", lw=0.8)
        ax.legend(fontsize=7)
    ax.set_xlabel(f"{a}: mutation effect")
    ax.set_ylabel(f"{b}: mutation effect")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def write_compare_report(out: Path, runs, shares, comparisons, summary: dict) -> list[Path]:
    """compare_*.csv/.parquet per pair of runs, energy_by_order.png, one scatter per pair and
    report.html; returns the paths written."""
    out = Path(out)
    files = []
    names = [r.name for r in runs]
    energy_png = plot_energy_side_by_side(names, shares, out / "energy_by_order.png",
                                          "variance by interaction order")
    files.append(energy_png)
    orders = max(len(s) for s in shares)
    energy = {"order": list(range(1, orders + 1))}
    for name, share in zip(names, shares):
        energy[name] = list(np.asarray(share)) + [0.0] * (orders - len(share))
    import pandas as pd

    energy_frame = pd.DataFrame(energy)
    files += write_table(energy_frame, out, "energy_by_order")
    sections = [Section("Runs", facts=[(r.name, f"{r.path} (q = {r.q}, sites "
                                                f"{','.join(map(str, r.numbers))})")
                                       for r in runs]),
                Section("Variance by interaction order",
                        paragraphs=["Each run's share of variance per order of its Fourier "
                                    "transform (over its own sites)."],
                        figures=[(energy_png, "energy_by_order.png")],
                        tables=[("Share of variance by order (energy_by_order.csv)",
                                 energy_frame)])]
    for idx, c in enumerate(comparisons, start=1):
        stem = f"compare{idx}"
        files += write_table(c.effects, out, f"{stem}_effects")
        files += write_table(c.pairs, out, f"{stem}_pairs")
        files += write_table(c.by_order, out, f"{stem}_by_order")
        png = plot_effect_scatter(c.effects, c.a, c.b, out / f"{stem}_effects.png",
                                  f"{c.b} vs {c.a}: mutation effects on shared sites")
        files.append(png)
        overlap = "undefined (no pair interacts)" if c.top_overlap is None else \
            f"{c.top_overlap:.2f}"
        sections.append(Section(
            f"{c.b} vs {c.a}",
            facts=[("shared sites", f"{len(c.shared)}: {','.join(map(str, c.shared))}"),
                   (f"top-{c.top_k} site pairs in common", overlap),
                   (f"pairs only in {c.a}", "; ".join(c.only_a) or "none"),
                   (f"pairs only in {c.b}", "; ".join(c.only_b) or "none"),
                   ("site sets whose effects differ", str(len(c.differing_sets)))],
            paragraphs=["Effects are wild-type-reference mutation effects (the score change "
                        "of a set of mutations beyond its lower-order parts), which depend "
                        "only on variants of the shared sites, so runs over different site "
                        "sets compare term by term. A pair's strength is the sum of its "
                        "squared pairwise effects."],
            figures=[(png, f"{stem}_effects.png")],
            tables=[("Correlation of effects by order", c.by_order),
                     ("Site pairs by strength", c.pairs.head(20)),
                     ("Site sets whose effects differ most", c.differing_sets.head(20))]))
    sections.append(Section("Files", paragraphs=[
        "compareN_effects.csv: every shared term with both runs' effects; compareN_pairs.csv: "
        "site-pair strengths, ranks, top-k and presence; compareN_by_order.csv: correlations; "
        "energy_by_order.csv; summary.json: every number above."]))
    files.append(write_html(out / "report.html", summary["title"], sections))
    return files
