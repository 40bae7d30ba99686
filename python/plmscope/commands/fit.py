"""`plmscope fit`: the interactions of a measured landscape. A sparse q-ary Fourier
regression (:func:`plmscope.fourier.fit`) of a variant table's scores, with its
cross-validated R^2, in the run folder, tables, figures and report.html of
`plmscope interactions` (so `plmscope compare` takes both)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from .common import add_view_args, check_view_args, resolve_view, view_key
from .score import add_table_args, file_digest

FIT_FORMAT = "plmscope.fit/1"


def register(sub) -> None:
    p = sub.add_parser(
        "fit", help="sparse Fourier regression of a measured variant table, with CV R^2 and "
                    "the interactions report",
        description="Fit a sparse q-ary Fourier transform to the scores of a variant table "
                    "(ProteinGym CSV, or any table with a variant and a score column) and write "
                    "the tables, figures and report.html of `plmscope interactions`, with the "
                    "cross-validated R^2. Rerun the same command to show a finished run.")
    add_table_args(p)
    p.add_argument("--q", type=int, default=None,
                   help="states per site (default: 1 + the most substitutes seen at a site; 20 "
                        "when a site has all 19)")
    p.add_argument("--substitutions",
                   help="substitute residues per site for q < 20, comma-separated in site order "
                        "(default: the observed ones, padded)")
    p.add_argument("--max-order", type=int, default=None,
                   help="highest interaction order fitted (default: the regression's)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seeds the folds (default 0)")
    p.add_argument("--penalty-by-order", choices=("graded", "uniform"), default="graded",
                   help="graded (default): an order-s term costs max(1, s/2) times a pair; "
                        "uniform: the plain Lasso")
    p.add_argument("--adaptive", action=argparse.BooleanOptionalAction, default=True,
                   help="refit with site-set penalties from the Lasso's block norms where the "
                        "folds prefer it (default on; --no-adaptive: off)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0 = all cores)")
    p.add_argument("--reference-order", type=int, default=2,
                   help="highest order of the mutation-effects table (default 2)")
    add_view_args(p)
    p.add_argument("--out", required=True, help="run folder")
    p.set_defaults(func=run)


def summary_lines(summary: dict) -> list[str]:
    """A person-readable summary of a fit's summary.json (what the CLI prints)."""
    from ..report.interactions import _sites_line, view_and_energy_lines

    t, f = summary["table"], summary["fit"]
    cv = summary["cv_r2"]
    lines = [summary["title"],
             f"  table:         {t['path']} ({t['rows']:,} rows, {t['variants']:,} distinct "
             f"variants, {t['duplicates']:,} repeated rows averaged)",
             f"  sites:         {_sites_line(summary)} (n = {summary['n']}, q = {summary['q']})",
             f"  found:         {summary['num_coefficients']:,} Fourier coefficients",
             "  CV R^2:        " + ("undefined" if cv is None else
                                     f"{cv:.4f} ({f.get('folds', '?')}-fold cross-validation)"),
             f"  fit R^2:       {summary['in_sample_r2']:.4f} on the table's variants "
             "(in-sample)"]
    weights = f.get("penalty_by_order")
    if weights:
        shown = ", ".join(f"{k}: {v:g}" for k, v in list(weights.items())[:4])
        lines.append(f"  penalty:       weight by order {shown}{', ...' if len(weights) > 4 else ''}"
                     f"; adaptive refit {'chosen' if f.get('adaptive') else 'not chosen'}")
    lines += view_and_energy_lines(summary)
    lines.append(f"  time:          {summary['timings']['total']:.1f} s "
                 f"(fit {summary['timings']['fit']:.1f} s)")
    return lines


