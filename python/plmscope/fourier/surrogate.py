"""A surrogate oracle: a known sparse transform plus Gaussian noise, for benchmarks and tests
where no model can be run. The noise is a fixed function of (seed, variant), so asking the
same variant twice, or in a resumed run, gives the same answer."""
from __future__ import annotations

import numpy as np

from .fft import check_q
from .sparse import SparseFourier, as_variants

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return x ^ (x >> np.uint64(31))


def hashed_normal(x: np.ndarray, q: int, seed: int) -> np.ndarray:
    """Standard normal numbers, one per row of x, determined by (seed, row)."""
    key = (int(seed) * 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
    h = np.full(x.shape[0], key, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(x.shape[1]):
            h = _splitmix64(h ^ (x[:, i].astype(np.uint64) + np.uint64(i * 257 + q)))
    a = _splitmix64(h)
    b = _splitmix64(a)
    u1 = ((a >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
    u2 = (b >> np.uint64(11)).astype(np.float64) / 2.0**53
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


class SurrogateOracle:
    """f(x) = Re sum_k F[k] omega^<k,x> + noise_sd * z(x), z a seeded per-variant normal."""

    def __init__(self, transform: SparseFourier, noise_sd: float = 0.0, seed: int = 0):
        if not noise_sd >= 0:
            raise ValueError(f"noise_sd must be >= 0, got {noise_sd!r}")
        self.transform = transform
        self.noise_sd = float(noise_sd)
        self.seed = int(seed)
        self.q = check_q(transform.q)
        self.n = transform.n
        self.calls = 0
        self.queries = 0

    def __call__(self, x) -> np.ndarray:
        xv = as_variants(x, self.q, self.n)
        self.calls += 1
        self.queries += xv.shape[0]
        y = self.transform.evaluate(xv)
        if self.noise_sd:
            y += self.noise_sd * hashed_normal(xv, self.q, self.seed)
        return y
