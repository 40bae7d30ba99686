"""Draws docs/how_it_works.png, the picture in the README and docs/qsft.md:
python docs/make_figure.py (matplotlib only)."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

INTERACTIONS = [
    ("wild type + n sites", "a function f on Z_q^n:\nthe model's score of\nevery variant"),
    ("design", "C x q^b x P variants\nM_c l + d\n(plmscope plan counts)"),
    ("model (oracle)", "scores the variants\nin batches, cached,\nresumable, Ray"),
    ("bins", "q-ary FFT over l:\nq^b bins per group\nand delay"),
    ("peel", "singletons give k\nand F[k]; subtract,\nrepeat; refit"),
    ("interactions", "sparse F: orders,\nsite pairs, mutants;\nheld-out R^2, report"),
]
GEOMETRY = [
    ("sequences", "FASTA of proteins"),
    ("embeddings", "mean-pooled or\nper residue (N x d)"),
    ("covariance", "streamed float64 sums,\none pass"),
    ("IsoScore", "PR = tr(C)^2 / ||C||_F^2\nIsoScore = (PR-1)/(d-1)"),
    ("alignment", "PAM250 scores vs\nembedding distances"),
]


def row(ax, y, boxes, colour, width=1.9, gap=0.45):
    centres = []
    for i, (title, body) in enumerate(boxes):
        x = i * (width + gap)
        ax.add_patch(FancyBboxPatch((x, y - 0.65), width, 1.3, boxstyle="round,pad=0.05",
                                    facecolor=colour, edgecolor="0.3", linewidth=1))
        ax.text(x + width / 2, y + 0.42, title, ha="center", va="center", fontsize=10,
                fontweight="bold")
        ax.text(x + width / 2, y - 0.12, body, ha="center", va="center", fontsize=8,
                linespacing=1.25)
        centres.append(x)
    for a, b in zip(centres, centres[1:]):
        ax.add_patch(FancyArrowPatch((a + width + 0.04, y), (b - 0.04, y), arrowstyle="-|>",
                                     mutation_scale=14, color="0.25"))


def main() -> None:
    fig, ax = plt.subplots(figsize=(14.5, 4.6))
    ax.set_xlim(-0.2, 14.3)
    ax.set_ylim(-2.6, 2.0)
    ax.axis("off")
    ax.text(-0.1, 1.75, "1. Interactions (q-SFT): which residues act together in the model's score",
            fontsize=11.5, fontweight="bold", va="center")
    row(ax, 0.85, INTERACTIONS, "#dbe9f6")
    ax.text(-0.1, -0.75, "2. Embedding geometry: how much of its space the model uses",
            fontsize=11.5, fontweight="bold", va="center")
    row(ax, -1.75, GEOMETRY, "#e5f2dd", width=2.45, gap=0.45)
    out = Path(__file__).resolve().parent / "how_it_works.png"
    fig.savefig(out, dpi=110, bbox_inches="tight", metadata={"Software": None})
    print(out)


if __name__ == "__main__":
    main()
