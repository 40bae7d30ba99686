"""`plmscope transform`: the q-ary Fourier transform of full score landscapes."""
from __future__ import annotations

import argparse

import numpy as np


def register(sub) -> None:
    p = sub.add_parser(
        "transform", help="q-ary Fourier transform of full score landscapes (npz)",
        description="The dense q-ary Fourier transform of every row of a score file (q^n scores "
                    "per row, flat order of docs/conventions.md, e.g. esm2-q2-landscapes or a "
                    "`plmscope landscape` landscape.npz): the mean, the variance share of each "
                    "interaction order and the largest interactions, one line per real effect "
                    "(k and its conjugate mirror -k together). Sites are 1-based residue "
                    "numbers when the file has positions_1based, else site numbers 1..n.")
    p.add_argument("scores", help="npz file holding q^n scores per row (flat order of "
                                   "docs/conventions.md)")
    p.add_argument("--q", type=int, default=None,
                   help="states per site (default: the file's q, else 2 or 20 from the row "
                        "length)")
    p.add_argument("--key", default="scores", help="array name inside the npz (default: scores)")
    p.add_argument("--rows", type=int, default=1, help="rows to summarise (default: 1)")
    p.add_argument("--top", type=int, default=10,
                   help="largest interactions to list per row (default 10)")
    p.add_argument("--out", help="write the full transform to this .npy file")
    p.set_defaults(func=run)


def infer_q(length: int, fields: dict, path: str) -> int:
    """q of a score file without --q: its stored q, else the one of 2 and 20 (or q^n with n =
    len(positions_1based)) whose power the row length is."""
    from .._checks import qary_log
    from ..folders import scalar_int

    if "q" in fields:
        return scalar_int(fields["q"], f"q stored in {path}")
    if "positions_1based" in fields:
        n = len(fields["positions_1based"])
        q = int(round(length ** (1.0 / n))) if n else 0
        if n and q**n == length:
            return q
    fits = []
    for q in (2, 20):
        try:
            qary_log(length, q)
            fits.append(q)
        except ValueError:
            continue
    if len(fits) != 1:
        raise ValueError(f"{path} stores no q and rows of {length} scores do not say it; pass --q")
    return fits[0]


def run(args: argparse.Namespace) -> int:
    from .._checks import qary_log
    from ..folders import read_npz
    from ..fourier import SparseFourier, qary_fft
    from ..report.tables import SiteLabels, effect_table

    data = read_npz(args.scores, "score file")
    if args.key not in data:
        raise ValueError(f"score file {args.scores} has no array {args.key!r}; it has "
                         f"{sorted(data)}: choose one with --key")
    try:
        scores = np.atleast_2d(np.asarray(data[args.key], dtype=np.float64))
    except (TypeError, ValueError):
        raise ValueError(f"score file {args.scores}: {args.key} holds {data[args.key].dtype} "
                         "values, not numbers") from None
    fields = {k: v for k, v in data.items() if k != args.key}
    q = args.q or infer_q(scores.shape[-1], fields, args.scores)
    try:
        n = qary_log(scores.shape[-1], q)
    except ValueError:
        raise ValueError(f"{args.scores}: rows of {scores.shape[-1]} scores are not q^n for "
                         f"q={q}; pass the right --q") from None
    F = qary_fft(scores, q)
    positions = fields.get("positions_1based")
    labels = SiteLabels(tuple(int(p) for p in positions)) \
        if positions is not None and len(positions) == n else SiteLabels.plain(n)
    where = "residue numbers" if labels.numbers != tuple(range(1, n + 1)) else "site numbers 1..n"
    grid = np.array(np.unravel_index(np.arange(q**n), (q,) * n)).T
    print(f"{scores.shape[0]} landscape(s) of q^n = {q}^{n} scores from {args.scores}; "
          f"sites are 1-based {where}")
    for r, row in enumerate(F[: args.rows]):
        sf = SparseFourier(grid, row, q)
        energy = sf.energy_by_order()
        share = energy[1:] / energy[1:].sum() if energy[1:].sum() > 0 else energy[1:]
        print(f"row {r}: mean {row[0].real:.4g}; variance share by order 1..{n}: "
              + " ".join(f"{s:.3f}" for s in share))
        table = effect_table(sf.top(2 * args.top + 1), labels).head(args.top)
        print(table[["rank", "order", "sites", "frequency", "magnitude", "variance_pct"]]
              .to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if args.out:
        np.save(args.out, F)
        print(f"wrote the full transform ({F.shape}, complex) to {args.out}")
    return 0
