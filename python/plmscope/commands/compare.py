"""`plmscope compare`: finished interactions or fit runs of one protein side by side."""
from __future__ import annotations

import argparse
from itertools import combinations
from pathlib import Path

COMPARE_FORMAT = "plmscope.compare/1"


def register(sub) -> None:
    p = sub.add_parser(
        "compare", help="two or more interactions/fit runs of one protein side by side",
        description="Compare finished interactions or fit run folders of the same protein: "
                    "shared sites, correlation of mutation effects per order on shared terms, "
                    "overlap of the top-k site pairs, variance by order side by side, and the "
                    "pairwise interactions one run has and another lacks. Every pair of runs "
                    "is compared; runs over different proteins are refused.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (two or more)")
    p.add_argument("--out", required=True, help="folder for the tables, figures and report.html")
    p.add_argument("--max-order", type=int, default=2,
                   help="highest order of the effects compared (default 2)")
    p.add_argument("--top", type=int, default=10, help="k of the top-k site pairs (default 10)")
    p.add_argument("--present", type=float, default=0.01,
                   help="a site pair is present in a run when its strength is at least this "
                        "share of the strongest pair of either run (default 0.01)")
    p.add_argument("--tol", type=float, default=1e-3,
                   help="a site set's effects differ when some |difference| exceeds this share "
                        "of the largest |effect| of either run (default 0.001)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import folders
    from ..landscape.comparison import compare_pair, load_run

    if len(args.runs) < 2:
        raise ValueError("compare needs two or more run folders")
    names = _names(args.runs)
    runs = [load_run(path, name) for path, name in zip(args.runs, names)]
    comparisons = [compare_pair(a, b, args.max_order, args.top, args.present, args.tol)
                   for a, b in combinations(runs, 2)]
    out = Path(args.out)
    with folders.claim(out, "compare"):
        return _write(out, runs, names, comparisons, args)


def _write(out: Path, runs, names, comparisons, args) -> int:
    from ..run_folder import run_files, versions, write_json
    from ..landscape.comparison import energy_shares
    from ..report.compare import write_compare_report

    shares = [energy_shares(r) for r in runs]
    summary = {"format": COMPARE_FORMAT, "title": "Comparison of " + ", ".join(names),
               "runs": [{"name": r.name, "path": str(r.path.resolve()), "q": r.q,
                         "sites": list(r.numbers)} for r in runs],
               "energy_by_order": {r.name: [float(v) for v in s] for r, s in zip(runs, shares)},
               "comparisons": [c.to_dict() for c in comparisons],
               "settings": {"max_order": args.max_order, "top": args.top,
                            "present": args.present, "tol": args.tol},
               "versions": versions()}
    write_compare_report(out, runs, shares, comparisons, summary)
    summary["files"] = run_files(out)
    write_json(out / "summary.json", summary)
    for c in comparisons:
        print(f"{c.b} vs {c.a}: {len(c.shared)} shared sites")
        for row in c.by_order.to_dict("records"):
            r = "undefined" if row["pearson"] is None else f"{row['pearson']:.4f}"
            print(f"  order {row['order']}: {row['terms']:,} terms, Pearson {r}, "
                  f"max |difference| {row['max_abs_difference']:.3g}")
        overlap = "undefined" if c.top_overlap is None else f"{c.top_overlap:.2f}"
        print(f"  top-{c.top_k} site pairs in common: {overlap}")
        print(f"  pairs only in {c.a}: {'; '.join(c.only_a) or 'none'}")
        print(f"  pairs only in {c.b}: {'; '.join(c.only_b) or 'none'}")
    print(f"report: {out / 'report.html'}")
    return 0


def _names(paths) -> list[str]:
    """Folder names, made unique with their parent's name where two are equal."""
    names = [Path(p).name or str(p) for p in paths]
    if len(set(names)) < len(names):
        names = [f"{Path(p).parent.name}/{Path(p).name}" for p in paths]
    if len(set(names)) < len(names):
        names = [f"{n} ({i})" for i, n in enumerate(names, start=1)]
    return names
