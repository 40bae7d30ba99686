"""A surrogate oracle: a known sparse transform plus Gaussian noise, for benchmarks and tests
where no model can be run. The noise is a fixed function of (seed, variant), so asking the
same variant twice, or in a resumed run, gives the same answer."""
from __future__ import annotations

import numpy as np

from .._checks import check_q
from .sparse import SparseFourier, as_variants

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def random_real_transform(q: int, n: int, terms: dict, mean: float, rng) -> SparseFourier:
    """A random real sparse function on Z_q^n, for planted truths in demos and tests.

    terms: {order: (count, scale)}: `count` distinct frequencies with `order` nonzero
    entries each, every one with its mirror -k (value conjugated, so the function is real;
    a frequency that is its own mirror gets a real value), magnitudes scale * U(1, 2) and
    uniform phases; plus the mean at k = 0. rng: a numpy Generator (the draws are made in
    a fixed order, so one seed gives one function)."""
    check_q(q)
    freqs, vals, seen = [], [], set()
    for order, (count, scale) in terms.items():
        if not 1 <= order <= n:
            raise ValueError(f"terms: order {order} needs 1 <= order <= n={n}")
        made, tries = 0, 0
        while made < count:
            tries += 1
            if tries > 1000 + 100 * count:
                raise ValueError(f"terms: cannot draw {count} distinct order-{order} "
                                 f"frequencies on Z_{q}^{n}; ask for fewer")
            k = np.zeros(n, np.int64)
            k[rng.choice(n, size=order, replace=False)] = rng.integers(1, q, size=order)
            neg = (-k) % q
            if tuple(k) in seen or tuple(neg) in seen:
                continue
            v = scale * (1 + rng.random()) * np.exp(2j * np.pi * rng.random())
            if np.array_equal(k, neg):  # entries all q/2: its own mirror, so the value is real
                freqs.append(k)
                vals.append(complex(v.real))
                seen.add(tuple(k))
            else:
                freqs += [k, neg]
                vals += [v, np.conj(v)]
                seen |= {tuple(k), tuple(neg)}
            made += 1
    freqs.append(np.zeros(n, np.int64))
    vals.append(mean)
    return SparseFourier(np.array(freqs), np.array(vals), q)


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