def run(args: argparse.Namespace) -> int:
    from .. import folders

    with folders.claim(args.out, "fit"):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from .. import fourier
    from ..experiment import r_squared
    from ..run_folder import RunFolder, run_files, versions, write_json
    from ..fourier import SparseFourier
    from ..report.tables import SiteLabels

    for name in ("folds", "reference_order"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.max_order is not None and args.max_order < 1:
        raise ValueError(f"--max-order must be >= 1, got {args.max_order}")
    check_view_args(args)
    if args.weights == "model":
        raise ValueError("--weights model needs a model; a fit has none: use uniform, wildtype "
                         "or alignment:PATH")
    if args.substitutions is not None and args.q is None:
        raise ValueError("--substitutions needs --q (their length is q - 1 per site)")
    subs = None
    if args.substitutions is not None:
        subs = [s.strip().upper() for s in args.substitutions.split(",")]
    from .score import load_table

    frame, table = load_table(args, args.q, subs)
    labels = SiteLabels.of(table.landscape())
    out = Path(args.out)
    config = {"kind": "fit", "table": {"path": str(Path(args.table).resolve()),
                                       "digest": file_digest(args.table),
                                       "variant_column": args.variant_column,
                                       "score_column": table.score_column},
              "wildtype": table.wildtype, "q": table.q, "n": table.n, "sites": labels.to_dict(),
              "max_order": args.max_order, "folds": args.folds, "seed": args.seed,
              "penalty_by_order": args.penalty_by_order, "adaptive": args.adaptive}
    folder = RunFolder(out, config)
    folder.check()
    if folder.is_finished():
        print(f"{out} holds a finished fit with these arguments; nothing recomputed.")
        summary = folder.load_summary()
        if args.view is not None and (summary.get("view") or {}).get("given") != view_key(args):
            transform = SparseFourier.load(out / "transform.npz")
            summary = _write_report(out, transform, summary, labels, table, args)
            summary["files"] = run_files(out)
            write_json(out / "summary.json", summary)
        return _finish(out, summary)
    print(f"{args.table}: {len(frame):,} rows, {table.variants.shape[0]:,} distinct variants over "
          f"{table.n} sites (q = {table.q}); fitting")
    folder.create()
    t0 = time.perf_counter()
    result = fourier.fit(table.variants, table.scores, table.q, max_order=args.max_order,
                         folds=args.folds, seed=args.seed, nthreads=args.threads,
                         penalty_by_order=args.penalty_by_order, adaptive=args.adaptive)
    t_fit = time.perf_counter() - t0
    transform = result.transform
    predicted = transform.evaluate(table.variants)
    in_sample = r_squared(table.scores, predicted)
    cv = result.cv_r2
    title = f"Interactions fitted to {Path(args.table).name} ({table.n} sites, q = {table.q})"
    summary = {
        "format": FIT_FORMAT, "title": title,
        "oracle": {"kind": "table", "path": config["table"]["path"],
                   "digest": config["table"]["digest"], "wildtype": table.wildtype,
                   "score_column": table.score_column},
        "q": table.q, "n": table.n, "sites": labels.to_dict(),
        "table": {"path": str(args.table), "rows": int(len(frame)),
                  "variants": int(table.variants.shape[0]), "duplicates": table.duplicates},
        "fit": result.summary(),
        "cv_r2": None if cv is None or not np.isfinite(cv) else float(cv),
        "in_sample_r2": float(in_sample),
        "num_coefficients": len(transform),
        "mean_score": float(transform.values[transform.orders() == 0].real.sum()),
        "wildtype_score": float(np.sum(transform.values).real),
        "energy_by_order": [float(v) for v in transform.energy_by_order()],
        "test": {"r2": None, "size": 0},
        "timings": {"fit": t_fit}, "versions": versions(), "note": None, "truth": None,
    }
    transform.save(out / "transform.npz")
    np.savez(out / "fit.npz", x=table.variants, y=table.scores, yhat=predicted,
             counts=table.counts)
    summary["timings"]["total"] = time.perf_counter() - t0  # the report shows it
    summary = _write_report(out, transform, summary, labels, table, args, predicted)
    summary["timings"]["total"] = time.perf_counter() - t0
    summary["files"] = run_files(out)
    write_json(out / "summary.json", summary)
    return _finish(out, summary)


def _write_report(out: Path, transform, summary: dict, labels, table, args,
                  predicted=None) -> dict:
    from ..report.html import Section
    from ..report.interactions import write_interactions_report
    from ..report.plots import plot_test_fit

    view = resolve_view(args, table.q, table.n, labels, table.wildtype)
    summary["view"] = None if view is None else view.to_dict()
    if predicted is None:
        with np.load(out / "fit.npz") as data:
            predicted = data["yhat"]
    png = plot_test_fit(table.scores, predicted, summary["in_sample_r2"], out / "fit.png",
                        "the table's variants", what="table variants (in-sample)",
                        xlabel=f"measured score ({table.score_column})",
                        ylabel="fitted transform's prediction")
    cv = summary["cv_r2"]
    fit_section = Section(
        "Fit", paragraphs=[
            "Each point is a variant of the table: its measured score (repeated rows averaged) "
            "against the fitted transform's. This is the in-sample fit; the cross-validated "
            "R^2, " + ("undefined" if cv is None else f"{cv:.4f}") + ", measures prediction of "
            "variants left out of the fit."],
        figures=[(png, "fit.png")])
    write_interactions_report(
        out, transform, summary, labels, reference_order=args.reference_order, view=view,
        lines=summary_lines(summary), extra_sections=[fit_section],
        files_note="interactions.csv / .parquet: one row per Fourier coefficient; "
                   "mutations.csv / .parquet: one row per mutation effect; transform.npz: the "
                   "fitted transform (SparseFourier.load); fit.npz: the table's variants with "
                   "measured and fitted scores; summary.json: every number above (the "
                   "regression's own in 'fit').")
    return summary


def _finish(out: Path, summary: dict) -> int:
    print("\n".join(summary_lines(summary)))
    print(f"report: {out / 'report.html'}")
    return 0
