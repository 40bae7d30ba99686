"""The report of an interactions run: tables, figures, report.html and a text summary."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..fourier import SparseFourier
from .html import Section, write_html
from .plots import (plot_energy_by_order, plot_pairwise_heatmap, plot_rounds, plot_single_mutants,
                    plot_test_fit, plot_top_interactions)
from .tables import (SiteLabels, ViewSpec, effect_table, interaction_table, mutation_table,
                     single_mutant_grid, truth_table, view_table, weights_table, write_table)

TOP = 20
PEEL_ROUND_CAP = 100  # recover()'s default max_rounds: a peel that long was cut short


def peel_warning(summary: dict) -> str | None:
    """A warning when peeling ran to the round cap: it was still finding coefficients when
    stopped (typically a few per round: the noise is too high for this b to decode)."""
    rounds = summary.get("singletons_per_round") or []
    if len(rounds) < PEEL_ROUND_CAP:
        return None
    last = rounds[-10:]
    return (f"peeling ran {len(rounds)} rounds, reaching the {PEEL_ROUND_CAP}-round cap while "
            f"still finding {min(last)}-{max(last)} coefficients per round; the recovery is "
            "probably incomplete (noise too high for this design): try a larger --b or more "
            "--repeats, or set --noise")


def coefficients_line(summary: dict) -> str:
    """'24 interactions (49 Fourier coefficients: the mean + 24 conjugate pairs k, -k)': why
    the coefficient count is about twice the number of interactions."""
    K = summary["num_coefficients"]
    effects = summary.get("num_effects")
    if effects is None:
        return f"{K:,} Fourier coefficients"
    mean = 1 if summary.get("has_mean", True) else 0
    pairs = K - mean - effects
    if pairs <= 0:
        return f"{effects:,} interactions ({K:,} Fourier coefficients incl. the mean)"
    return (f"{effects:,} interactions ({K:,} Fourier coefficients: the mean + each "
            "interaction's conjugate pair k, -k)")


def mutations_lines(summary: dict) -> list[str]:
    """The strongest single mutants and pair epistasis, in residue letters (D40A, D40A:G38W),
    as summary.json's top_mutations holds them."""
    top = summary.get("top_mutations") or {}
    out = []
    for key, what in (("single", "single mutants"), ("pair", "pair epistasis")):
        items = top.get(key) or []
        if items:
            out.append(f"  {what + ':':<14} " + ", ".join(f"{m} {e:+.3g}" for m, e in items))
    return out


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


def view_and_energy_lines(summary: dict) -> list[str]:
    """The view's table and the variance by order, as the summary lines show them."""
    lines = []
    if summary.get("view"):
        lines.append(f"  view:          {summary['view']['name']} "
                     f"({summary['view']['weights']}); effects_{summary['view']['name']}.csv")
    energy = np.asarray(summary["energy_by_order"])
    total = energy[1:].sum()
    if total > 0:
        share = energy[1:] / total
        shown = " ".join(f"{j}:{100 * s:.1f}%" for j, s in enumerate(share, start=1) if s >= 0.0005)
        lines.append(f"  variance by order: {shown}")
    return lines


def stages_lines(summary: dict) -> list[str]:
    """How many coefficients each decoding stage produced (none for older summaries)."""
    stages = summary.get("stages")
    if not stages:
        return []
    counts = ", ".join(f"{name} {count:,}" for name, count in stages.items())
    return [f"  stages:        {counts} (the decoding step that produced each coefficient)"]


_STOPPED = {"tolerance": "the last round gained less than the tolerance",
            "max_queries": "--max-queries reached", "max_rounds": "the round limit reached",
            "exhausted": "every variant asked"}


