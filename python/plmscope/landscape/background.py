"""Views of one sparse transform: effects relative to a weighted background.

Give each site i a distribution p_i over its q states. Under the product distribution p the
score splits uniquely into components, one per site set T (the functional ANOVA of p):

    f(x) = sum over T of g_T(x_T),   E_p[g_T(X) | X_U] = 0 for every U strictly inside T,

with g_{}() = E_p f, g_{i}(a) = E_p[f | x_i = a] - E_p f, and in general
g_T = sum over U inside T of (-1)^(|T| - |U|) E_p[f | x_U]. Two weightings are the views
plmscope already had:

* uniform p: g_T(x) = Re sum over k with supp(k) = T of F[k] omega^<k,x>, the Fourier
  (background-averaged) view;
* p concentrated on the wild type: g_T(a) is the Moebius effect beta_T(a) of
  :mod:`plmscope.landscape.reference` (zero when some a_i is the wild type).

Other weights (the model's wild-type marginals, an alignment's residue frequencies) give
effects averaged over a realistic background: the q-ary generalisation of the evolutionary
Walsh-Hadamard transform (Faure et al. 2024; the binary ``ewht`` package).

From a sparse transform the components follow exactly: with m_i(k) = sum_a p_i(a) omega^(k a)
write omega^(k_i x_i) = m_i(k_i) + (omega^(k_i x_i) - m_i(k_i)) and expand the product over
supp(k); the terms whose residual factors sit on exactly T give

    g_T(a) = Re sum over k with supp(k) containing T of
             F[k] prod_{i in supp(k) \\ T} m_i(k_i) prod_{i in T} (omega^(k_i a_i) - m_i(k_i)).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..fourier import SparseFourier
from .reference import frequencies_by_site_set
from .variants import ALPHABET

VIEWS = ("fourier", "reference", "weighted")


def check_weights(weights, q: int, n: int, name: str = "weights") -> np.ndarray:
    """(n, q) float64 rows of non-negative weights summing to 1, or ValueError."""
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n, q):
        raise ValueError(f"{name} must have shape (n={n}, q={q}): one distribution over the "
                         f"states of each site, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise ValueError(f"{name} must be finite and >= 0")
    sums = w.sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=0, atol=1e-9):
        i = int(np.argmax(np.abs(sums - 1)))
        raise ValueError(f"{name}[{i}] sums to {sums[i]:.6g}; each site's weights must sum to 1")
    return w


def uniform_weights(q: int, n: int) -> np.ndarray:
    return np.full((n, q), 1.0 / q)


def wildtype_weights(q: int, n: int) -> np.ndarray:
    w = np.zeros((n, q))
    w[:, 0] = 1.0
    return w


def _means(weights: np.ndarray, q: int) -> np.ndarray:
    """(n, q) complex: m_i(k) = sum_a p_i(a) omega^(k a)."""
    phase = np.exp(2j * np.pi * np.outer(np.arange(q), np.arange(q)) / q)  # [k, a]
    return weights @ phase.T


def background_mean(transform: SparseFourier, weights) -> float:
    """E_p f: the score averaged over the weighted background."""
    q, n = transform.q, transform.n
    m = _means(check_weights(weights, q, n), q)
    k = transform.frequencies.astype(np.int64)
    return float((transform.values * np.prod(m[np.arange(n)[None, :], k], axis=1)).sum().real)


def background_effects(transform: SparseFourier, weights, max_order: int = 2):
    """Every component g_T(a) with 1 <= |T| <= max_order that some coefficient reaches, for
    every a in Z_q^|T| (see the module docstring), as a DataFrame.

    Columns: ``order``, ``sites`` (tuple of 0-based site indices, increasing), ``states``
    (tuple of the states at those sites, 0 included), ``effect`` (float), ``weight`` (the
    background probability prod p_i(a_i) of those states). Cost: for each site set T inside
    a support, (number of k containing T) x q^|T|.
    """
    import pandas as pd

    if not isinstance(transform, SparseFourier):
        raise ValueError(f"transform must be a SparseFourier, got {type(transform).__name__}")
    if isinstance(max_order, bool) or not isinstance(max_order, (int, np.integer)) or max_order < 1:
        raise ValueError(f"max_order must be an integer >= 1, got max_order={max_order!r}")
    q, n = transform.q, transform.n
    w = check_weights(weights, q, n)
    m = _means(w, q)
    max_order = min(int(max_order), n)
    freqs = transform.frequencies.astype(np.int64)
    values = transform.values
    site_means = m[np.arange(n)[None, :], freqs]  # (K, n): m_i(k_i); 1 where k_i = 0
    by_set = frequencies_by_site_set(freqs, max_order)
    omega = np.exp(2j * np.pi / q)
    orders, sites, states, effects, probs = [], [], [], [], []
    for subset in sorted(by_set, key=lambda s: (len(s), s)):
        members = np.asarray(by_set[subset])
        size = len(subset)
        grid = np.indices((q,) * size).reshape(size, -1).T  # (G, size), flat order
        cols = list(subset)
        # the sites of each k outside T contribute their background means
        outside = site_means[members].copy()
        outside[:, cols] = 1.0
        coef = values[members] * np.prod(outside, axis=1)
        k = freqs[np.ix_(members, cols)]
        phases = np.ones((members.size, grid.shape[0]), dtype=np.complex128)
        for j, i in enumerate(cols):
            phases *= omega ** ((k[:, j, None] * grid[None, :, j]) % q) - m[i, k[:, j]][:, None]
        g = (coef @ phases).real
        orders.append(np.full(grid.shape[0], size))
        sites.extend([subset] * grid.shape[0])
        states.extend(tuple(int(v) for v in row) for row in grid)
        effects.append(g)
        probs.append(np.prod(w[np.asarray(cols)[None, :], grid], axis=1))
    if not orders:
        return pd.DataFrame({"order": np.zeros(0, np.int64), "sites": [], "states": [],
                             "effect": np.zeros(0), "weight": np.zeros(0)})
    return pd.DataFrame({"order": np.concatenate(orders).astype(np.int64), "sites": sites,
                         "states": states, "effect": np.concatenate(effects),
                         "weight": np.concatenate(probs)})


def variance_by_order(effects, max_order: int) -> np.ndarray:
    """(max_order + 1,) the background variance E_p[g_T^2] summed per order (entry 0 is 0):
    the components are orthogonal under p, so these add up to the variance of f carried by
    orders 1..max_order."""
    out = np.zeros(max_order + 1)
    if len(effects):
        np.add.at(out, effects["order"].to_numpy(np.int64),
                  effects["weight"].to_numpy() * effects["effect"].to_numpy() ** 2)
    return out


def residue_weights(frequencies, residues, pseudocount: float = 0.0) -> np.ndarray:
    """(n, q) weights over each site's states from residue frequencies.

    frequencies: n mappings residue letter -> count (or (n, 20) counts in the order of
    ``ACDEFGHIKLMNPQRSTVWY``); residues: residues[i][v] is the residue of state v (as
    :attr:`Landscape.residues`). Residues outside a site's states are dropped; `pseudocount`
    is added to every state before normalising.
    """
    n, q = len(residues), len(residues[0])
    out = np.zeros((n, q))
    for i, res in enumerate(residues):
        counts = frequencies[i]
        for v, letter in enumerate(res):
            if isinstance(counts, dict):
                out[i, v] = counts.get(letter, 0.0)
            else:
                out[i, v] = np.asarray(counts, float)[ALPHABET.index(letter)]
    out += pseudocount
    sums = out.sum(axis=1)
    if (sums <= 0).any():
        i = int(np.flatnonzero(sums <= 0)[0])
        raise ValueError(f"site {i + 1} of the view has no weight on any of its states "
                         f"({residues[i]}); add a pseudocount")
    return out / sums[:, None]


def alignment_frequencies(path, numbers, wildtype: str | None = None) -> list[dict]:
    """Residue counts at each residue number in a multiple sequence alignment (read with
    Biopython: FASTA, Clustal or Stockholm, by extension) whose first sequence is the wild
    type: its ungapped residues are numbered 1, 2, ...; gaps and letters outside the 20
    amino acids are not counted."""
    try:
        from Bio import AlignIO
    except ImportError as exc:
        raise ImportError("alignment weights need Biopython: pip install 'plmscope[models]' "
                          "(or pip install biopython)") from exc

    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"alignment {path}: no such file")
    fmt = {".sto": "stockholm", ".stockholm": "stockholm", ".aln": "clustal",
           ".clustal": "clustal"}.get(path.suffix.lower(), "fasta")
    try:
        alignment = AlignIO.read(str(path), fmt)
    except ValueError as exc:
        raise ValueError(f"alignment {path} cannot be read as {fmt} ({exc})") from exc
    rows = [str(rec.seq).upper() for rec in alignment]
    query = rows[0]
    columns, number = {}, 0
    for j, c in enumerate(query):
        if c not in "-.":
            number += 1
            columns[number] = j
    ungapped = "".join(c for c in query if c not in "-.")
    if wildtype is not None and ungapped != wildtype:
        raise ValueError(f"alignment {path}: its first sequence is not the wild type; put the "
                         "wild type first (its residues number the columns)")
    out = []
    for s in numbers:
        if s not in columns:
            raise ValueError(f"alignment {path}: residue {s} is beyond its first sequence "
                             f"({number} residues)")
        col = [r[columns[s]] for r in rows]
        counts: dict[str, float] = {}
        for c in col:
            if c in ALPHABET:
                counts[c] = counts.get(c, 0.0) + 1.0
        out.append(counts)
    return out
