"""`plmscope align-corr`: do embedding distances track alignment similarity?

A seeded sample of --fraction of the proteins, all pairs among them (the design of Hakim,
Roy & Rahman). For every pair: global PAM250 alignment score and identity (parasail, equal
to Biopython), and per model the cosine similarity and squared Euclidean distance of the
mean-pooled embeddings. Writes per model the Pearson and Spearman correlation matrices, the
identity-binned correlations (low versus high identity), hexbin plots, the pair table
(npz), and across models a comparison table (models.csv) and report.html.

Resumable: the sampled records go to sample.fasta, alignments to alignments/chunk-*.npz
(written atomically, one per --chunk-pairs pairs), embeddings to shards; a rerun with the
same folder skips what is done and refuses to mix runs with other settings.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import warnings
import zipfile
from pathlib import Path

import numpy as np

from . import seed
from .. import folders
from ..folders import read_json

from .embed import add_model_arguments, check_fasta, embed_into, iter_shards, model_slug, \
    read_fasta


def _edges(text: str) -> tuple[float, ...]:
    try:
        edges = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--edges must be comma-separated numbers, got {text!r}") from None
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise argparse.ArgumentTypeError(f"--edges must be increasing, got {text!r}")
    return edges


def register(sub) -> None:
    p = sub.add_parser("align-corr", help="correlate embedding distances with PAM250 "
                                          "alignment similarity over sampled protein pairs",
                       description="Sample --fraction of the proteins of a FASTA file (seeded), "
                                   "align every pair among them (global, PAM250, gap open -10, "
                                   "extend -0.5) and correlate each model's embedding cosine "
                                   "similarity and squared distance with the alignment score "
                                   "and identity (Pearson, Spearman, per identity bin). Writes "
                                   "models.csv, per-model tables, hexbin plots and report.html "
                                   "into --out; rerunning resumes.")
    p.add_argument("--fasta", required=True, help="protein sequences (FASTA)")
    add_model_arguments(p, several=True)
    p.add_argument("--fraction", type=float, required=True,
                   help="fraction of the proteins to sample; all pairs among them are used")
    p.add_argument("--seed", type=seed, default=0, help="sampling seed (default 0)")
    p.add_argument("--out", default=None,
                   help="run folder (default: plmscope-align-corr-<fasta name>); rerunning "
                        "with the same folder resumes")
    p.add_argument("--threads", type=int, default=0, help="alignment threads (0 = all cores)")
    p.add_argument("--chunk-pairs", type=int, default=100_000,
                   help="pairs per alignment checkpoint file (default 100,000)")
    p.add_argument("--nonstandard", choices=("error", "map"), default="error",
                   help="residues PAM250 cannot score (U, O, lowercase): stop with an error "
                        "(default) or map U->C, O->K, other letters->X, lowercase->uppercase")
    p.add_argument("--edges", type=_edges, default=None,
                   help="identity bin edges, e.g. 0,0.2,0.3,0.4,0.5,0.7,1")
    p.add_argument("--split", type=float, default=0.3,
                   help="identity separating low from high similarity in the comparison "
                        "table (default 0.3)")
    p.set_defaults(func=run)


def _atomic_savez(path: Path, **arrays) -> None:
    with folders.atomic_target(path) as fh:
        np.savez(fh, **arrays)


def sample(out: Path, ids: list[str], seqs: list[str], fraction: float, seed: int):
    """The sampled proteins (indices into the FASTA), their pairs in sample-local indices,
    and sample.fasta; an existing sample made with other settings is an error."""
    from ..alignment import all_pairs, sample_proteins

    proteins = sample_proteins(len(seqs), fraction, seed)
    digest = hashlib.sha256("\n".join(f"{ids[i]}\t{seqs[i]}" for i in proteins)
                            .encode()).hexdigest()[:16]
    settings = {"fraction": fraction, "seed": seed, "n_records": len(seqs),
                "n_sampled": int(len(proteins)), "sample_digest": digest}
    meta = out / "sample.json"
    if meta.exists():
        old = read_json(meta, "settings of an align-corr run")
        if old != settings:
            raise ValueError(f"{out} holds a run with other settings {old}; use another --out "
                             "or the same --fasta, --fraction and --seed to resume")
    else:
        meta.write_text(json.dumps(settings, indent=1))
    fasta = out / "sample.fasta"
    if not fasta.exists():
        folders.write_text(fasta, "".join(f">{ids[i]}\n{seqs[i]}\n" for i in proteins))
    return proteins, all_pairs(np.arange(len(proteins))), fasta


def alignments(out: Path, seqs: list[str], pairs: np.ndarray, args) -> dict:
    """Score and identity of every pair, from checkpoint files where they exist."""
    from tqdm import tqdm

    from ..alignment import align_pairs, prepare_sequences

    prepare_sequences(seqs, args.nonstandard)  # fail before any work
    folder = out / "alignments"
    folder.mkdir(exist_ok=True)
    C = args.chunk_pairs
    if C < 1:
        raise ValueError(f"--chunk-pairs must be >= 1, got {C}")
    P = len(pairs)
    score, ident = np.empty(P), np.empty(P)
    backend = set()
    with tqdm(total=P, desc="alignments", unit="pair", leave=False, disable=None) as bar:
        for k, start in enumerate(range(0, P, C)):
            part = pairs[start:start + C]
            path = folder / f"chunk-{k:06d}.npz"
            saved = _read_chunk(path, len(part)) if path.exists() else None
            if saved is not None:
                if not np.array_equal(saved["pairs"], part):
                    raise ValueError(f"{path} holds other pairs (was --chunk-pairs "
                                     "changed?); use another --out")
                score[start:start + len(part)] = saved["score"]
                ident[start:start + len(part)] = saved["identity"]
                backend.add(str(saved["backend"]))
                bar.update(len(part))
                continue
            res = align_pairs(seqs, part, identity=True, nthreads=args.threads,
                              nonstandard=args.nonstandard, progress=bar.update)
            _atomic_savez(path, pairs=part, score=res.score, identity=res.identity,
                          backend=np.array(res.backend))
            score[start:start + len(part)] = res.score
            ident[start:start + len(part)] = res.identity
            backend.add(res.backend)
    return {"score": score, "identity": ident, "backend": ",".join(sorted(backend)) or "-"}


def _read_chunk(path: Path, size: int) -> dict | None:
    """A saved chunk of alignments, or None when its file is damaged (then removed, with a
    warning naming it, so the chunk is aligned again)."""
    try:
        # our own handle: numpy leaves its file open when a damaged zip fails to parse
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as d:
            chunk = {k: d[k] for k in ("pairs", "score", "identity", "backend")}
        if chunk["score"].shape == chunk["identity"].shape == (size,) \
                and chunk["pairs"].shape == (size, 2):
            return chunk
        why = "arrays of the wrong length"
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        why = folders.damage_reason(exc)
    warnings.warn(f"{path} is damaged ({why}); aligning its {size} pairs again", stacklevel=2)
    path.unlink(missing_ok=True)
    return None


def model_row(name: str, frame, tables: dict, split: float) -> dict:
    from ..alignment import identity_bins

    p, s = tables["pearson"], tables["spearman"]
    row = {"model": name, "n_pairs": len(frame)}
    for m in ("cosine", "sqdist"):
        for t in ("identity", "score"):
            row[f"pearson_{m}_{t}"] = p.loc[m, t]
            row[f"spearman_{m}_{t}"] = s.loc[m, t]
    bins = identity_bins(frame, edges=(0.0, split, 1.0))
    for label, b in zip(("low", "high"), bins.itertuples(index=False)):
        row[f"n_{label}"] = b.n_pairs
        row[f"spearman_cosine_identity_{label}"] = b.cosine_spearman_identity
    return row


def run(args: argparse.Namespace) -> int:
    if not 0.0 < args.split < 1.0:
        raise ValueError(f"--split must be in (0, 1), got {args.split}")
    fasta = check_fasta(args.fasta)
    out = Path(args.out or f"plmscope-align-corr-{fasta.stem}")
    with folders.claim(out, "align-corr"):
        return _run(args, fasta, out)


def _run(args: argparse.Namespace, fasta: Path, out: Path) -> int:
    import pandas as pd

    from ..alignment import correlation_tables, hexbin_plots, identity_bins
    from ..alignment.study import DEFAULT_EDGES
    from ..isotropy import pair_similarity
    from ..report import Section, write_html

    ids, seqs = read_fasta(fasta)
    proteins, pairs, sample_fasta = sample(out, ids, seqs, args.fraction, args.seed)
    sub_ids = [ids[i] for i in proteins]
    sub_seqs = [seqs[i] for i in proteins]
    print(f"{len(proteins)} of {len(seqs)} proteins sampled (fraction {args.fraction}, seed "
          f"{args.seed}): {len(pairs):,} pairs")
    aln = alignments(out, sub_seqs, pairs, args)
    rows, sections = [], []
    for name in args.model:
        slug = model_slug(name)
        folder, model = embed_into(args, name, sample_fasta, out, "mean")
        del model
        got_ids, parts = [], []
        for shard_ids, emb in iter_shards(folder):
            got_ids += shard_ids
            parts.append(emb)
        if got_ids != sub_ids:
            raise ValueError(f"{folder} holds embeddings of other records; use another --out")
        emb = np.concatenate(parts)
        cosine, sqdist = pair_similarity(emb, pairs, nthreads=args.threads)
        frame = pd.DataFrame({"i": proteins[pairs[:, 0]], "j": proteins[pairs[:, 1]],
                              "cosine": cosine, "sqdist": sqdist, "score": aln["score"],
                              "identity": aln["identity"]})
        mdir = out / slug
        mdir.mkdir(exist_ok=True)
        _atomic_savez(mdir / "pair_metrics.npz",
                      **{c: frame[c].to_numpy() for c in frame.columns})
        tables = correlation_tables(frame)
        tables["pearson"].to_csv(mdir / "pearson.csv")
        tables["spearman"].to_csv(mdir / "spearman.csv")
        bins = identity_bins(frame, edges=args.edges or DEFAULT_EDGES)
        bins.to_csv(mdir / "identity_bins.csv", index=False)
        plots = hexbin_plots(frame, mdir, prefix="") if len(frame) else []
        rows.append(model_row(slug, frame, tables, args.split))
        sections.append(Section(
            slug, tables=[("Pearson", tables["pearson"].reset_index(names="")),
                          ("Spearman", tables["spearman"].reset_index(names="")),
                          ("By identity bin (identity_bins.csv)", bins)],
            figures=[(p, f"{slug}: {p.stem.replace('_', ' ')}") for p in plots]))
        print(f"{name}: Spearman(cosine, identity) = "
              f"{tables['spearman'].loc['cosine', 'identity']:.3f} over {len(frame):,} pairs")
    comparison = pd.DataFrame(rows)
    comparison.to_csv(out / "models.csv", index=False)
    overview = Section("Models compared", paragraphs=[
        f"FASTA {fasta}: {len(proteins)} of {len(seqs)} proteins sampled (fraction "
        f"{args.fraction}, seed {args.seed}), all {len(pairs):,} pairs among them. Global "
        f"alignment, PAM250, gap open -10, extend -0.5 (backend: {aln['backend']}); identity = "
        "identical columns / alignment columns. Embeddings: mean over residues, layer "
        f"{args.layer}. low/high: identity below/above {args.split}."],
        tables=[("models.csv", comparison)])
    report = write_html(out / "report.html", "Embedding distance vs alignment similarity",
                        [overview] + sections)
    print(f"wrote {out / 'models.csv'} and {report}")
    return 0
