"""Slow numpy references for the embedding-geometry kernels, used only by the tests."""
from __future__ import annotations

import numpy as np


def participation_ratio_ref(X: np.ndarray) -> float:
    """(sum lambda)^2 / sum lambda^2 from the eigenvalues of numpy.cov (float64)."""
    lam = np.linalg.eigvalsh(np.cov(np.asarray(X, dtype=np.float64).T))
    lam = np.abs(lam)
    return float(lam.sum() ** 2 / np.dot(lam, lam))


def isoscore_ref(X: np.ndarray) -> float:
    d = np.asarray(X).shape[1]
    return (participation_ratio_ref(X) - 1.0) / (d - 1.0)


def mean_pairwise_cosine_ref(X: np.ndarray) -> float:
    """Mean of the off-diagonal entries of the dense N x N cosine matrix."""
    X = np.asarray(X, dtype=np.float64)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    G = U @ U.T
    n = len(X)
    return float((G.sum() - np.trace(G)) / (n * (n - 1)))


def pair_similarity_ref(X: np.ndarray, pairs: np.ndarray):
    X = np.asarray(X, dtype=np.float64)
    a, b = X[pairs[:, 0]], X[pairs[:, 1]]
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return cos, ((a - b) ** 2).sum(1)


def scatter_ref(X: np.ndarray, shift: np.ndarray):
    """(sum (x - K), sum (x - K)(x - K)^T) in float64."""
    Y = np.asarray(X, dtype=np.float64) - shift
    return Y.sum(0), Y.T @ Y
