"""`plmscope isotropy`: how much of its embedding space each model uses on a FASTA file.

Per model: IsoScore, participation ratio, effective dimensions and mean pairwise cosine of
the global (mean-pooled) embeddings and, with --per-residue, of the local (per-residue)
embeddings overall and per amino-acid type. Embeddings are written to resumable shards in
the run folder and streamed through float64 accumulators, so a rerun picks up where it
stopped and memory stays O(d^2) per group. Writes isotropy.csv (one row per model and
embedding kind: the models-comparison table), per_residue_<model>.csv, isotropy.png,
per_residue_isoscore.png and report.html.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .. import folders

from .embed import add_model_arguments, check_fasta, embed_into, iter_shards, model_slug, \
    read_fasta


def register(sub) -> None:
    p = sub.add_parser("isotropy", help="IsoScore, effective dimensions and mean cosine of "
                                        "model embeddings of a FASTA file",
                       description="How much of its embedding space each model uses on the "
                                   "proteins of a FASTA file: IsoScore, participation ratio, "
                                   "effective dimensions and mean pairwise cosine of the "
                                   "mean-pooled embeddings (and, with --per-residue, of the "
                                   "per-residue ones, overall and per amino acid). Writes "
                                   "isotropy.csv, per-residue tables, figures and report.html "
                                   "into --out; rerunning resumes.")
    p.add_argument("--fasta", required=True, help="protein sequences (FASTA)")
    add_model_arguments(p, several=True)
    p.add_argument("--per-residue", action="store_true",
                   help="also analyse per-residue embeddings, overall and per amino acid")
    p.add_argument("--out", default=None,
                   help="run folder (default: plmscope-isotropy-<fasta name>); rerunning "
                        "with the same folder resumes")
    p.add_argument("--threads", type=int, default=0, help="threads for the kernels (0 = all)")
    p.set_defaults(func=run)


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="protein", leave=False, disable=None)


def global_summary(folder: Path, threads: int) -> dict:
    """Streams the mean-pooled shards of one model through an IsotropyAccumulator."""
    from ..isotropy import FewPointsWarning, IsotropyAccumulator
    import warnings

    acc = IsotropyAccumulator(nthreads=threads)
    for _, emb in iter_shards(folder):
        acc.update(emb, f"embeddings in {folder}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FewPointsWarning)  # reported in the table instead
        return acc.summary().to_dict()


def residue_table(folder: Path, ids: list[str], seqs: list[str], threads: int):
    from ..isotropy import ResidueIsotropy

    res = ResidueIsotropy(nthreads=threads)
    k = 0
    with _progress(len(seqs), "per-residue isotropy") as bar:
        for shard_ids, embs in iter_shards(folder):
            for rid, emb in zip(shard_ids, embs):
                if rid != ids[k]:
                    raise ValueError(f"embedding record {k} is {rid!r} but the FASTA has "
                                     f"{ids[k]!r}: the folder {folder} belongs to another FASTA")
                res.add(seqs[k], emb)
                k += 1
            bar.update(len(shard_ids))
    return res.table()


def _plots(out: Path, summary, residues: dict) -> list[Path]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    paths = []
    fig = Figure(figsize=(max(4.0, 1.6 * len(summary)), 3.6), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    kinds = list(dict.fromkeys(summary["embedding"]))
    models = list(dict.fromkeys(summary["model"]))
    width = 0.8 / len(kinds)
    for k, kind in enumerate(kinds):
        part = summary[summary["embedding"] == kind].set_index("model").reindex(models)
        x = np.arange(len(models)) + k * width
        ax.bar(x, part["isoscore"], width, label=kind)
        for xi, (s, n) in zip(x, zip(part["isoscore"], part["n_points"])):
            if np.isfinite(s):
                ax.text(xi, s, f"N={int(n)}", ha="center", va="bottom", fontsize=6)
    ax.set_xticks(np.arange(len(models)) + width * (len(kinds) - 1) / 2, models, fontsize=7,
                  rotation=15)
    ax.set_ylabel("IsoScore")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out / "isotropy.png")
    fig.savefig(paths[-1])
    if residues:
        fig = Figure(figsize=(8, 3.6), dpi=120)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for model, table in residues.items():
            t = table[table["residues"] != "all"]
            ax.plot(t["residues"], t["isoscore"], marker="o", label=model)
        ax.set_ylabel("IsoScore of per-residue embeddings")
        ax.set_xlabel("residue type")
        ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(out / "per_residue_isoscore.png")
        fig.savefig(paths[-1])
    return paths


def run(args: argparse.Namespace) -> int:
    fasta = check_fasta(args.fasta)
    out = Path(args.out or f"plmscope-isotropy-{fasta.stem}")
    with folders.claim(out, "isotropy"):
        return _run(args, fasta, out)


def _run(args: argparse.Namespace, fasta: Path, out: Path) -> int:
    import pandas as pd

    ids, seqs = read_fasta(fasta)
    rows, residues = [], {}
    for name in args.model:
        folder, model = embed_into(args, name, fasta, out, "mean")
        rows.append({"model": model_slug(name), "embedding": "global (mean)",
                     **global_summary(folder, args.threads)})
        g = rows[-1]
        print(f"{name}: global IsoScore {g['isoscore']:.4f} (N={g['n_points']}, d={g['dim']}, "
              f"isotropic baseline {g['isotropic_baseline']:.4f})"
              + (" - N < d: the score is capped at (N-2)/(d-1); add proteins"
                 if g["n_points"] < g["dim"] else ""))
        if args.per_residue:
            folder, _ = embed_into(args, name, fasta, out, "per_residue", model=model)
            table = residue_table(folder, ids, seqs, args.threads)
            table.to_csv(out / f"per_residue_{model_slug(name)}.csv", index=False)
            residues[model_slug(name)] = table
            overall = table.set_index("residues").loc["all"]
            rows.append({"model": model_slug(name), "embedding": "local (per residue)",
                         **{k: overall[k] for k in ("n_points", "dim", "isoscore",
                                                    "participation_ratio", "effective_dims",
                                                    "isotropic_baseline", "mean_cosine")}})
            print(f"{name}: per-residue IsoScore {overall['isoscore']:.4f} "
                  f"(N={int(overall['n_points'])} residues)")
        del model
    summary = pd.DataFrame(rows)
    summary.to_csv(out / "isotropy.csv", index=False)
    plots = _plots(out, summary, residues)
    from ..report import Section, write_html

    captions = {"isotropy.png": "IsoScore of each model's embeddings (N: points)",
                "per_residue_isoscore.png": "IsoScore of the per-residue embeddings of each "
                                            "amino-acid type"}
    sections = [
        Section("Models", paragraphs=[
            f"FASTA: {fasta} ({len(seqs)} proteins, {sum(map(len, seqs))} residues); layer "
            f"{args.layer}.",
            "IsoScore = (PR - 1)/(d - 1) with PR = tr(C)^2/||C||_F^2 (1 = isotropic, 0 = one "
            "direction); effective dimensions = ceil(PR). isotropic_baseline is what isotropic "
            "Gaussian points with the same N and d would score (about 1/(1 + d/N)): compare "
            "against it, not against 1, when N is not much larger than d."],
            tables=[("isotropy.csv", summary)],
            figures=[(p, captions.get(p.name, p.name)) for p in plots]),
    ]
    for model, table in residues.items():
        sections.append(Section(f"Per-residue embeddings: {model}", tables=[
            (f"per_residue_{model}.csv", table.drop(columns=["dim"]))]))
    report = write_html(out / "report.html", "Embedding isotropy", sections)
    print(f"wrote {out / 'isotropy.csv'}, {len(plots)} figure(s) and {report}")
    return 0
