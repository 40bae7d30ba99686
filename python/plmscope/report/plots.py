"""The report's figures, drawn with matplotlib's Agg canvas (no display, no pyplot state)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..fourier import SparseFourier
from .tables import SiteLabels

_DPI = 120


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install 'plmscope[plots]'") from exc
    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path) -> Path:
    path = Path(path)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=_DPI)
    return path


def _wrapped(title: str, width: int) -> str:
    """The title broken into lines of at most `width` characters, so a long run title is
    shown whole instead of clipped at the figure's edge."""
    import textwrap

    return "\n".join(textwrap.wrap(title, width)) or title


def plot_energy_by_order(energy: np.ndarray, path: str | os.PathLike, title: str,
                         spread: np.ndarray | None = None) -> Path:
    """Bars: share of the variance (sum |F[k]|^2, k != 0) carried by each order 1..n.

    energy: (n + 1,) energy per order (entry 0, the mean, is ignored); spread: optional
    (2, n) lower/upper shares drawn as error bars (e.g. the range over repeats). Each bar's
    percentage sits above the top of its error bar, clear of it.
    """
    return _save(energy_figure(energy, title, spread), path)


def energy_figure(energy: np.ndarray, title: str, spread: np.ndarray | None = None):
    """The figure of :func:`plot_energy_by_order`, unsaved."""
    energy = np.asarray(energy, dtype=np.float64)
    orders = np.arange(1, energy.shape[0])
    total = energy[1:].sum()
    share = energy[1:] / total if total > 0 else np.zeros(orders.shape)
    fig = _figure(6.4, 3.8)
    ax = fig.add_subplot()
    yerr = None
    top = 100 * share
    if spread is not None:
        spread = np.asarray(spread, dtype=np.float64)
        yerr = 100 * np.abs(spread - share[None, :])
        top = np.maximum(top, 100 * spread[1])
    ax.bar(orders, 100 * share, color="#3b75af", yerr=yerr, capsize=3)
    ymax = max(5.0, float(top.max()) * 1.18 if top.size else 5.0)
    for o, s, t in zip(orders, share, top):
        if s > 0.0005:
            ax.text(o, t + 0.015 * ymax, f"{100 * s:.1f}%", ha="center", va="bottom",
                    fontsize=7 if len(orders) > 8 else 8)
    ax.set_xticks(orders)
    ax.set_xlabel("interaction order (number of sites)")
    ax.set_ylabel("share of variance (%)")
    ax.set_title(_wrapped(title, 70), fontsize=10)
    ax.set_ylim(0, ymax)
    return fig


def pairwise_energy(transform: SparseFourier) -> np.ndarray:
    """(n, n) symmetric: sum |F[k]|^2 over the order-2 k whose sites are {i, j}; zero diagonal."""
    n = transform.n
    out = np.zeros((n, n))
    orders = transform.orders()
    power = np.abs(transform.values) ** 2
    for k, p in zip(transform.frequencies[orders == 2], power[orders == 2]):
        i, j = np.flatnonzero(k)
        out[i, j] += p
        out[j, i] += p
    return out


HEATMAP_FLOOR_PCT = 1.0  # the pairwise colour scale reaches at least this share of variance


def plot_pairwise_heatmap(transform: SparseFourier, labels: SiteLabels,
                          path: str | os.PathLike, title: str) -> Path:
    """Heatmap over site pairs of the pairwise (order-2) interaction energy, as a share of
    the total variance. The scale runs from 0 to the largest pair or HEATMAP_FLOOR_PCT,
    whichever is larger, so pairs carrying a negligible share never look saturated."""
    return _save(pairwise_figure(transform, labels, title), path)


