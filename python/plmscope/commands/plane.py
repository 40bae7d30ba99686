"""`plmscope plane`: the sparsity-ruggedness plane over many landscapes (the paper's main
figure), one point per landscape row, coloured by label."""
from __future__ import annotations

import argparse
from pathlib import Path

COLOR_BY = ("label", "protein", "scorer", "folder", "file")


def register(sub) -> None:
    p = sub.add_parser(
        "plane", help="sparsity-ruggedness plane of many landscapes, coloured by label",
        description="Place every landscape (each row of each score file) in the "
                    "sparsity-ruggedness plane. RUNS are score files (the format of "
                    "esm2-q2-landscapes, or landscape.npz) or `plmscope landscape` output folders.")
    p.add_argument("runs", nargs="+", help="score .npz files or landscape run folders")
    p.add_argument("--q", type=int, default=None, help="states per site when a file stores none "
                                                        "(default 2)")
    p.add_argument("--color-by", default="label", choices=COLOR_BY,
                   help="colour by the files' label (default), protein, scorer, parent folder "
                        "or file name")
    p.add_argument("--out", default="plane.png", help="figure path (default plane.png); the "
                                                      "points go to the same name with .csv")
    p.add_argument("--title", default="Sparsity-ruggedness plane", help="figure title")
    p.set_defaults(func=run)


def score_file(entry: str) -> Path:
    from ..report.landscape import LANDSCAPE_FILE

    path = Path(entry)
    if path.is_dir():
        if not (path / LANDSCAPE_FILE).is_file():
            raise ValueError(f"{entry} is a folder without {LANDSCAPE_FILE}: give score .npz files "
                             "or folders written by `plmscope landscape --out`")
        return path / LANDSCAPE_FILE
    if not path.is_file():
        raise ValueError(f"{entry}: no such file or folder")
    return path


def plane_points(entries, q=None, color_by: str = "label"):
    """DataFrame: file, row, group, sparsity, ruggedness; one row per landscape."""
    import pandas as pd

    from ..landscape import spectrum_metrics
    from .landscape import load_scores, text_field

    if color_by not in COLOR_BY:
        raise ValueError(f"--color-by must be one of {COLOR_BY}, got {color_by!r}")
    records = []
    for entry in entries:
        path = score_file(entry).resolve()
        scores, file_q, fields = load_scores(path, "scores", q)
        folder = path.parent.name if path.name != "landscape.npz" else path.parent.parent.name
        groups = {"label": text_field(fields, "label", path.stem),
                  "protein": text_field(fields, "protein", "?"),
                  "scorer": text_field(fields, "scorer", "?"),
                  "folder": folder,
                  "file": path.stem if path.name != "landscape.npz" else path.parent.name}
        for r, row in enumerate(scores):
            m = spectrum_metrics(row, file_q)
            records.append({"file": str(path), "row": r, "group": groups[color_by],
                            "sparsity": m.sparsity, "ruggedness": m.ruggedness})
    return pd.DataFrame(records)


def run(args: argparse.Namespace) -> int:
    from ..report.plots import plot_plane

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out {out} must end in .png")
    points = plane_points(args.runs, args.q, args.color_by)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_plane(points["sparsity"], points["ruggedness"], points["group"], out, args.title)
    points.to_csv(out.with_suffix(".csv"), index=False)
    table = points.groupby("group", sort=False).agg(
        landscapes=("row", "size"), sparsity=("sparsity", "mean"), ruggedness=("ruggedness", "mean"))
    print(f"{len(points)} landscapes from {len(args.runs)} input(s), coloured by {args.color_by}:")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    if points["group"].nunique() == 1 and points["file"].nunique() > 1:
        others = ", ".join(c for c in COLOR_BY if c != args.color_by)
        print(f"note: all {points['file'].nunique()} inputs share the {args.color_by} "
              f"{points['group'].iloc[0]!r}, so the figure has one colour; --color-by one of "
              f"{others} tells them apart (file: one colour per input)")
    print(f"figure: {out}\npoints: {out.with_suffix('.csv')}")
    return 0
