"""`plmscope demo`: the whole interactions pipeline, offline, on a built-in planted landscape
whose interactions are known, so a new user sees q-SFT recover them and the report it writes."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from . import seed
from .. import folders

# GB1 (PDB 1GB1) and the paper's GB1 sites (the randomcoils experiment); the scores are
# planted, not a model's: the wild type only names the sites and residues in the report.
WILDTYPE = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"
SITES = (12, 15, 6, 47, 40, 9, 37, 50, 21, 38)
Q = 20
# interactions planted per order (each with its conjugate mirror) and their typical size
PLANTED = {1: (12, 1.0), 2: (8, 0.6), 3: (4, 0.4)}
NOISE_SD = 0.1
MEAN = -2.0
NOTE = ("This is a built-in PLANTED landscape with known truth (a synthetic sparse function "
        "over 10 GB1 sites, plus noise), not a language model's scores.")
REAL_MODEL = ("plmscope interactions --fasta WT.fasta --sites 12,15,6,47,40,9,37,50,21,38 "
              "--model esm2_t33_650M_UR50D --scorer pllr --q 20 --b 4 --subsamples 2 "
              "--repeats 2 --out runs/gb1 --yes")


def register(sub) -> None:
    p = sub.add_parser(
        "demo", help="q-SFT on a built-in planted landscape with known truth (offline, < 1 min)",
        description=NOTE + " Runs the whole interactions pipeline on it and writes the report.")
    p.add_argument("--out", default="plmscope-demo", help="run folder (default plmscope-demo)")
    p.add_argument("--seed", type=seed, default=0, help="seeds the planted truth and the design")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def planted_transform(seed: int = 0):
    """The demo's truth: a real, sparse function on Z_20^10 (conjugate pairs k, -k)."""
    from ..fourier import random_real_transform

    rng = np.random.default_rng([seed, 0xDE70])
    return random_real_transform(Q, len(SITES), PLANTED, MEAN, rng)


def site_labels():
    from ..landscape import Landscape
    from ..report.tables import SiteLabels

    return SiteLabels.of(Landscape(WILDTYPE, SITES, Q))


def run(args: argparse.Namespace) -> int:
    from ..experiment import budget_line, run_interactions
    from ..fourier import SurrogateOracle, qsft
    from ..report.interactions import summary_lines
    from ..report.tables import truth_table

    print(NOTE)
    truth = planted_transform(args.seed)
    labels = site_labels()
    b, C, R = 3, 3, 1
    print(budget_line(qsft.plan(Q, len(SITES), b, C, "nso", R), Q, len(SITES)))
    oracle = SurrogateOracle(truth, NOISE_SD, seed=args.seed)
    info = {"kind": "planted", "seed": args.seed, "noise_sd": NOISE_SD,
            "planted": {str(k): v[0] for k, v in PLANTED.items()}}
    out = Path(args.out)
    try:
        with folders.claim(out, "demo"):
            result = run_interactions(
                oracle, Q, len(SITES), b, num_subsample=C, num_repeat=R, seed=args.seed,
                test=10_000, out=out, labels=labels, oracle_info=info, truth=truth, note=NOTE,
                title="plmscope demo: a planted landscape over 10 GB1 sites",
                progress=False if args.no_progress else None, log=print)
    except KeyboardInterrupt:
        print(f"\ninterrupted: run the same command again to resume from {out}")
        return 130
    if result.already_finished:
        print(f"{out} holds this finished demo; nothing recomputed.")
    table = truth_table(result.transform, truth, labels)
    shown = table.head(12).copy()
    print("\nFor experts: planted vs recovered interactions as Fourier coefficients (sites, "
          "frequency k; largest first; k and -k counted once). The summary below names the "
          "strongest mutations in residue letters.")
    print(shown[["order", "sites", "frequency", "true", "recovered", "abs_error", "status"]]
          .to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if len(table) > len(shown):
        print(f"... {len(table) - len(shown)} more rows in {out / 'truth.csv'}")
    print()
    print("\n".join(summary_lines(result.summary)))
    print(f"report: {out / 'report.html'}")
    print(f"\nTo explain a real model instead (downloads its weights, or give a local "
          f"checkpoint):\n  {REAL_MODEL}")
    return 0