def budget_lines(summary: dict) -> list[str]:
    """The rounds of a self-stopping budget (--budget auto)."""
    q, n = summary["q"], summary["n"]
    bud = summary["budget"]
    design = ("random variants" if bud["design"] == "random" else
              f"q-SFT groups (b = {bud['b']}, {bud['delays']} delays x {bud['num_repeat']}), "
              f"stopping on {bud['num_validation']:,} random validation variants")
    steps = ", ".join(
        f"{r['queries']:,}: {r['cv_r2'] if r['validation_r2'] is None else r['validation_r2']:.4f}"
        for r in bud["rounds"])
    return [f"  budget:        auto, {design}, seed {bud['seed']}; tolerance {bud['tolerance']:g}",
            f"  rounds:        {len(bud['rounds'])} (queries: R^2) {steps}",
            f"                 stopped: {_STOPPED.get(bud['stopped'], bud['stopped'])}",
            f"  queries:       {summary['num_queries']:,} distinct "
            f"({summary['fraction_of_all_variants']:.3g} of all {q}^{n} variants)"]


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
    ]
    if summary.get("budget"):
        lines += budget_lines(summary)
    else:
        lines += [
            f"  q-SFT:         b = {qs['b']}, {qs['num_subsample']} subsamples, {qs['delays']} "
            f"delays x {qs['num_repeat']}, seed {qs['seed']}",
            f"  queries:       {summary['num_queries']:,} distinct ({summary['num_samples']:,} "
            f"design points; {summary['fraction_of_all_variants']:.3g} of all {q}^{n} variants)",
        ]
    lines += [
        f"  found:         {coefficients_line(summary)}",
        *stages_lines(summary),
    ]
    if "noise_sd_estimate" in summary:
        lines.append(f"  noise:         sd {summary['noise_sd_estimate']:.3g}, bin threshold "
                     f"{summary['noise_threshold']:.3g}")
    lines += mutations_lines(summary)
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
    lines += view_and_energy_lines(summary)
    t = summary["timings"]
    lines.append(f"  time:          {t.get('total', sum(v for v in t.values())):.1f} s "
                 f"(oracle {t.get('oracle', 0):.1f} s, decode {t.get('decode', 0):.2f} s"
                 + (f", regression {t['regress']:.1f} s)" if "regress" in t else ")"))
    fit = summary.get("fit")
    if fit:
        how = (f"R^2 {fit['cv_r2']:.4f} on a held-out 1/{fit['folds']} of them"
               if fit.get("config_folds_evaluated") == 1 else
               f"{fit['folds']}-fold CV R^2 {fit['cv_r2']:.4f}")
        relax = fit.get("relax", 1.0)
        lines.append(f"  decoder:       regression over every answer ({how}"
                     + (f", relaxed x{relax:g}" if relax != 1.0 else "")
                     + f"; terms below {fit['noise_floor']:.2g} are within noise)")
    warning = peel_warning(summary)
    if warning:
        lines.append(f"  WARNING: {warning}")
    return lines


