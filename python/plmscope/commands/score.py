"""`plmscope score`: a model's zero-shot scores of every variant of a measured table, and how
well they track the measurements (Spearman and Pearson, overall and by number of mutations).
Cached and resumable like the other commands; ``--ray`` scores on a cluster."""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import sys
from pathlib import Path

import numpy as np

from ..distributed import add_ray_arguments
from .common import add_model_args, model_identity, ray_executor, ray_model_oracle

SCORE_FORMAT = "plmscope.score/1"
MODEL_COLUMN = "model_score"


def register(sub) -> None:
    p = sub.add_parser(
        "score", help="a model's zero-shot scores of a variant table, with Spearman vs measured",
        description="Score every variant of a table (ProteinGym CSV, or any table with a variant "
                    "and a score column) with a model, write the table with a model_score "
                    "column, and report Spearman and Pearson against the measured scores, "
                    "overall and by number of mutations. Rerun the same command to resume.")
    add_table_args(p)
    p.add_argument("--model", required=True, help="model name (e.g. esm2_t33_650M_UR50D) or "
                                                  "local checkpoint")
    add_model_args(p, "masked_marginal", ", the ProteinGym zero-shot score")
    p.add_argument("--batch-size", type=int, default=10_000,
                   help="variants per checkpoint (default 10000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--out", required=True, help="run folder (created; resumed when it exists)")
    add_ray_arguments(p)
    p.set_defaults(func=run)


def add_table_args(p) -> None:
    g = p.add_argument_group("variant table")
    g.add_argument("--table", required=True, help="CSV, TSV or parquet: ProteinGym layout "
                                                  "(mutant, mutated_sequence, DMS_score) or any "
                                                  "variant and score columns")
    g.add_argument("--variant-column", help="column of mutations such as A79V:L104V (default: "
                                            "mutant / mutation / variant)")
    g.add_argument("--score-column", help="column of measured scores (default: DMS_score / "
                                          "score / fitness)")
    g.add_argument("--fasta", help="FASTA with the wild type (default: rebuilt from "
                                   "mutated_sequence and mutant)")
    g.add_argument("--record", help="record id (or 1-based number) when the FASTA has several")


def load_table(args, q: int | None = None, substitutions=None):
    """(the raw DataFrame, its VariantTable) from the --table flags."""
    from ..landscape.table import read_table, read_variants
    from ..wildtype import read_wildtype

    wildtype = read_wildtype(args.fasta, args.record)[1] if args.fasta else None
    frame = read_table(args.table)
    table = read_variants(args.table, wildtype, variant_column=args.variant_column,
                          score_column=args.score_column, q=q, substitutions=substitutions,
                          frame=frame)
    return frame, table


def file_digest(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def correlations(measured, predicted, num_mutations):
    """DataFrame: Spearman and Pearson (with p-values) of predicted vs measured, overall and
    for each number of mutations; nan where fewer than 3 variants or a constant side."""
    import pandas as pd
    from scipy import stats

    measured, predicted = np.asarray(measured, float), np.asarray(predicted, float)
    groups = [("all", np.ones(measured.shape, bool))]
    groups += [(str(k), num_mutations == k) for k in np.unique(num_mutations)]
    rows = []
    for name, sel in groups:
        a, b = measured[sel], predicted[sel]
        ok = a.size >= 3 and np.ptp(a) > 0 and np.ptp(b) > 0
        rho, rho_p = stats.spearmanr(a, b) if ok else (np.nan, np.nan)
        r, r_p = stats.pearsonr(a, b) if ok else (np.nan, np.nan)
        rows.append({"mutations": name, "variants": int(sel.sum()), "spearman": float(rho),
                     "spearman_p": float(rho_p), "pearson": float(r), "pearson_p": float(r_p)})
    return pd.DataFrame(rows)


def run(args: argparse.Namespace) -> int:
    from .. import folders

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    with folders.claim(args.out, "score"):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from ..run_folder import RunFolder, ask_stored, release_oracle

    frame, table = load_table(args)
    executor = ray_executor(args)
    out = Path(args.out)
    landscape = table.landscape()
    config = {"kind": "score", "table": {"path": str(Path(args.table).resolve()),
                                         "digest": file_digest(args.table),
                                         "variant_column": args.variant_column,
                                         "score_column": table.score_column},
              "model": model_identity(args.model), "backend": args.backend, "dtype": args.dtype,
              "scorer": args.scorer, "wildtype": table.wildtype, "batch_size": args.batch_size}
    folder = RunFolder(out, config)
    folder.check()
    if folder.is_finished():
        print(f"{out} holds a finished score run with these arguments; nothing recomputed.")
        return _finish(out, folder.load_summary())
    print(f"{args.table}: {len(frame):,} rows, {table.variants.shape[0]:,} distinct variants "
          f"({table.duplicates:,} repeated rows averaged) over {table.n} sites")
    folder.create()
    progress = False if args.no_progress else None
    if executor is not None:
        oracle = ray_model_oracle(args, landscape)
    else:
        from ..models import Oracle, load

        model = load(args.model, backend=args.backend, device=args.device, dtype=args.dtype)
        kwargs = {} if args.model_batch_size is None else {"batch_size": args.model_batch_size}
        oracle = Oracle(model, landscape, args.scorer, cache=out / "scores.sqlite",
                        progress=progress, **kwargs)
    try:
        with executor if executor is not None else contextlib.nullcontext():
            predicted = ask_stored(oracle, table.variants, out / "queries",
                                   {"purpose": "variant table scores", "digest": config["table"]},
                                   args.batch_size, progress, f"{args.scorer}", executor)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the scores so far are saved in {out}; run the same command "
              "again to resume", file=sys.stderr)
        return 130
    finally:
        release_oracle(oracle)
    summary = write_score_report(out, frame, table, predicted, config, args)
    return _finish(out, summary)


