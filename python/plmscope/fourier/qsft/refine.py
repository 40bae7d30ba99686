"""Least-squares refit of recovered coefficients on the queries already made.

For each group c and delay p, the map from the q^b samples f(M_c l + d_p) to the bins is
unitary up to the factor q^b, so least squares over all samples equals least squares over
the bins, and only the bins that hold a recovered frequency depend on the fit. The problem
is therefore tiny and sparse: K unknowns, one row per (touched bin, delay). The support is
closed under k -> -k, so the complex solution is conjugate-symmetric and f stays real.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def bin_energy(bins: np.ndarray) -> np.ndarray:
    """(C, q^b) sum over delays of |U|^2, on a real view (no complex temporaries)."""
    v = bins.view(np.float64).reshape(bins.shape[0], bins.shape[1], -1)
    return np.einsum("cbp,cbp->cb", v, v)


def conjugate_closure(freqs: np.ndarray, values: np.ndarray, q: int):
    """(freqs, values, mirrored): the support closed under k -> -k.

    Every missing mirror -k is appended with value 0, and ``mirrored`` holds the index of
    the k each appended row mirrors. The value is 0, not conj F[k], because -k was never
    peeled: its energy is still in the residual bins, and the refit that follows estimates
    it from there (starting it at conj F[k] would count it twice)."""
    codes = {row.tobytes() for row in freqs}
    extra_f, mirrored = [], []
    for i, row in enumerate(freqs):
        neg = ((q - row.astype(np.int64)) % q).astype(np.uint8)
        if neg.tobytes() not in codes:
            codes.add(neg.tobytes())
            extra_f.append(neg)
            mirrored.append(i)
    if extra_f:
        freqs = np.vstack([freqs, np.array(extra_f, dtype=np.uint8)])
        values = np.concatenate([values, np.zeros(len(extra_f), dtype=np.complex128)])
    return freqs, values, mirrored


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