def write_interactions_report(folder, transform: SparseFourier, summary: dict,
                              labels: SiteLabels, test_y=None, test_yhat=None,
                              reference_order: int = 2,
                              truth: SparseFourier | None = None,
                              view: ViewSpec | None = None, lines=None, extra_sections=(),
                              files_note: str | None = None, stages=None) -> list[Path]:
    """Write interactions.csv/.parquet, mutations.csv/.parquet, the figures and report.html
    into folder (with `view`, also effects_<view>.csv/.parquet and its section); returns the
    paths written. Reports of other runs than q-SFT (a regression fit) pass their own
    summary `lines`, `extra_sections` (placed before the Files section) and `files_note`.
    `stages` (one per coefficient) adds interactions.csv's ``stage`` column.

    The page leads with what a protein scientist reads (mutations in residue letters, site
    pairs) and keeps the Fourier view (frequencies k) in its own section for experts."""
    folder = Path(folder)
    q = transform.q
    interactions = interaction_table(transform, labels, stages)
    mutations = mutation_table(transform, labels, reference_order)
    effects = effect_table(transform, labels, stages)
    files = write_table(interactions, folder, "interactions")
    files += write_table(mutations, folder, "mutations")
    title = summary["title"]
    grid, names = single_mutant_grid(transform, labels)
    singles_png = plot_single_mutants(grid, names, labels, folder / "single_mutants.png",
                                      "single mutants: score change vs wild type")
    energy_png = plot_energy_by_order(transform.energy_by_order(), folder / "energy_by_order.png",
                                      f"{title}: variance by interaction order")
    heatmap_png = plot_pairwise_heatmap(transform, labels, folder / "pairwise_heatmap.png",
                                        "pairwise interactions between sites")
    top_png = plot_top_interactions(interactions, mutations, q, folder / "top_interactions.png",
                                    title, top=TOP)
    files += [singles_png, energy_png, heatmap_png, top_png]
    figures_fit = []
    if test_y is not None and len(test_y) >= 2 and summary["test"]["r2"] is not None:
        fit_png = plot_test_fit(test_y, test_yhat, summary["test"]["r2"], folder / "test_fit.png",
                                "held-out variants")
        files.append(fit_png)
        figures_fit.append((fit_png, "Each point is a random variant the recovery never queried: "
                                     "the oracle's score against the recovered transform's."))

    facts = [(line.split(":", 1)[0].strip(), line.split(":", 1)[1].strip())
             for line in (lines or summary_lines(summary))[1:]
             if ":" in line and not line.strip().startswith(("NOTE", "WARNING"))]
    facts.append(("versions", ", ".join(f"{k} {v}" for k, v in summary["versions"].items())))
    warning = peel_warning(summary)
    singles = mutations[mutations["order"] == 1].head(TOP)
    combos = mutations[mutations["order"] >= 2].head(TOP)
    mutation_cols = ["rank", "order", "mutations", "effect"]
    where = "residue letters and numbers" if labels.residues is not None else \
        "site number and state (give --fasta and --sites to name the residues)"
    sections = [
        Section("Summary", facts=facts, note=summary.get("note"),
                warnings=[f"Warning: {warning}"] if warning else [],
                paragraphs=[f"Sites are 1-based residue numbers; mutations are written in "
                            f"{where}, e.g. D40A: D at residue 40 replaced by A. An "
                            "interaction is an effect of the scores that depends on a set of "
                            "sites together; the Fourier view counts each one twice (a "
                            "coefficient k and its conjugate mirror -k), hence about twice as "
                            "many Fourier coefficients as interactions."]),
        Section("Single mutants",
                paragraphs=["Score change of every single mutant relative to the wild type, "
                            "computed exactly from the recovered transform (red: the model "
                            "scores it higher, blue: lower; a dot marks the wild-type residue)."],
                figures=[(singles_png, "single_mutants.png")],
                tables=[(f"Top {TOP} single mutants (all in mutations.csv)",
                         singles[mutation_cols])]),
        Section("Interactions between mutations",
                paragraphs=["Epistasis of concrete mutant combinations: the score change of a "
                            "double (or higher) mutant beyond the sum of its single-mutant "
                            "effects, relative to the wild type. Right panel of the figure: the "
                            "same; left panel: the largest interactions by site set."],
                figures=[(top_png, "top_interactions.png")],
                tables=[(f"Top {TOP} mutant combinations, orders 2..{reference_order} (all in "
                         "mutations.csv)", combos[mutation_cols])]),
        Section("Pairwise interactions",
                paragraphs=["Share of the score variance carried by the pairwise (order-2) "
                            "interactions of each site pair. The colour scale runs from 0 to "
                            "the largest pair, or to 1% when every pair is smaller, so "
                            "negligible pairs stay dark."],
                figures=[(heatmap_png, "pairwise_heatmap.png")]),
        Section("Variance by interaction order",
                paragraphs=["Share of the score variance carried by the recovered interactions "
                            "of each order (1 = single-site effects, 2 = pairwise interactions, "
                            "...)."],
                figures=[(energy_png, "energy_by_order.png")]),
        Section("For experts: the Fourier coefficients",
                paragraphs=["One row per interaction (a frequency k and its mirror -k carry "
                            "conjugate values and are one real effect), largest first. "
                            "frequency: the nonzero entries k_i of one of the pair; magnitude: "
                            "|F[k]|; variance_pct: the share of the score variance the "
                            "interaction carries. interactions.csv lists every coefficient, "
                            "both of each pair and the mean."],
                tables=[(f"Top {TOP} interactions as Fourier coefficients", effects.head(TOP))]),
    ]
    if view is not None:
        section, written = view_section(folder, transform, labels, view, reference_order, title)
        files += written
        sections.insert(1, section)
    if summary.get("budget"):
        bud = summary["budget"]
        stop_r2 = [r["cv_r2"] if r["validation_r2"] is None else r["validation_r2"]
                   for r in bud["rounds"]]
        rounds_png = plot_rounds([r["queries"] for r in bud["rounds"]], stop_r2,
                                 folder / "rounds.png", title, summary["test"]["r2"],
                                 bud["tolerance"],
                                 "cross-validated R^2 (answers so far)" if bud["design"] == "random"
                                 else f"R^2 on {bud['num_validation']:,} validation variants")
        files.append(rounds_png)
        what = ("cross-validated R^2 of the fit to every answer so far" if bud["design"] == "random"
                else f"R^2 on {bud['num_validation']:,} random validation variants")
        figures_fit.insert(0, (rounds_png, f"R^2 against queries: after each round, the {what}; "
                                           "the square is the final fit's held-out R^2. The "
                                           "rounds stop once one gains less than "
                                           f"{bud['tolerance']:g}."))
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
        "interactions.csv / .parquet: one row per Fourier coefficient (stage: the decoding "
        "step that produced it: peel, refit, regress, regress+peel or mean); mutations.csv / "
        ".parquet: one row per mutation effect; design.npz: the q-SFT design; transform.npz: "
        "the transform (SparseFourier.load) with each coefficient's stage; "
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
