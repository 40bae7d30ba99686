"""The report of an interactions run: tables, figures, report.html and a text summary."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..fourier import SparseFourier
from .html import Section, write_html
from .plots import (plot_energy_by_order, plot_pairwise_heatmap, plot_test_fit,
                    plot_top_interactions)
from .tables import (SiteLabels, ViewSpec, interaction_table, mutation_table, truth_table,
                     view_table, weights_table, write_table)

TOP = 20


def _oracle_line(info: dict) -> str:
    kind = info.get("kind")
    if kind == "surrogate":
        src = info.get("path", f"transform {info.get('transform')}")
        return f"surrogate: {src} + noise sd {info.get('noise_sd'):.4g}"
    if kind == "model":
        return f"model {info.get('model')} ({info.get('scorer')})"
    if kind == "planted":
        return f"built-in planted landscape (known truth), noise sd {info.get('noise_sd'):.4g}"
    return str(kind)


def _sites_line(summary: dict) -> str:
    labels = SiteLabels.from_dict(summary["sites"])
    return ", ".join(labels.site(i) for i in range(labels.n))


def summary_lines(summary: dict) -> list[str]:
    """A person-readable summary of summary.json (what the CLI prints)."""
    q, n = summary["q"], summary["n"]
    qs = summary["qsft"]
    lines = [summary["title"]]
    if summary.get("note"):
        lines.append(f"  NOTE: {summary['note']}")
    lines += [
        f"  oracle:        {_oracle_line(summary['oracle'])}",
        f"  sites:         {_sites_line(summary)} (n = {n}, q = {q})",
        f"  q-SFT:         b = {qs['b']}, {qs['num_subsample']} subsamples, {qs['delays']} delays x "
        f"{qs['num_repeat']}, seed {qs['seed']}",
        f"  queries:       {summary['num_queries']:,} distinct ({summary['num_samples']:,} design "
        f"points; {summary['fraction_of_all_variants']:.3g} of all {q}^{n} variants)",
        f"  found:         {summary['num_coefficients']:,} Fourier coefficients; noise sd "
        f"{summary['noise_sd_estimate']:.3g}, bin threshold {summary['noise_threshold']:.3g}",
    ]
    test = summary["test"]
    if test["r2"] is not None:
        lines.append(f"  R^2:           {test['r2']:.4f} on {test['size']:,} held-out random variants "
                     "(none of them a q-SFT query)")
    elif test.get("requested") and not test["size"]:
        lines.append("  R^2:           not measured: every variant is a q-SFT query, none is "
                     "left to hold out")
    elif test["size"]:
        lines.append(f"  R^2:           undefined on {test['size']} held-out variant(s) (constant "
                     "scores or a single variant)")
    else:
        lines.append("  R^2:           not measured (--test 0)")
    if summary.get("truth"):
        c = summary["truth"]
        err = c["max_abs_error_found"]
        lines.append(f"  vs truth:      {c['found']} of {c['planted']} planted interactions found"
                     f" (max |error| {err:.2g})" if err is not None else
                     f"  vs truth:      {c['found']} of {c['planted']} planted interactions found")
        lines.append(f"                 {c['missed']} missed, {c['spurious']} spurious")
    for name, res in summary.get("extra_tests", {}).items():
        r2 = "undefined" if res["r2"] is None else f"{res['r2']:.4f}"
        lines.append(f"  R^2 ({name}): {r2} on {res['size']:,} variants")
    if summary.get("view"):
        lines.append(f"  view:          {summary['view']['name']} "
                     f"({summary['view']['weights']}); effects_{summary['view']['name']}.csv")
    energy = np.asarray(summary["energy_by_order"])
    total = energy[1:].sum()
    if total > 0:
        share = energy[1:] / total
        shown = " ".join(f"{j}:{100 * s:.1f}%" for j, s in enumerate(share, start=1) if s >= 0.0005)
        lines.append(f"  variance by order: {shown}")
    t = summary["timings"]
    lines.append(f"  time:          {t.get('total', sum(v for v in t.values())):.1f} s "
                 f"(oracle {t.get('oracle', 0):.1f} s, decode {t.get('decode', 0):.2f} s)")
    return lines


def write_interactions_report(folder, transform: SparseFourier, summary: dict,
                              labels: SiteLabels, test_y=None, test_yhat=None,
                              reference_order: int = 2,
                              truth: SparseFourier | None = None,
                              view: ViewSpec | None = None, lines=None, extra_sections=(),
                              files_note: str | None = None) -> list[Path]:
    """Write interactions.csv/.parquet, mutations.csv/.parquet, the figures and report.html
    into folder (with `view`, also effects_<view>.csv/.parquet and its section); returns the
    paths written. Reports of other runs than q-SFT (a regression fit) pass their own
    summary `lines`, `extra_sections` (placed before the Files section) and `files_note`."""
    folder = Path(folder)
    q, n = transform.q, transform.n
    interactions = interaction_table(transform, labels)
    mutations = mutation_table(transform, labels, reference_order)
    files = write_table(interactions, folder, "interactions")
    files += write_table(mutations, folder, "mutations")
    title = summary["title"]
    energy_png = plot_energy_by_order(transform.energy_by_order(), folder / "energy_by_order.png",
                                      f"{title}: variance by interaction order")
    heatmap_png = plot_pairwise_heatmap(transform, labels, folder / "pairwise_heatmap.png",
                                        "pairwise interactions between sites")
    top_png = plot_top_interactions(interactions, mutations, q, folder / "top_interactions.png",
                                    title, top=TOP)
    files += [energy_png, heatmap_png, top_png]
    figures_fit = []
    if test_y is not None and len(test_y) >= 2 and summary["test"]["r2"] is not None:
        fit_png = plot_test_fit(test_y, test_yhat, summary["test"]["r2"], folder / "test_fit.png",
                                "held-out variants")
        files.append(fit_png)
        figures_fit.append((fit_png, "Each point is a random variant the recovery never queried: "
                                     "the oracle's score against the recovered transform's."))

    facts = [(line.split(":", 1)[0].strip(), line.split(":", 1)[1].strip())
             for line in (lines or summary_lines(summary))[1:]
             if ":" in line and not line.strip().startswith("NOTE")]
    facts.append(("versions", ", ".join(f"{k} {v}" for k, v in summary["versions"].items())))
    shown_cols = ["rank", "order", "sites", "wildtype", "frequency", "mutant", "real", "imag",
                  "magnitude"]
    fourier_top = interactions[interactions["order"] > 0].head(TOP)[
        [c for c in shown_cols if labels.residues is not None or c not in ("wildtype", "mutant")]]
    mutation_top = mutations.head(TOP)
    sections = [
        Section("Summary", facts=facts, note=summary.get("note")),
        Section("Variance by interaction order",
                paragraphs=["Share of the score variance carried by the recovered Fourier "
                            "coefficients of each order (1 = single-site effects, 2 = pairwise "
                            "interactions, ...)."],
                figures=[(energy_png, "energy_by_order.png")]),
        Section("Pairwise interactions",
                paragraphs=["Energy of the order-2 Fourier coefficients of each site pair, as a "
                            "share of the variance."],
                figures=[(heatmap_png, "pairwise_heatmap.png")]),
        Section("Largest interactions",
                paragraphs=["Left: the largest Fourier coefficients (a frequency k and its "
                            "mirror -k carry conjugate values; one of each pair is shown). "
                            "Right: the largest effects of concrete mutant combinations beyond "
                            "their single and lower-order effects, relative to the wild type."],
                figures=[(top_png, "top_interactions.png")],
                tables=[(f"Top {TOP} Fourier coefficients (all in interactions.csv)", fourier_top),
                        (f"Top {TOP} mutation effects, orders 1..{reference_order} "
                         "(all in mutations.csv)", mutation_top)]),
    ]
    if view is not None:
        section, written = view_section(folder, transform, labels, view, reference_order, title)
        files += written
        sections.insert(1, section)
    if figures_fit:
        sections.append(Section("Held-out accuracy", figures=figures_fit))
    if truth is not None:
        table = truth_table(transform, truth, labels)
        files += write_table(table, folder, "truth")
        truth.save(folder / "truth.npz")
        c = summary["truth"]
        sections.insert(1, Section(
            "Recovered vs planted truth",
            paragraphs=[f"The landscape is planted, so the truth is known: {c['found']} of "
                        f"{c['planted']} planted interactions recovered, {c['missed']} missed, "
                        f"{c['spurious']} spurious (counting k and its mirror -k once)."],
            tables=[("Every planted coefficient and every recovered one not planted (truth.csv)",
                     table)]))
    sections += list(extra_sections)
    files_note = files_note or (
        "interactions.csv / .parquet: one row per Fourier coefficient; mutations.csv / .parquet: "
        "one row per mutation effect; transform.npz: the transform (SparseFourier.load); "
        "test.npz: held-out variants with oracle and predicted scores; summary.json: every "
        "number above.")
    sections.append(Section("Files", paragraphs=[files_note]))
    files.append(write_html(folder / "report.html", title, sections))
    return files


_VIEW_TEXT = {
    "fourier": "uniform weights: each component is averaged over every background equally "
               "(the Fourier view, grouped by site set)",
    "reference": "all weight on the wild type: each component is the effect of mutations "
                 "relative to the wild type (the Moebius view of mutations.csv)",
    "weighted": "each site's states weighted by a distribution: each component is the effect "
                "averaged over that background",
}


def view_section(folder: Path, transform: SparseFourier, labels: SiteLabels, view: ViewSpec,
                 max_order: int, title: str) -> tuple[Section, list[Path]]:
    """effects_<view>.csv/.parquet (and weights_<view>.csv), a variance-by-order figure when
    the background has variance, and the report section showing them."""
    from ..landscape.background import variance_by_order

    table = view_table(transform, labels, view.weights, max_order)
    stem = f"effects_{view.name}"
    files = write_table(table, folder, stem)
    files += write_table(weights_table(view.weights, labels), folder, f"weights_{view.name}")
    figures = []
    variance = variance_by_order(table, max_order)
    if variance[1:].sum() > 0:
        png = plot_energy_by_order(variance, folder / f"{stem}.png",
                                   f"{title}: {view.name} view, variance by order "
                                   f"(orders 1..{max_order})")
        files.append(png)
        figures.append((png, f"{stem}.png"))
    section = Section(
        f"Effects in the {view.name} view ({view.source})",
        paragraphs=[f"The same transform seen against a background: {_VIEW_TEXT[view.name]}. "
                    "The components of all orders add up to the score; each has zero mean "
                    "over the background given any fewer of its sites. Rows name the residues "
                    f"at the sites (the wild-type letter for the wild-type state); all in "
                    f"{stem}.csv, the weights in weights_{view.name}.csv."],
        figures=figures,
        tables=[(f"Top {TOP} components, orders 1..{max_order}", table.head(TOP))])
    return section, files
