"""The landscape metrics of the interaction paper (arXiv 2405.06645), from a full transform.

For scores f on all q^n variants (flat order of docs/conventions.md) and their q-ary Fourier transform F:

* threshold t = std(|F[k]|, k != 0) / 5 (population standard deviation over every nonzero k);
* sparsity = #{k : 1 <= order(k) <= 5, |F[k]| > t} / #{k : 1 <= order(k) <= 5}
  (the share of low-order coefficients that stand out: larger means a denser spectrum);
* ruggedness = sum_j j v_j / sum_j v_j over j = 1..5, v_j = sum over order-j k of |F[k]|^2
  (the energy-weighted mean interaction order);
* variance by order: v_j for every order j = 0..n (by Parseval they add up to the variance of
  the scores; v_0 = 0 because the mean carries no variance).

The paper uses q = 2, where F is real and |F[k]|^2 = F[k]^2; the same definitions hold for
any q. With n < 5 the orders stop at n.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..fourier import qary_fft
from .._checks import check_q, qary_log

MAX_ORDER = 5        # the paper counts orders 1..5
THRESHOLD_DIVISOR = 5.0


@dataclass(frozen=True)
class SpectrumMetrics:
    """Sparsity, ruggedness and variance by order of one full landscape."""

    q: int
    n: int
    sparsity: float              # share of order-1..5 coefficients above the threshold
    ruggedness: float            # energy-weighted mean order over orders 1..5 (nan: no energy)
    variance_by_order: np.ndarray  # (n + 1,) sum of |F[k]|^2 per order; entry 0 is 0
    threshold: float             # std(|F[k]|, k != 0) / 5
    num_above: int               # order-1..5 coefficients with |F[k]| > threshold
    num_candidates: int          # order-1..5 coefficients in all

    @property
    def variance(self) -> float:
        """Population variance of the scores (the sum of variance_by_order)."""
        return float(self.variance_by_order.sum())

    def as_dict(self) -> dict:
        """JSON-ready: floats and lists only."""
        return {"q": self.q, "n": self.n, "sparsity": self.sparsity,
                "ruggedness": self.ruggedness,
                "variance_by_order": [float(v) for v in self.variance_by_order],
                "threshold": self.threshold, "num_above": self.num_above,
                "num_candidates": self.num_candidates}


def frequency_orders(q: int, n: int) -> np.ndarray:
    """Order (number of nonzero digits) of every flat index 0..q^n - 1 (int64)."""
    idx = np.arange(q**n, dtype=np.int64)
    orders = np.zeros(q**n, dtype=np.int64)
    for _ in range(n):
        orders += (idx % q) != 0
        idx //= q
    return orders


def spectrum_metrics(values, q: int) -> SpectrumMetrics:
    """Sparsity, ruggedness and variance by order of the scores of all q^n variants.

    Parameters
    ----------
    values : array_like, shape (q**n,)
        Real scores of every variant in the flat order of docs/conventions.md (index = sum x_i q^(n-1-i)).
    q : int
        States per site (2 in the paper; any q >= 2).

    A constant landscape has sparsity 0 and ruggedness nan (it has no interactions at all).
    """
    q = check_q(q)
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"values must be one landscape, a 1-D array of q**n scores, got shape "
                         f"{arr.shape}; call spectrum_metrics once per row")
    if np.iscomplexobj(arr) or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"values must be real scores, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    n = qary_log(arr.shape[0], q)
    if n < 1:
        raise ValueError(f"values has {arr.shape[0]} entry: a landscape needs q**n scores with "
                         f"n >= 1 sites (q={q})")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"values[{i}] = {arr[i]}: scores must be finite")
    orders = frequency_orders(q, n)
    low = (orders >= 1) & (orders <= MAX_ORDER)
    num_candidates = int(low.sum())
    top = min(MAX_ORDER, n)
    if np.ptp(arr) == 0:  # exact: a constant has no nonzero coefficient, only rounding noise
        return SpectrumMetrics(q, n, 0.0, float("nan"), np.zeros(n + 1), 0.0, 0, num_candidates)
    # Scale-invariant: the metrics are computed on the scores divided by a power of two near
    # their largest magnitude (exact, so ordinary scores give bit-identical results), where
    # neither |F|^2 overflows (scores ~1e200) nor the spread underflows (~1e-300).
    scale = float(np.ldexp(1.0, int(np.frexp(np.max(np.abs(arr)))[1])))
    F = qary_fft(arr / scale, q)
    mag = np.abs(F)
    threshold = float(mag[1:].std()) / THRESHOLD_DIVISOR
    num_above = int(np.count_nonzero(mag[low] > threshold))
    variance = np.bincount(orders, weights=mag**2, minlength=n + 1)
    variance[0] = 0.0
    v = variance[1:top + 1]
    total = float(v.sum())
    ruggedness = float(np.sum(np.arange(1, top + 1) * v) / total) if total > 0 else float("nan")
    with np.errstate(over="ignore"):  # variances of scores ~1e200 do not fit a float64
        variance = variance * scale * scale
    return SpectrumMetrics(q, n, num_above / num_candidates, ruggedness, variance,
                           threshold * scale, num_above, num_candidates)
