"""The wild-type-reference view of a Fourier transform: effects of concrete mutations.

A Fourier coefficient F[k] is a pattern over all states of its sites; a biologist asks
instead "what does mutation A do, and what extra does A+B do together?". That is the
reference-based (Moebius) expansion around the wild type x = 0:

    f(x) = sum over site sets S inside supp(x) of beta_S(x_S),

where beta_{}() = f(0) is the wild-type score, beta_{i}(a) = f(a e_i) - f(0) is the effect of
the single mutation a at site i, and beta_{ij}(a, b) = f(a e_i + b e_j) - f(a e_i) - f(b e_j)
+ f(0) is the epistasis of a double mutant, and so on (inclusion-exclusion over subsets).

From a sparse transform it follows exactly (write omega^(k_i x_i) = 1 + (omega^(k_i x_i) - 1)
and expand the product over supp(k)):

    beta_S(a) = Re sum over k with supp(k) containing S of F[k] prod_{i in S} (omega^(k_i a_i) - 1)

for a with every a_i != 0. Only site sets inside the support of some k have nonzero effects.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from .._checks import check_int
from ..fourier import SparseFourier


def reference_effects(transform: SparseFourier, max_order: int = 2):
    """Every nonzero-able effect beta_S(a) with 1 <= |S| <= max_order, as a DataFrame.

    Columns: ``order``, ``sites`` (tuple of 1-based site numbers 1..n, increasing: the
    convention of the command line and the reports; site i is column i - 1 of a variant),
    ``states``
    (tuple of the mutant states a_i >= 1 at those sites), ``effect`` (float). Rows come site
    set by site set; within a set, states in flat order. Cost: for each site set S inside a
    support, (number of k containing S) x (q - 1)^|S|.
    """
    import pandas as pd

    if not isinstance(transform, SparseFourier):
        raise ValueError(f"transform must be a SparseFourier, got {type(transform).__name__}")
    max_order = check_int("max_order", max_order, 1)
    q, n = transform.q, transform.n
    max_order = min(int(max_order), n)
    freqs = transform.frequencies.astype(np.int64)
    values = transform.values
    by_set = frequencies_by_site_set(freqs, max_order)
    orders, sites, states, effects = [], [], [], []
    omega = np.exp(2j * np.pi / q)
    for subset in sorted(by_set, key=lambda s: (len(s), s)):
        members = np.asarray(by_set[subset])
        size = len(subset)
        grid = np.indices((q - 1,) * size).reshape(size, -1).T + 1  # (G, size) states >= 1
        k = freqs[np.ix_(members, list(subset))]                      # (K_S, size)
        phases = np.ones((members.size, grid.shape[0]), dtype=np.complex128)
        for j in range(size):
            phases *= omega ** ((k[:, j, None] * grid[None, :, j]) % q) - 1.0
        # a plain numpy sum, not a BLAS product: BLAS splits the sum by its thread count,
        # and the effects (mutations.csv) must not change in the last bit with OMP_NUM_THREADS
        beta = np.sum(values[members][:, None] * phases, axis=0).real
        orders.append(np.full(grid.shape[0], size))
        sites.extend([tuple(i + 1 for i in subset)] * grid.shape[0])
        states.extend(tuple(int(v) for v in row) for row in grid)
        effects.append(beta)
    if not orders:
        return pd.DataFrame({"order": np.zeros(0, np.int64), "sites": [], "states": [],
                             "effect": np.zeros(0)})
    return pd.DataFrame({"order": np.concatenate(orders).astype(np.int64), "sites": sites,
                         "states": states, "effect": np.concatenate(effects)})


def wildtype_value(transform: SparseFourier) -> float:
    """f(0), the score of the wild type: Re sum_k F[k]."""
    return float(np.sum(transform.values).real)


def frequencies_by_site_set(freqs: np.ndarray, max_order: int) -> dict:
    """{site set S (sorted tuple, 1 <= |S| <= max_order): rows of `freqs` whose support
    contains S}: the coefficients that contribute to each effect of order |S|."""
    by_set: dict[tuple[int, ...], list[int]] = {}
    for idx, row in enumerate(freqs):
        support = tuple(int(i) for i in np.flatnonzero(row))
        for size in range(1, min(max_order, len(support)) + 1):
            for subset in combinations(support, size):
                by_set.setdefault(subset, []).append(idx)
    return by_set
