"""Full landscapes: the score file, per-row metrics, and their report."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..landscape.spectrum import SpectrumMetrics
from .html import Section, write_html
from .plots import plot_energy_by_order

LANDSCAPE_FILE = "landscape.npz"


def metrics_frame(metrics: list[SpectrumMetrics], published: dict | None = None):
    """One row per landscape: sparsity, ruggedness, variance by order 1..n, threshold, and
    the published values when the score file carries them."""
    import pandas as pd

    n = metrics[0].n if metrics else 0
    frame = pd.DataFrame({
        "row": np.arange(len(metrics)),
        "sparsity": [m.sparsity for m in metrics],
        "ruggedness": [m.ruggedness for m in metrics],
        **{f"variance_order_{j}": [float(m.variance_by_order[j]) for m in metrics]
           for j in range(1, n + 1)},
        "threshold": [m.threshold for m in metrics],
    })
    for name, values in (published or {}).items():
        frame[name] = np.asarray(values, dtype=np.float64)
    return frame


def summary_lines(summary: dict) -> list[str]:
    s = summary
    lines = [s["title"],
             f"  landscapes:  {s['rows']} x q^n = {s['q']}^{s['n']} = {s['q'] ** s['n']:,} scores"
             + (f" ({s['source']})" if s.get("source") else ""),
             f"  sparsity:    mean {s['sparsity_mean']:.4f} (min {s['sparsity_min']:.4f}, "
             f"max {s['sparsity_max']:.4f})",
             f"  ruggedness:  mean {s['ruggedness_mean']:.4f} (min {s['ruggedness_min']:.4f}, "
             f"max {s['ruggedness_max']:.4f})"]
    share = np.asarray(s["variance_share_by_order"])
    lines.append("  variance by order (mean share): "
                 + " ".join(f"{j}:{100 * v:.1f}%" for j, v in enumerate(share, start=1) if v >= 0.0005))
    if s.get("published_max_abs_difference") is not None:
        lines.append(f"  vs published sparsity/ruggedness: max |difference| "
                     f"{s['published_max_abs_difference']:.2e}")
    return lines


def landscape_summary(metrics: list[SpectrumMetrics], title: str, source: str | None,
                      published: dict | None) -> dict:
    sp = np.array([m.sparsity for m in metrics])
    rg = np.array([m.ruggedness for m in metrics])
    shares = []
    for m in metrics:
        v = m.variance_by_order[1:]
        shares.append(v / v.sum() if v.sum() > 0 else v)
    out = {"title": title, "source": source, "rows": len(metrics), "q": metrics[0].q,
           "n": metrics[0].n,
           "sparsity_mean": float(sp.mean()), "sparsity_min": float(sp.min()),
           "sparsity_max": float(sp.max()),
           "ruggedness_mean": float(np.nanmean(rg)) if np.isfinite(rg).any() else float("nan"),
           "ruggedness_min": float(np.nanmin(rg)) if np.isfinite(rg).any() else float("nan"),
           "ruggedness_max": float(np.nanmax(rg)) if np.isfinite(rg).any() else float("nan"),
           "variance_share_by_order": [float(v) for v in np.mean(shares, axis=0)],
           "metrics": [m.as_dict() for m in metrics],
           "published_max_abs_difference": None}
    if published and {"published_sparsity", "published_ruggedness"} <= set(published):
        out["published_max_abs_difference"] = float(max(
            np.max(np.abs(sp - published["published_sparsity"])),
            np.max(np.abs(rg - published["published_ruggedness"]))))
    return out


def write_landscape_report(folder: str | os.PathLike, metrics: list[SpectrumMetrics],
                           summary: dict, published: dict | None = None) -> list[Path]:
    """metrics.csv, energy_by_order.png and report.html in folder."""
    folder = Path(folder)
    frame = metrics_frame(metrics, published)
    frame.to_csv(folder / "metrics.csv", index=False)
    shares = np.array(summary["variance_share_by_order"])
    per_row = []
    for m in metrics:
        v = m.variance_by_order[1:]
        per_row.append(v / v.sum() if v.sum() > 0 else v)
    per_row = np.array(per_row)
    spread = np.vstack([per_row.min(axis=0), per_row.max(axis=0)]) if len(metrics) > 1 else None
    energy = np.concatenate([[0.0], shares])
    png = plot_energy_by_order(energy, folder / "energy_by_order.png",
                               f"{summary['title']}: mean variance share by order"
                               + (" (bars: min-max over rows)" if spread is not None else ""),
                               spread)
    facts = [(line.split(":", 1)[0].strip(), line.split(":", 1)[1].strip())
             for line in summary_lines(summary)[1:]]
    sections = [
        Section("Summary", facts=facts,
                paragraphs=["Sparsity: share of the order 1-5 Fourier coefficients whose "
                            "magnitude exceeds std(|F|)/5. Ruggedness: the energy-weighted mean "
                            "order over orders 1-5 (Tsui & Aghazadeh, arXiv 2405.06645)."]),
        Section("Variance by interaction order", figures=[(png, "energy_by_order.png")]),
        Section("Per landscape", tables=[("metrics.csv", frame)]),
    ]
    html = write_html(folder / "report.html", summary["title"], sections)
    return [folder / "metrics.csv", png, html]
