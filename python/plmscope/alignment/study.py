"""Do embedding distances track alignment similarity? (Hakim, Roy & Rahman, 2510.10655)

One table row per protein pair: cosine similarity and squared Euclidean distance of the two
global embeddings, PAM250 alignment score and identity. From it: the Pearson and Spearman
correlation matrices of those four columns (the paper's table), hexbin plots of each
embedding metric against identity, and the same correlations within identity bins (the
paper's finding that embeddings separate similar proteins far better than dissimilar ones).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..isotropy import pair_similarity
from .align import align_pairs

METRICS = ("cosine", "sqdist", "score", "identity")
EMBEDDING_METRICS = ("cosine", "sqdist")
LABELS = {"cosine": "cosine similarity", "sqdist": "squared Euclidean distance",
          "score": "PAM250 alignment score", "identity": "sequence identity"}
DEFAULT_EDGES = (0.0, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)


def pair_metrics(embeddings, sequences: Sequence[str], pairs, *, backend: str = "auto",
                 nthreads: int = 0, nonstandard: str = "error", progress=None):
    """A DataFrame with columns i, j, cosine, sqdist, score, identity: one row per pair.

    embeddings : (N, d) array, row k the global embedding of sequences[k].
    pairs : (P, 2) integer indices into both."""
    import pandas as pd

    emb = np.asarray(embeddings) if not hasattr(embeddings, "detach") else embeddings
    if len(sequences) != len(emb):
        raise ValueError(f"got {len(emb)} embeddings for {len(sequences)} sequences: row k of "
                         "embeddings must be the embedding of sequences[k]")
    p = np.asarray(pairs)
    cosine, sqdist = pair_similarity(emb, p, nthreads=nthreads)
    aln = align_pairs(sequences, p, identity=True, backend=backend, nthreads=nthreads,
                      nonstandard=nonstandard, progress=progress)
    p = p.reshape(-1, 2)
    return pd.DataFrame({"i": p[:, 0], "j": p[:, 1], "cosine": cosine, "sqdist": sqdist,
                         "score": aln.score, "identity": aln.identity})


def _check_frame(frame, columns) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the pair table lacks column(s) {missing}; it has {list(frame.columns)}")


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3:
        return float("nan")
    xc, yc = x - x.mean(), y - y.mean()
    den = np.sqrt(np.dot(xc, xc) * np.dot(yc, yc))
    return float(np.dot(xc, yc) / den) if den > 0 else float("nan")


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import rankdata

    return _pearson(rankdata(x), rankdata(y)) if len(x) >= 3 else float("nan")


def correlation_tables(frame, columns: Sequence[str] = METRICS) -> dict:
    """{"pearson": DataFrame, "spearman": DataFrame}: the correlation matrices of `columns`
    over all pairs (NaN where a column is constant or there are fewer than 3 pairs)."""
    import pandas as pd

    columns = list(columns)
    _check_frame(frame, columns)
    data = {c: frame[c].to_numpy(dtype=np.float64) for c in columns}
    out = {}
    for name, fn in (("pearson", _pearson), ("spearman", _spearman)):
        mat = np.array([[fn(data[a], data[b]) for b in columns] for a in columns])
        out[name] = pd.DataFrame(mat, index=columns, columns=columns)
    return out


def identity_bins(frame, edges: Sequence[float] = DEFAULT_EDGES,
                  metrics: Sequence[str] = EMBEDDING_METRICS):
    """Per identity bin [edges[k], edges[k+1]) (the last bin includes its upper edge):
    n_pairs, mean identity, and per metric its mean, std and Pearson/Spearman correlation
    with identity and with the alignment score inside the bin. ``edges=(0, t, 1)`` gives the
    low- versus high-identity split at t."""
    import pandas as pd

    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges must be at least two increasing numbers, got {edges.tolist()}")
    _check_frame(frame, ["identity", "score", *metrics])
    ident = frame["identity"].to_numpy(dtype=np.float64)
    score = frame["score"].to_numpy(dtype=np.float64)
    rows = []
    for k in range(len(edges) - 1):
        lo, hi = edges[k], edges[k + 1]
        last = k == len(edges) - 2
        mask = (ident >= lo) & ((ident <= hi) if last else (ident < hi))
        row = {"bin": f"[{lo:g}, {hi:g}{']' if last else ')'}", "n_pairs": int(mask.sum()),
               "identity_mean": float(ident[mask].mean()) if mask.any() else float("nan")}
        for m in metrics:
            v = frame[m].to_numpy(dtype=np.float64)[mask]
            row[f"{m}_mean"] = float(v.mean()) if len(v) else float("nan")
            row[f"{m}_std"] = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
            row[f"{m}_pearson_identity"] = _pearson(v, ident[mask])
            row[f"{m}_spearman_identity"] = _spearman(v, ident[mask])
            row[f"{m}_spearman_score"] = _spearman(v, score[mask])
        rows.append(row)
    return pd.DataFrame(rows)


def hexbin_plots(frame, out_dir, prefix: str = "", gridsize: int = 60,
                 metrics: Sequence[str] = EMBEDDING_METRICS) -> list[Path]:
    """One PNG per embedding metric: hexbin of the metric against identity, log counts,
    with N and both correlations in the title. Uses the Agg canvas directly (no pyplot, no
    change to the caller's matplotlib backend). Returns the paths written."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _check_frame(frame, ["identity", *metrics])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ident = frame["identity"].to_numpy(dtype=np.float64)
    paths = []
    for m in metrics:
        v = frame[m].to_numpy(dtype=np.float64)
        fig = Figure(figsize=(5.5, 4.5), dpi=120)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        if len(v):
            hb = ax.hexbin(ident, v, gridsize=gridsize, bins="log", mincnt=1, cmap="viridis")
            fig.colorbar(hb, ax=ax, label="pairs (log)")
        ax.set_xlabel(LABELS["identity"])
        ax.set_ylabel(LABELS.get(m, m))
        ax.set_title(f"{prefix}{LABELS.get(m, m)} vs identity\nN={len(v):,} pairs, "
                     f"Pearson {_pearson(v, ident):.3f}, Spearman {_spearman(v, ident):.3f}",
                     fontsize=9)
        fig.tight_layout()
        path = out_dir / f"{prefix}{m}_vs_identity.png"
        fig.savefig(path)
        paths.append(path)
    return paths