def write_score_report(out: Path, frame, table, predicted, config: dict, args) -> dict:
    from ..run_folder import run_files, versions, write_json
    from ..report.html import Section, write_html
    from ..report.plots import plot_score_scatter
    from ..report.tables import write_table

    scored = frame.copy()
    scored[MODEL_COLUMN] = predicted[table.row_variant]
    scored["num_mutations"] = table.num_mutations[table.row_variant]
    write_table(scored, out, "scored")
    corr = correlations(table.scores, predicted, table.num_mutations)
    write_table(corr, out, "correlations")
    overall = corr.iloc[0]
    title = f"{Path(args.model).name} ({args.scorer}) vs {Path(args.table).name}"
    png = plot_score_scatter(table.scores, predicted, table.num_mutations,
                             out / "scatter.png", title, float(overall["spearman"]),
                             table.score_column)
    summary = {
        "format": SCORE_FORMAT, "title": title, "config": config,
        "rows": int(len(frame)), "variants": int(table.variants.shape[0]),
        "duplicates": table.duplicates, "sites": list(table.sites),
        "spearman": _num(overall["spearman"]), "pearson": _num(overall["pearson"]),
        "by_mutations": [{k: (_num(v) if isinstance(v, float) else v) for k, v in row.items()}
                         for row in corr.to_dict("records")],
        "versions": versions(),
    }
    facts = [(line.split(":", 1)[0].strip(), line.split(":", 1)[1].strip())
             for line in summary_lines(summary)[1:]]
    sections = [
        Section("Summary", facts=facts),
        Section("Model score vs measured score",
                paragraphs=["One point per distinct variant (repeated rows averaged), coloured "
                            "by its number of mutations. Spearman's rho is the field's "
                            "standard zero-shot check."],
                figures=[(png, "scatter.png")],
                tables=[("Correlations, overall and by number of mutations (correlations.csv)",
                         corr)]),
        Section("Files", paragraphs=[
            f"scored.csv / .parquet: the input table with {MODEL_COLUMN} and num_mutations "
            "columns; correlations.csv / .parquet: the table above; scores.sqlite: the score "
            "cache; summary.json: every number above."]),
    ]
    write_html(out / "report.html", title, sections)
    summary["files"] = run_files(out)
    write_json(out / "summary.json", summary)
    return summary


def _num(v):
    v = float(v)
    return v if np.isfinite(v) else None


def summary_lines(summary: dict) -> list[str]:
    def fmt(v):
        return "undefined" if v is None else f"{v:.4f}"

    lines = [summary["title"],
             f"  table:         {summary['rows']:,} rows, {summary['variants']:,} distinct "
             f"variants, {len(summary['sites'])} sites",
             f"  Spearman:      {fmt(summary['spearman'])} (Pearson {fmt(summary['pearson'])})"]
    for row in summary["by_mutations"][1:]:
        lines.append(f"  {row['mutations']} mutation(s): Spearman {fmt(row['spearman'])}, "
                     f"Pearson {fmt(row['pearson'])} ({row['variants']:,} variants)")
    return lines


def _finish(out: Path, summary: dict) -> int:
    print("\n".join(summary_lines(summary)))
    print(f"report: {out / 'report.html'}")
    return 0
