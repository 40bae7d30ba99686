"""Least-squares refit of recovered coefficients on the queries already made.

For each group c and delay p, the map from the q^b samples f(M_c l + d_p) to the bins is
unitary up to the factor q^b, so least squares over all samples equals least squares over
the bins, and only the bins that hold a recovered frequency depend on the fit. The problem
is therefore tiny and sparse: K unknowns, one row per (touched bin, delay). The support is
closed under k -> -k, so the complex solution is conjugate-symmetric and f stays real.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def bin_energy(bins: np.ndarray) -> np.ndarray:
    """(C, q^b) sum over delays of |U|^2, on a real view (no complex temporaries)."""
    v = bins.view(np.float64).reshape(bins.shape[0], bins.shape[1], -1)
    return np.einsum("cbp,cbp->cb", v, v)


def conjugate_closure(freqs: np.ndarray, values: np.ndarray, q: int):
    """Add -k (value conj F[k]) for every k whose mirror is missing; keep k = 0."""
    codes = {row.tobytes(): i for i, row in enumerate(freqs)}
    extra_f, extra_v = [], []
    for row, v in zip(freqs, values):
        neg = ((q - row.astype(np.int64)) % q).astype(np.uint8)
        if neg.tobytes() not in codes:
            codes[neg.tobytes()] = -1
            extra_f.append(neg)
            extra_v.append(np.conj(v))
    if extra_f:
        freqs = np.vstack([freqs, np.array(extra_f, dtype=np.uint8)])
        values = np.concatenate([values, np.array(extra_v, dtype=np.complex128)])
    return freqs, values


def symmetrize(freqs: np.ndarray, values: np.ndarray, q: int) -> np.ndarray:
    """Values with F[-k] = conj F[k] exactly (average of each mirror pair)."""
    index = {row.tobytes(): i for i, row in enumerate(freqs)}
    out = values.copy()
    for i, row in enumerate(freqs):
        j = index[((q - row.astype(np.int64)) % q).astype(np.uint8).tobytes()]
        out[i] = 0.5 * (values[i] + np.conj(values[j]))
    return out


def bin_ids(freqs: np.ndarray, matrices: np.ndarray, q: int) -> np.ndarray:
    """(K, C) flat bin id c * q^b + j of each frequency in each group."""
    C, n, b = matrices.shape
    weights = q ** np.arange(b - 1, -1, -1, dtype=np.int64)
    j = (np.einsum("kn,cnb->kcb", freqs.astype(np.int64), matrices.astype(np.int64)) % q) @ weights
    return j + np.arange(C, dtype=np.int64)[None, :] * q**b


def delay_phases(freqs: np.ndarray, delays: np.ndarray, q: int) -> np.ndarray:
    """(K, P) complex omega^<k, d_p>."""
    dots = (freqs.astype(np.int64) @ delays.T.astype(np.int64)) % q
    return np.exp(2j * np.pi * dots / q)


def refit(residual_bins: np.ndarray, freqs: np.ndarray, matrices: np.ndarray,
          delays: np.ndarray, q: int, ridge: float = 0.0) -> np.ndarray:
    """Correction delta minimising || r - A delta ||^2 + ridge ||delta||^2 over the bins.

    `residual_bins` (C, q^b, P) are the bins with the current estimate already removed;
    on return they hold the residual after the correction.
    """
    K = freqs.shape[0]
    if K == 0:
        return np.zeros(0, dtype=np.complex128)
    C, B, P = residual_bins.shape
    ids = bin_ids(freqs, matrices, q)                    # (K, C)
    touched, row_of = np.unique(ids.ravel(), return_inverse=True)
    row_of = row_of.reshape(K, C)
    phases = delay_phases(freqs, delays, q)               # (K, P)
    rows = (row_of[:, :, None] * P + np.arange(P)[None, None, :]).ravel()
    cols = np.repeat(np.arange(K), C * P)
    data = np.broadcast_to(phases[:, None, :], (K, C, P)).ravel()
    A = sp.csr_matrix((data, (rows, cols)), shape=(touched.size * P, K))
    flat = residual_bins.reshape(C * B, P)
    r = flat[touched].ravel()
    AH = A.conj().T.tocsr()
    G = (AH @ A).tocsc()
    # A tiny ridge keeps frequencies that share every bin from making G singular.
    lam = max(ridge, 1e-12 * float(np.real(G.diagonal()).max()))
    G = G + lam * sp.identity(K, format="csc")
    delta = spla.spsolve(G, AH @ r)
    delta = np.atleast_1d(delta).astype(np.complex128)
    flat[touched] = (r - A @ delta).reshape(touched.size, P)
    return delta


def add_back(bins: np.ndarray, freqs: np.ndarray, values: np.ndarray, matrices: np.ndarray,
             delays: np.ndarray, q: int) -> None:
    """bins += the contribution of (freqs, values): undoes peeling them."""
    C, B, P = bins.shape
    flat = bins.reshape(C * B, P)
    contrib = values[:, None] * delay_phases(freqs, delays, q)     # (K, P)
    for c, ids in enumerate(bin_ids(freqs, matrices, q).T):
        np.add.at(flat, ids, contrib)


def frequencies_of_order(n: int, q: int, order: int) -> np.ndarray:
    """Every frequency with exactly `order` nonzero sites, (K, n) uint8."""
    values = np.array(list(itertools.product(range(1, q), repeat=order)), dtype=np.uint8)
    blocks = []
    for sites in itertools.combinations(range(n), order):
        block = np.zeros((values.shape[0], n), dtype=np.uint8)
        block[:, sites] = values
        blocks.append(block)
    return np.vstack(blocks) if blocks else np.zeros((0, n), np.uint8)


def complete_low_orders(bins, freqs, values, matrices, delays, q, zeroton, nu2,
                        max_candidates: int = 200_000):
    """Resolve bins that peeling left as multitons, assuming they hold low-order terms.

    Some multitons cannot be peeled: for composite q, frequencies whose entries share a
    factor with q (q = 20: k = 10 e_i) hash into a small subgroup of bins and may collide in
    every group. Order by order (1, then 2 where there are at most `max_candidates`), every
    frequency of that order that hashes into a bin still above the zero-ton energy is added
    to the support, all are refit jointly by least squares, and the new ones whose value is
    not clearly above the estimation noise (nu^2 / (C P) per coefficient) are dropped again.
    """
    C, n, _ = matrices.shape
    P = bins.shape[2]
    for order in (1, 2):
        left = np.flatnonzero(bin_energy(bins).ravel() > zeroton)
        if left.size == 0 or order > n or math.comb(n, order) * (q - 1) ** order > max_candidates:
            break
        cands = frequencies_of_order(n, q, order)
        cands = cands[np.isin(bin_ids(cands, matrices, q), left).any(axis=1)]
        known = {row.tobytes() for row in freqs}
        cands = np.array([row for row in cands if row.tobytes() not in known],
                         dtype=np.uint8).reshape(-1, n)
        if cands.shape[0] == 0:
            continue
        ext = np.vstack([freqs, cands])
        vals = np.concatenate([values, np.zeros(len(cands), np.complex128)])
        vals = vals + refit(bins, ext, matrices, delays, q)
        new = vals[len(freqs):]
        # |error|^2 of one estimate is nu^2/(C P) times Exp(1): keep what no candidate's
        # noise would reach (a 1e-3 chance over all candidates).
        keep = np.abs(new) ** 2 > nu2 / (C * P) * math.log(len(new) / 1e-3)
        add_back(bins, cands[~keep], new[~keep], matrices, delays, q)
        freqs = np.vstack([freqs, cands[keep]])
        values = np.concatenate([vals[:len(values)], new[keep]])
        if not keep.all():
            values = values + refit(bins, freqs, matrices, delays, q)
    return freqs, values
