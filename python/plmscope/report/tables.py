"""Tables of a run: Fourier interactions and wild-type-reference mutation effects.

Both are written as CSV and parquet with plain columns (strings, ints, floats): site lists are
comma-joined strings and complex values are stored as ``real`` and ``imag``, because parquet
has no complex type and CSV readers have no tuple type.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..fourier import SparseFourier
from ..landscape.reference import reference_effects


@dataclass(frozen=True)
class SiteLabels:
    """How to name the n sites of a transform in a report.

    numbers: 1-based residue numbers (or 1..n when the protein is unknown).
    residues: residues[i][v] is the residue that state v puts at site i (v = 0: the wild
    type), as :attr:`plmscope.landscape.Landscape.residues`; None when unknown.
    """

    numbers: tuple[int, ...]
    residues: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.residues is not None and len(self.residues) != len(self.numbers):
            raise ValueError(f"residues has {len(self.residues)} entries for "
                             f"{len(self.numbers)} sites")

    @classmethod
    def plain(cls, n: int) -> "SiteLabels":
        return cls(tuple(range(1, n + 1)))

    @classmethod
    def of(cls, landscape) -> "SiteLabels":
        """From a :class:`plmscope.landscape.Landscape`."""
        return cls(tuple(int(s) for s in landscape.sites), tuple(landscape.residues))

    @property
    def n(self) -> int:
        return len(self.numbers)

    def site(self, i: int) -> str:
        """'Y12' when the wild type is known, else '12'."""
        if self.residues is None:
            return str(self.numbers[i])
        return f"{self.residues[i][0]}{self.numbers[i]}"

    def mutation(self, i: int, v: int) -> str:
        """'Y12A' when residues are known, else '12(3)' (site number and state)."""
        if self.residues is None:
            return f"{self.numbers[i]}({v})"
        return f"{self.residues[i][0]}{self.numbers[i]}{self.residues[i][v]}"

    def to_dict(self) -> dict:
        return {"numbers": list(self.numbers),
                "residues": None if self.residues is None else list(self.residues)}

    @classmethod
    def from_dict(cls, d: dict) -> "SiteLabels":
        res = d.get("residues")
        return cls(tuple(d["numbers"]), None if res is None else tuple(res))


def _join(items: Sequence) -> str:
    return ",".join(str(v) for v in items)


def interaction_table(transform: SparseFourier, labels: SiteLabels, stages=None):
    """One row per Fourier coefficient, largest magnitude first.

    Columns: ``rank`` (1 = largest), ``order``, ``sites`` (residue numbers, comma-joined),
    ``wildtype`` (wild-type residues there, '' if unknown), ``frequency`` (the nonzero
    entries k_i of the frequency), ``mutant`` (for q = 2 the substitute residues, whose
    contrast with the wild type the Walsh coefficient measures; '' for q > 2, where a
    frequency entry is not a residue: see :func:`mutation_table`), ``real``, ``imag``,
    ``magnitude``, and with `stages` (one per coefficient of `transform`) ``stage``: the
    decoding stage that produced it (:data:`plmscope.fourier.qsft.STAGES`). The order-0 row
    is the mean score over all variants.
    """
    import pandas as pd

    if labels.n != transform.n:
        raise ValueError(f"labels name {labels.n} sites but the transform has n={transform.n}")
    if stages is not None and len(stages) != len(transform):
        raise ValueError(f"stages names {len(stages)} coefficients but the transform has "
                         f"{len(transform)}")
    order = np.argsort(-np.abs(transform.values), kind="stable")
    freqs = transform.frequencies[order]
    values = transform.values[order]
    rows = {"rank": np.arange(1, len(order) + 1), "order": np.count_nonzero(freqs, axis=1),
            "sites": [], "wildtype": [], "frequency": [], "mutant": []}
    for k in freqs:
        nz = np.flatnonzero(k)
        rows["sites"].append(_join(labels.numbers[i] for i in nz))
        rows["frequency"].append(_join(int(k[i]) for i in nz))
        if labels.residues is None:
            rows["wildtype"].append("")
            rows["mutant"].append("")
        else:
            rows["wildtype"].append(_join(labels.residues[i][0] for i in nz))
            rows["mutant"].append(_join(labels.residues[i][1] for i in nz)
                                  if transform.q == 2 else "")
    rows.update(real=values.real, imag=values.imag, magnitude=np.abs(values))
    if stages is not None:
        rows["stage"] = np.asarray(stages).astype(str)[order]
    frame = pd.DataFrame(rows)
    frame["order"] = frame["order"].astype(np.int64)
    return frame


def conjugate_pairs(transform: SparseFourier) -> tuple[np.ndarray, np.ndarray]:
    """(index, weight) of one coefficient per real effect of order >= 1: for real scores
    F[-k] = conj F[k], so k and its mirror -k (mod q) are one effect, 2 Re(F[k] w^<k,x>).
    index picks the lexicographically smaller of k and -k, so the choice does not depend on
    rounding of the two magnitudes; weight is 2 for a pair and 1 when k = -k (every q = 2
    frequency), the number of coefficients the effect stands for."""
    freqs = transform.frequencies
    q = transform.q
    pos = {row.tobytes(): i for i, row in enumerate(freqs)}
    keep, weight = [], []
    for i, k in enumerate(freqs):
        if not k.any():
            continue
        mirror = ((q - k.astype(np.int64)) % q).astype(np.uint8)
        key, mkey = k.tobytes(), mirror.tobytes()
        if key == mkey:
            keep.append(i)
            weight.append(1)
        elif key < mkey or mkey not in pos:
            keep.append(i)
            weight.append(2)
    return np.array(keep, dtype=np.int64), np.array(weight, dtype=np.int64)


def num_effects(transform: SparseFourier) -> int:
    """Real effects (conjugate pairs k, -k counted once) of order >= 1 in a transform."""
    return int(conjugate_pairs(transform)[0].size)


def effect_table(transform: SparseFourier, labels: SiteLabels, stages=None):
    """The interactions as real effects: one row per conjugate pair k, -k (order >= 1),
    largest first, ``rank`` from 1.

    Columns: ``rank``, ``order``, ``sites`` ('D40,G38' when the wild type is known, else
    the residue numbers), ``frequency`` (the nonzero k_i of one of the pair, for experts),
    ``magnitude`` (|F[k]|; the effect swings by 2|F[k]| over the variants for a pair),
    ``variance_pct`` (share of the score variance the effect carries: 2|F[k]|^2 for a pair,
    |F[k]|^2 when k = -k, over sum |F[k]|^2 for k != 0), and with `stages` (one per
    coefficient) ``stage``: the decoding stage of the row's k.
    """
    import pandas as pd

    if labels.n != transform.n:
        raise ValueError(f"labels name {labels.n} sites but the transform has n={transform.n}")
    idx, weight = conjugate_pairs(transform)
    values = transform.values[idx]
    power = np.abs(transform.values) ** 2
    total = float(power[transform.orders() > 0].sum())
    order = np.argsort(-np.abs(values), kind="stable")
    idx, weight, values = idx[order], weight[order], values[order]
    rows = {"rank": np.arange(1, idx.size + 1, dtype=np.int64),
            "order": transform.orders()[idx].astype(np.int64), "sites": [], "frequency": []}
    for k in transform.frequencies[idx]:
        nz = np.flatnonzero(k)
        rows["sites"].append(",".join(labels.site(i) for i in nz))
        rows["frequency"].append(_join(int(k[i]) for i in nz))
    rows["magnitude"] = np.abs(values)
    rows["variance_pct"] = (100 * weight * np.abs(values) ** 2 / total if total > 0
                            else np.zeros(idx.size))
    if stages is not None:
        rows["stage"] = np.asarray(stages).astype(str)[idx]
    return pd.DataFrame(rows)


def single_mutant_grid(transform: SparseFourier, labels: SiteLabels):
    """Score change of every single mutant relative to the wild type, exact from the
    transform: (n, q) float array (column v = state v; column 0, the wild type, is 0) and the
    residue of each cell (``labels.residues[i][v]``, or the state number when unknown)."""
    q, n = transform.q, transform.n
    x = np.zeros((1 + n * (q - 1), n), dtype=np.uint8)
    for i in range(n):
        x[1 + i * (q - 1):1 + (i + 1) * (q - 1), i] = np.arange(1, q)
    y = transform.evaluate(x)
    grid = np.zeros((n, q))
    grid[:, 1:] = (y[1:] - y[0]).reshape(n, q - 1)
    names = [[labels.residues[i][v] if labels.residues is not None else str(v)
              for v in range(q)] for i in range(n)]
    return grid, names


def mutation_table(transform: SparseFourier, labels: SiteLabels, max_order: int = 2):
    """The wild-type-reference view: one row per mutation effect (see
    :mod:`plmscope.landscape.reference`) of order 1..max_order, largest |effect| first.

    Columns: ``rank``, ``order``, ``mutations`` ('Y12A:K15C'), ``sites``, ``wildtype``,
    ``mutant`` (comma-joined residues; the states when residues are unknown), ``effect``
    (score change beyond the lower-order effects it contains), ``magnitude``.
    """
    import pandas as pd

    if labels.n != transform.n:
        raise ValueError(f"labels name {labels.n} sites but the transform has n={transform.n}")
    effects = reference_effects(transform, max_order)
    effects = effects.iloc[np.argsort(-np.abs(effects["effect"].to_numpy()), kind="stable")]
    rows = {"rank": np.arange(1, len(effects) + 1, dtype=np.int64),
            "order": effects["order"].to_numpy(np.int64),
            "mutations": [], "sites": [], "wildtype": [], "mutant": []}
    for numbers, states in zip(effects["sites"], effects["states"]):
        sites = [s - 1 for s in numbers]  # reference_effects counts sites from 1
        rows["mutations"].append(":".join(labels.mutation(i, v) for i, v in zip(sites, states)))
        rows["sites"].append(_join(labels.numbers[i] for i in sites))
        if labels.residues is None:
            rows["wildtype"].append("")
            rows["mutant"].append(_join(states))
        else:
            rows["wildtype"].append(_join(labels.residues[i][0] for i in sites))
            rows["mutant"].append(_join(labels.residues[i][v] for i, v in zip(sites, states)))
    rows["effect"] = effects["effect"].to_numpy(np.float64)
    rows["magnitude"] = np.abs(rows["effect"])
    return pd.DataFrame(rows)


def top_mutations(transform: SparseFourier, labels: SiteLabels, count: int = 3) -> dict:
    """The `count` largest single-mutant effects and pair epistases vs the wild type, as
    [[name, effect], ...] ('D40A', 'D40A:G38W'), for summary.json and the console."""
    table = mutation_table(transform, labels, 2)
    return {key: [[m, float(e)] for m, e in
                  zip(*(table[table["order"] == order].head(count)[c] for c in
                        ("mutations", "effect")))]
            for key, order in (("single", 1), ("pair", 2))}


def write_table(frame, folder: str | os.PathLike, stem: str) -> list[Path]:
    """``stem.csv`` and ``stem.parquet`` in folder; returns their paths."""
    folder = Path(folder)
    csv, parquet = folder / f"{stem}.csv", folder / f"{stem}.parquet"
    frame.to_csv(csv, index=False)
    try:
        frame.to_parquet(parquet, index=False)
    except ImportError as exc:
        raise ImportError(
            "writing parquet needs pyarrow: pip install 'plmscope[plots]' (or pip install pyarrow)"
        ) from exc
    return [csv, parquet]


def truth_table(recovered: SparseFourier, truth: SparseFourier, labels: SiteLabels,
                tol: float = 1e-9):
    """Planted against recovered coefficients, one row per frequency of either (order >= 1),
    one row per conjugate pair; ``status`` is found, missed (planted, not recovered) or
    spurious (recovered, not planted). Largest planted magnitude first."""
    import pandas as pd

    if recovered.q != truth.q or recovered.n != truth.n:
        raise ValueError(f"recovered (q={recovered.q}, n={recovered.n}) and truth "
                         f"(q={truth.q}, n={truth.n}) describe different spaces")
    q = truth.q
    want = {k.tobytes(): (k, v) for k, v in zip(truth.frequencies, truth.values)
            if abs(v) > tol and k.any()}
    got = {k.tobytes(): (k, v) for k, v in zip(recovered.frequencies, recovered.values)
           if abs(v) > tol and k.any()}
    rows, seen = [], set()
    for key in list(want) + [k for k in got if k not in want]:
        k = (want.get(key) or got.get(key))[0]
        mirror = ((q - k.astype(np.int64)) % q).astype(np.uint8).tobytes()
        if mirror in seen:
            continue
        seen.add(key)
        true_v = want[key][1] if key in want else 0j
        got_v = got[key][1] if key in got else 0j
        nz = np.flatnonzero(k)
        rows.append({
            "order": len(nz), "sites": ",".join(labels.site(i) for i in nz),
            "frequency": _join(int(k[i]) for i in nz),
            "true": true_v, "recovered": got_v, "abs_error": abs(got_v - true_v),
            "status": "found" if key in want and key in got else
                      ("missed" if key in want else "spurious")})
    frame = pd.DataFrame(rows, columns=["order", "sites", "frequency", "true", "recovered",
                                        "abs_error", "status"])
    frame["true_magnitude"] = np.abs(frame["true"].to_numpy(complex))
    frame = frame.sort_values(["true_magnitude", "abs_error"], ascending=[False, False],
                              kind="stable").reset_index(drop=True)
    for col in ("true", "recovered"):  # text: CSV, parquet and HTML all show it the same way
        frame[col] = [complex_text(v) for v in frame[col]]
    return frame


def complex_text(v: complex) -> str:
    """'0.8123-0.3341j', or '0' for an exact zero."""
    v = complex(v)
    if v == 0:
        return "0"
    if v.imag == 0:
        return f"{v.real:.4f}"
    return f"{v.real:.4f}{v.imag:+.4f}j"


@dataclass(frozen=True)
class ViewSpec:
    """A view of a transform for the report: ``name`` (fourier, reference or weighted), the
    (n, q) background ``weights`` and where they come from (``source``)."""

    name: str
    weights: np.ndarray
    source: str
    given: str = ""  # the request it answers (the CLI's --view/--weights), to recognise it

    def to_dict(self) -> dict:
        return {"name": self.name, "weights": self.source, "given": self.given}


def view_table(transform: SparseFourier, labels: SiteLabels, weights, max_order: int = 2):
    """The background-weighted components (see :mod:`plmscope.landscape.background`) of
    orders 1..max_order, one row per site set and states, largest |effect| first.

    Columns: ``rank``, ``order``, ``variant`` ('Y12A:K15K': the residues at the sites, the
    wild-type letter where the state is the wild type), ``sites``, ``states``, ``effect``,
    ``weight`` (background probability of those states), ``magnitude``.
    """
    import pandas as pd

    from ..landscape.background import background_effects

    if labels.n != transform.n:
        raise ValueError(f"labels name {labels.n} sites but the transform has n={transform.n}")
    effects = background_effects(transform, weights, max_order)
    effects = effects.iloc[np.argsort(-np.abs(effects["effect"].to_numpy()), kind="stable")]
    rows = {"rank": np.arange(1, len(effects) + 1, dtype=np.int64),
            "order": effects["order"].to_numpy(np.int64), "variant": [], "sites": [],
            "states": []}
    for sites, states in zip(effects["sites"], effects["states"]):
        rows["variant"].append(":".join(labels.mutation(i, v) for i, v in zip(sites, states)))
        rows["sites"].append(_join(labels.numbers[i] for i in sites))
        rows["states"].append(_join(states))
    rows["effect"] = effects["effect"].to_numpy(np.float64)
    rows["weight"] = effects["weight"].to_numpy(np.float64)
    rows["magnitude"] = np.abs(rows["effect"])
    return pd.DataFrame(rows)


def weights_table(weights, labels: SiteLabels):
    """One row per site and state: ``site``, ``state``, ``residue`` ('' if unknown),
    ``weight``."""
    import pandas as pd

    w = np.asarray(weights)
    rows = {"site": [], "state": [], "residue": [], "weight": []}
    for i in range(w.shape[0]):
        for v in range(w.shape[1]):
            rows["site"].append(labels.numbers[i])
            rows["state"].append(v)
            rows["residue"].append("" if labels.residues is None else labels.residues[i][v])
            rows["weight"].append(float(w[i, v]))
    return pd.DataFrame(rows)
