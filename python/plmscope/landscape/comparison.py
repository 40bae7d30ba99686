"""Two or more finished runs (interactions or fit) of one protein, side by side.

Effects are compared in the wild-type-reference view (:mod:`plmscope.landscape.reference`):
the effect of a set of mutations depends only on the variants that mutate those sites and no
others, so it means the same thing in runs over different site sets, whereas a Fourier
coefficient averages over the backgrounds of the run's other sites. Terms are matched by site
numbers and mutant residues (by states when a run does not know its residues, which then
needs the same q). A pair of sites is *present* in a run when its pairwise strength (the sum
of its squared order-2 effects) is at least ``present`` times the strongest pair of either run.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from ..fourier import SparseFourier
from .reference import reference_effects


@dataclass(frozen=True)
class Run:
    """A finished run folder: its transform, site labels, wild type (None when unknown)."""

    path: Path
    name: str
    transform: SparseFourier
    numbers: tuple[int, ...]
    residues: tuple[str, ...] | None
    wildtype: str | None
    summary: dict

    @property
    def q(self) -> int:
        return self.transform.q


def load_run(path: str | os.PathLike, name: str | None = None) -> Run:
    """A finished interactions or fit run folder (summary.json and transform.npz)."""
    path = Path(path)
    if not (path / "summary.json").is_file() or not (path / "transform.npz").is_file():
        raise ValueError(f"{path} is not a finished interactions or fit run folder (it needs "
                         "summary.json and transform.npz); finish the run first")
    summary = json.loads((path / "summary.json").read_text())
    if "sites" not in summary:
        raise ValueError(f"{path}/summary.json names no sites: it is not an interactions or fit "
                         "run (compare needs one of those)")
    transform = SparseFourier.load(path / "transform.npz")
    sites = summary["sites"]
    numbers = tuple(int(s) for s in sites["numbers"])
    residues = None if sites.get("residues") is None else tuple(sites["residues"])
    if len(numbers) != transform.n:
        raise ValueError(f"{path}: summary.json names {len(numbers)} sites but transform.npz "
                         f"has n={transform.n}")
    oracle = summary.get("oracle") or {}
    wildtype = oracle.get("wildtype") or summary.get("wildtype")
    return Run(path, name or path.name, transform, numbers, residues, wildtype, summary)


def _wildtype_letters(run: Run) -> dict[int, str]:
    """{residue number: wild-type letter} as far as the run knows its protein."""
    if run.wildtype:
        return {i + 1: c for i, c in enumerate(run.wildtype)}
    if run.residues is not None:
        return {s: r[0] for s, r in zip(run.numbers, run.residues)}
    return {}


def check_same_protein(a: Run, b: Run) -> None:
    """ValueError with the reason when two runs are not over the same protein (as far as
    their wild types, or the wild-type residues at their sites, tell)."""
    def refuse(why: str):
        raise ValueError(f"runs {a.name} and {b.name} are over different proteins: {why}; "
                         "compare runs of one protein")

    if a.wildtype and b.wildtype and len(a.wildtype) != len(b.wildtype):
        refuse(f"their wild types have {len(a.wildtype)} vs {len(b.wildtype)} residues")
    wa, wb = _wildtype_letters(a), _wildtype_letters(b)
    for s in sorted(set(wa) & set(wb)):
        if wa[s] != wb[s]:
            refuse(f"residue {s} is {wa[s]} vs {wb[s]}")
    for run, other, letters in ((a, b, wb), (b, a, wa)):
        if other.wildtype:
            beyond = [s for s in run.numbers if s not in letters]
            if beyond:
                refuse(f"{run.name} has site {beyond[0]}, beyond the {len(other.wildtype)} "
                       f"residues of {other.name}'s wild type")


def shared_sites(a: Run, b: Run) -> list[int]:
    """Residue numbers both runs cover, in increasing order."""
    return sorted(set(a.numbers) & set(b.numbers))


def effect_terms(run: Run, sites, max_order: int):
    """The run's reference effects over `sites` only (orders 1..max_order), keyed for
    matching: DataFrame with ``order``, ``sites`` ('3,4'), ``mutant`` ('A,W' or states
    '1,2'), ``effect``."""
    import pandas as pd

    keep = {run.numbers.index(s) for s in sites}
    effects = reference_effects(run.transform, max_order)
    rows = {"order": [], "sites": [], "mutant": [], "effect": []}
    for order, idx, states, value in zip(effects["order"], effects["sites"], effects["states"],
                                         effects["effect"]):
        idx = tuple(i - 1 for i in idx)  # reference_effects numbers sites from 1
        if not set(idx) <= keep:
            continue
        pairs = sorted(zip((run.numbers[i] for i in idx), idx, states))
        rows["order"].append(int(order))
        rows["sites"].append(",".join(str(p[0]) for p in pairs))
        rows["mutant"].append(",".join(run.residues[i][v] if run.residues is not None else str(v)
                                       for _, i, v in pairs))
        rows["effect"].append(float(value))
    return pd.DataFrame(rows, columns=["order", "sites", "mutant", "effect"])


def pair_strength(terms) -> dict[str, float]:
    """{'3,4': sum of squared order-2 effects of that site pair}."""
    pairs = terms[terms["order"] == 2]
    return pairs.groupby("sites")["effect"].apply(lambda e: float(np.sum(np.square(e)))).to_dict()


def _corr(x, y, kind: str) -> float | None:
    from scipy import stats

    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    value = (stats.pearsonr if kind == "pearson" else stats.spearmanr)(x, y)[0]
    return float(value) if np.isfinite(value) else None


@dataclass
class PairComparison:
    """One run against another: see :func:`compare_pair`."""

    a: str
    b: str
    shared: list[int]
    by_order: object        # DataFrame: order, terms, pearson, spearman, max_abs_difference
    effects: object         # DataFrame: order, sites, mutant, effect_a, effect_b, difference
    pairs: object           # DataFrame: sites, strength_a, strength_b, rank_a, rank_b, ...
    top_k: int
    top_overlap: float | None
    only_a: list[str]
    only_b: list[str]
    differing_sets: object  # DataFrame: order, sites, max_abs_difference (> tol), largest first

    def to_dict(self) -> dict:
        def records(frame):
            return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                     for k, v in row.items()} for row in frame.to_dict("records")]

        return {"a": self.a, "b": self.b, "shared_sites": self.shared,
                "by_order": records(self.by_order), "top_k": self.top_k,
                "top_overlap": self.top_overlap, "pairs_only_in_a": self.only_a,
                "pairs_only_in_b": self.only_b,
                "differing_site_sets": records(self.differing_sets)}


def compare_pair(a: Run, b: Run, max_order: int = 2, top_k: int = 10, present: float = 0.01,
                 tol: float = 1e-3) -> PairComparison:
    """Compare run `b` with run `a` on their shared sites.

    by_order: per order, the number of terms (mutant combinations either run has an effect
    for; a term one run lacks counts as 0 there), Pearson and Spearman of the effects, and the
    largest |difference|. top_overlap: |top-k pairs of a & top-k pairs of b| / k (k capped at
    the number of shared pairs). only_a / only_b: site pairs present (see the module
    docstring) in one run and not the other. differing_sets: site sets whose effects differ by
    more than `tol` times the largest |effect| of either run somewhere (relative, so the
    shrinkage of a regression decoder, ~1e-5 of the effects, is not a difference).
    """
    import pandas as pd

    if max_order < 1:
        raise ValueError(f"--max-order must be >= 1, got {max_order}")
    if top_k < 1:
        raise ValueError(f"--top must be >= 1, got {top_k}")
    if not 0 < present < 1:
        raise ValueError(f"--present must lie in (0, 1), got {present}")
    if not 0 <= tol < 1:
        raise ValueError(f"--tol must lie in [0, 1), got {tol}")
    check_same_protein(a, b)
    shared = shared_sites(a, b)
    if not shared:
        raise ValueError(f"runs {a.name} (sites {_sites(a.numbers)}) and {b.name} (sites "
                         f"{_sites(b.numbers)}) share no site; there is nothing to compare")
    if (a.residues is None or b.residues is None) and a.q != b.q:
        raise ValueError(f"runs {a.name} (q={a.q}) and {b.name} (q={b.q}) do not name their "
                         "residues, so their states cannot be matched; compare runs with the "
                         "same q or with known residues")
    # matched by residues, or by states (both runs) when one does not know its residues
    by_states = a.residues is None or b.residues is None
    ta, tb = (effect_terms(_without_residues(r) if by_states else r, shared, max_order)
              for r in (a, b))
    merged = ta.merge(tb, on=["order", "sites", "mutant"], how="outer",
                      suffixes=("_a", "_b")).fillna({"effect_a": 0.0, "effect_b": 0.0})
    merged["difference"] = merged["effect_b"] - merged["effect_a"]
    merged = merged.sort_values(["order", "sites", "mutant"], kind="stable").reset_index(drop=True)
    rows = []
    for order in range(1, max_order + 1):
        part = merged[merged["order"] == order]
        x, y = part["effect_a"].to_numpy(), part["effect_b"].to_numpy()
        rows.append({"order": order, "terms": int(len(part)),
                     "pearson": _corr(x, y, "pearson"), "spearman": _corr(x, y, "spearman"),
                     "max_abs_difference": float(np.abs(y - x).max()) if len(part) else 0.0})
    by_order = pd.DataFrame(rows)
    diff = merged.assign(abs_difference=merged["difference"].abs())
    differing = (diff.groupby(["order", "sites"], as_index=False)["abs_difference"].max()
                 .rename(columns={"abs_difference": "max_abs_difference"}))
    scale = float(np.max(np.abs(merged[["effect_a", "effect_b"]].to_numpy()), initial=0.0))
    differing = differing[differing["max_abs_difference"] > tol * scale].sort_values(
        "max_abs_difference", ascending=False, kind="stable").reset_index(drop=True)

    sa, sb = pair_strength(ta), pair_strength(tb)
    all_pairs = [f"{i},{j}" for i, j in combinations(shared, 2)]
    pairs = pd.DataFrame({"sites": all_pairs,
                          "strength_a": [sa.get(p, 0.0) for p in all_pairs],
                          "strength_b": [sb.get(p, 0.0) for p in all_pairs]})
    scale = float(np.max(pairs[["strength_a", "strength_b"]].to_numpy(), initial=0.0))
    threshold = present * scale
    pairs["present_a"] = (pairs["strength_a"] >= threshold) & (pairs["strength_a"] > 0)
    pairs["present_b"] = (pairs["strength_b"] >= threshold) & (pairs["strength_b"] > 0)
    k = min(top_k, len(all_pairs))
    overlap = None
    for col in ("a", "b"):
        order = np.argsort(-pairs[f"strength_{col}"].to_numpy(), kind="stable")
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(1, len(order) + 1)
        pairs[f"rank_{col}"] = rank
    if k:
        # a pair of zero strength is no top pair: the top-k lists hold present pairs only
        top_a = set(pairs[(pairs["rank_a"] <= k) & (pairs["strength_a"] > 0)]["sites"])
        top_b = set(pairs[(pairs["rank_b"] <= k) & (pairs["strength_b"] > 0)]["sites"])
        if top_a or top_b:
            overlap = len(top_a & top_b) / max(len(top_a), len(top_b))
        pairs["top_a"] = pairs["sites"].isin(top_a)
        pairs["top_b"] = pairs["sites"].isin(top_b)
    pairs = pairs.sort_values(["rank_a", "rank_b"], kind="stable").reset_index(drop=True)
    only_a = sorted(pairs[pairs["present_a"] & ~pairs["present_b"]]["sites"], key=_site_key)
    only_b = sorted(pairs[pairs["present_b"] & ~pairs["present_a"]]["sites"], key=_site_key)
    return PairComparison(a.name, b.name, shared, by_order, merged, pairs, k, overlap, only_a,
                          only_b, differing)


def _without_residues(run: Run) -> Run:
    return Run(run.path, run.name, run.transform, run.numbers, None, run.wildtype, run.summary)


def _site_key(pair: str):
    return tuple(int(v) for v in pair.split(","))


def _sites(numbers) -> str:
    return ",".join(map(str, numbers))


def energy_shares(run: Run) -> np.ndarray:
    """Share of the variance carried by each order 1..n of the run's Fourier transform."""
    energy = run.transform.energy_by_order()[1:]
    total = energy.sum()
    return energy / total if total > 0 else energy