def pairwise_figure(transform: SparseFourier, labels: SiteLabels, title: str):
    """The figure of :func:`plot_pairwise_heatmap`, unsaved."""
    energy = pairwise_energy(transform)
    total = float(transform.energy_by_order()[1:].sum())
    share = 100 * energy / total if total > 0 else energy
    n = transform.n
    names = [labels.site(i) for i in range(n)]
    size = 2.2 + 0.45 * n
    fig = _figure(size + 1.6, size)
    ax = fig.add_subplot()
    shown = np.where(np.eye(n, dtype=bool), np.nan, share)
    largest = float(np.nanmax(shown)) if n > 1 else 0.0
    vmax = max(largest, HEATMAP_FLOOR_PCT)
    im = ax.imshow(shown, cmap="viridis", vmin=0, vmax=vmax)
    ax.set_xticks(range(n), names, rotation=90, fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    if n <= 14:
        for i in range(n):
            for j in range(n):
                if i != j and share[i, j] >= 0.05:
                    ax.text(j, i, f"{share[i, j]:.1f}", ha="center", va="center", fontsize=7,
                            color="black" if share[i, j] > 0.6 * vmax else "white")
    floor = " (scale floor)" if largest < HEATMAP_FLOOR_PCT else ""
    fig.colorbar(im, ax=ax, label=f"% of score variance, 0 to {vmax:.2g}{floor}", shrink=0.8)
    ax.set_title(_wrapped(title, 45), fontsize=10)
    return fig


def plot_single_mutants(grid: np.ndarray, names: list, labels: SiteLabels,
                        path: str | os.PathLike, title: str) -> Path:
    """Sites x amino acids: the score change of each single mutant relative to the wild
    type (red: higher score, blue: lower; a dot marks the wild-type residue). Columns are
    the 20 amino acids when the residues are known, else the states 1..q-1."""
    from ..landscape import ALPHABET

    n, q = grid.shape
    known = labels.residues is not None
    cols = list(ALPHABET) if known else [str(v) for v in range(1, q)]
    shown = np.full((n, len(cols)), np.nan)
    wt_col = []
    for i in range(n):
        for v in range(1, q):
            c = cols.index(names[i][v]) if known else v - 1
            shown[i, c] = grid[i, v]
        wt_col.append(cols.index(names[i][0]) if known and names[i][0] in cols else None)
    lim = float(np.nanmax(np.abs(shown))) if np.isfinite(shown).any() else 1.0
    lim = lim if lim > 0 else 1.0
    width = max(5.0, 2.6 + 0.3 * len(cols))
    fig = _figure(width, max(2.8, 1.6 + 0.32 * n))
    ax = fig.add_subplot()
    cmap = _cmap("RdBu_r")
    cmap.set_bad("#eeeeee")
    im = ax.imshow(shown, cmap=cmap, vmin=-lim, vmax=lim, aspect="auto")
    for i, c in enumerate(wt_col):
        if c is not None:
            ax.plot(c, i, marker="o", ms=3, color="black")
    ax.set_xticks(range(len(cols)), cols, fontsize=8)
    ax.set_yticks(range(n), [labels.site(i) for i in range(n)], fontsize=8)
    ax.set_xlabel("substituted residue" if known else "state")
    fig.colorbar(im, ax=ax, label="score change vs wild type", shrink=0.9)
    ax.set_title(_wrapped(title, int(7 * width)), fontsize=10)
    return _save(fig, path)


def _cmap(name: str):
    import matplotlib

    return matplotlib.colormaps[name].copy()


def _mirror_free(frame, q: int):
    """Rows of an interaction table without the conjugate mirror (-k mod q) of a row already
    kept: for real scores F[-k] = conj F[k], so the mirror repeats the same interaction."""
    seen, keep = set(), []
    for idx, (sites, freq) in enumerate(zip(frame["sites"], frame["frequency"])):
        ks = tuple(int(v) for v in freq.split(",")) if freq else ()
        mirror = (sites, tuple((-v) % q for v in ks))
        if mirror in seen:
            continue
        seen.add((sites, ks))
        keep.append(idx)
    return frame.iloc[keep]


_ORDER_COLOURS = ["#7f7f7f", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                  "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#000000"]


def _colour(order: int) -> str:
    return _ORDER_COLOURS[min(int(order), len(_ORDER_COLOURS) - 1)]


def plot_top_interactions(interactions, mutations, q: int, path: str | os.PathLike, title: str,
                          top: int = 20) -> Path:
    """Two panels: the largest Fourier interactions (magnitude, one per conjugate pair) and
    the largest wild-type-reference effects of order >= 2 (epistasis of concrete mutants)."""
    from matplotlib.patches import Patch

    fourier = _mirror_free(interactions[interactions["order"] > 0], q).head(top)
    epistasis = mutations[mutations["order"] >= 2].head(top)
    rows = max(len(fourier), len(epistasis), 1)
    fig = _figure(12.0, 1.4 + 0.28 * rows)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    labels1 = []
    for wt, sites, freq in zip(fourier["wildtype"], fourier["sites"], fourier["frequency"]):
        named = sites.split(",")
        if wt:
            named = [w + s for w, s in zip(wt.split(","), named)]
        labels1.append(f"{' x '.join(named)}  (k {freq})")
    y1 = np.arange(len(fourier))[::-1]
    ax1.barh(y1, fourier["magnitude"], color=[_colour(o) for o in fourier["order"]])
    ax1.set_yticks(y1, labels1, fontsize=7)
    ax1.set_xlabel("|F[k]|")
    ax1.set_title("largest interactions by site (Fourier k for experts)", fontsize=10)
    y2 = np.arange(len(epistasis))[::-1]
    ax2.barh(y2, epistasis["effect"], color=[_colour(o) for o in epistasis["order"]])
    ax2.axvline(0, color="black", lw=0.6)
    ax2.set_yticks(y2, list(epistasis["mutations"]), fontsize=7)
    ax2.set_xlabel("epistatic effect vs wild type (score units)")
    ax2.set_title("largest mutant interactions (order >= 2)", fontsize=10)
    if not len(epistasis):
        ax2.text(0.5, 0.5, "no interaction of order >= 2 found", ha="center", va="center",
                 transform=ax2.transAxes)
    present = sorted(set(fourier["order"]) | set(epistasis["order"]))
    fig.legend(handles=[Patch(color=_colour(o), label=f"order {o}") for o in present],
               loc="lower center", ncol=max(1, len(present)), fontsize=8, frameon=False)
    fig.suptitle(_wrapped(title, 110), fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path = Path(path)
    fig.savefig(path, format="png", dpi=_DPI)
    return path


def plot_test_fit(y: np.ndarray, yhat: np.ndarray, r2: float, path: str | os.PathLike,
                  title: str, what: str = "held-out variants", xlabel: str = "oracle score",
                  ylabel: str = "recovered transform's prediction") -> Path:
    """Scatter of the recovered transform's prediction against the oracle on held-out variants."""
    y, yhat = np.asarray(y), np.asarray(yhat)
    fig = _figure(4.8, 4.4)
    ax = fig.add_subplot()
    ax.scatter(y, yhat, s=4, alpha=0.4, color="#3b75af", linewidths=0)
    if y.size:
        lo, hi = float(min(y.min(), yhat.min())), float(max(y.max(), yhat.max()))
        ax.plot([lo, hi], [lo, hi], color="black", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}\nR^2 = {r2:.3f} on {y.size:,} {what}", fontsize=10)
    return _save(fig, path)


def plot_plane(sparsity: Sequence[float], ruggedness: Sequence[float], groups: Sequence[str],
               path: str | os.PathLike, title: str) -> Path:
    """The sparsity-ruggedness plane: one point per landscape, coloured by group."""
    sparsity, ruggedness = np.asarray(sparsity, float), np.asarray(ruggedness, float)
    groups = np.asarray([str(g) for g in groups])
    fig = _figure(6.4, 4.8)
    ax = fig.add_subplot()
    names = list(dict.fromkeys(groups))
    cmap = _ORDER_COLOURS[1:] + _ORDER_COLOURS[:1]
    for idx, name in enumerate(names):
        sel = groups == name
        ax.scatter(sparsity[sel], ruggedness[sel], s=14, alpha=0.75, label=f"{name} ({sel.sum()})",
                   color=cmap[idx % len(cmap)], linewidths=0)
    ax.set_xlabel("sparsity (share of order 1-5 coefficients above threshold)")
    ax.set_ylabel("ruggedness (energy-weighted mean order)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_score_scatter(measured, predicted, num_mutations, path: str | os.PathLike, title: str,
                       spearman: float, measured_name: str = "measured score") -> Path:
    """Scatter of a model's scores against measured ones, coloured by number of mutations."""
    measured, predicted = np.asarray(measured, float), np.asarray(predicted, float)
    num_mutations = np.asarray(num_mutations)
    fig = _figure(5.2, 4.4)
    ax = fig.add_subplot()
    for k in np.unique(num_mutations):
        sel = num_mutations == k
        ax.scatter(measured[sel], predicted[sel], s=8, alpha=0.6, color=_colour(k),
                   linewidths=0, label=f"{k} mutation(s) ({sel.sum():,})")
    ax.set_xlabel(measured_name or "measured score")
    ax.set_ylabel("model score")
    rho = "undefined" if not np.isfinite(spearman) else f"{spearman:.3f}"
    ax.set_title(f"{title}\nSpearman rho = {rho} on {measured.size:,} variants", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_rounds(queries: Sequence[int], cv_r2: Sequence[float], path: str | os.PathLike,
                title: str, test_r2: float | None = None, tolerance: float | None = None,
                label: str = "cross-validated R^2 (answers so far)") -> Path:
    """R^2 against queries over the rounds of a self-stopping budget: the R^2 each round
    stopped on (`label` says which), and the held-out R^2 of the final fit."""
    from matplotlib.ticker import FuncFormatter

    queries = np.asarray(queries, dtype=np.float64)
    cv = np.asarray(cv_r2, dtype=np.float64)
    fig = _figure(6.0, 3.8)
    ax = fig.add_subplot()
    ax.plot(queries, cv, "o-", color="#3b75af", label=label)
    for x, y, r in zip(queries, cv, range(1, len(queries) + 1)):
        ax.annotate(str(r), (x, y), textcoords="offset points", xytext=(0, 6), ha="center",
                    fontsize=8, color="#3b75af")
    if test_r2 is not None and queries.size:
        ax.plot([queries[-1]], [test_r2], "s", color="#c0392b",
                label="held-out R^2 of the final fit")
    if queries.size > 1 and queries.min() > 0:
        ax.set_xscale("log")
        ax.set_xticks(queries)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    ax.margins(y=0.12)
    ax.set_xlabel("queries (distinct variants asked)")
    ax.set_ylabel("R^2")
    stop = "" if tolerance is None else f"; stops below a gain of {tolerance:g}"
    ax.set_title(_wrapped(f"{title}: R^2 against queries (numbers: rounds{stop})", 70),
                 fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, path)
