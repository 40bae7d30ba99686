"""`plmscope transform`: the q-ary Fourier transform of full score landscapes."""
from __future__ import annotations

import argparse

import numpy as np


def register(sub) -> None:
    p = sub.add_parser("transform", help="q-ary Fourier transform of full score landscapes (npz)")
    p.add_argument("scores", help="npz file holding q^n scores per row (flat order of docs/conventions.md)")
    p.add_argument("--q", type=int, required=True, help="alphabet size (2 or 20)")
    p.add_argument("--key", default="scores", help="array name inside the npz (default: scores)")
    p.add_argument("--rows", type=int, default=1, help="rows to summarise (default: 1)")
    p.add_argument("--top", type=int, default=10, help="coefficients to list per row")
    p.add_argument("--out", help="write the full transform to this .npy file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..fourier import SparseFourier, qary_fft

    from ..folders import read_npz

    data = read_npz(args.scores, "--scores")
    if args.key not in data:
        raise ValueError(f"--scores {args.scores} has no array {args.key!r}; it has "
                         f"{sorted(data)}: choose one with --key")
    scores = np.asarray(data[args.key], dtype=np.float64)
    scores = np.atleast_2d(scores)
    F = qary_fft(scores, args.q)
    n = int(round(np.log(scores.shape[-1]) / np.log(args.q)))
    grid = np.array(np.unravel_index(np.arange(args.q**n), (args.q,) * n)).T
    print(f"{scores.shape[0]} landscape(s) of q^n = {args.q}^{n} scores from {args.scores}")
    for r, row in enumerate(F[: args.rows]):
        sf = SparseFourier(grid, row, args.q)
        energy = sf.energy_by_order()
        share = energy[1:] / energy[1:].sum() if energy[1:].sum() > 0 else energy[1:]
        print(f"row {r}: mean {row[0].real:.4g}; energy share by order 1..{n}: "
              + " ".join(f"{s:.3f}" for s in share))
        print(sf.top(args.top + 1).to_frame().query("order > 0")
              [["order", "sites", "states", "real", "imag", "magnitude"]].head(args.top)
              .to_string(index=False))
    if args.out:
        np.save(args.out, F)
        print(f"wrote the full transform ({F.shape}, complex) to {args.out}")
    return 0
