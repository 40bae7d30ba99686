"""Files in the published formats, filled with planted truths, so the default suite needs
nothing outside the repository (tests/reproduction checks the published files themselves)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from plmscope.fourier import SparseFourier, random_real_transform
from reference import metrics_ref

# The published GB1 transform's sites (0-based), in its file's order.
GB1_SITES_0BASED = (11, 14, 5, 46, 39, 8, 36, 49, 20, 37)


def gb1_like_surrogate(path: Path, noise_sd: float = 2.0, test_size: int = 2000,
                       seed: int = 0) -> tuple[SparseFourier, float]:
    """A q = 20, n = 10 transform in the published surrogate format (coef_index,
    coef_value, positions_0based, no q) with a held-out set test_x/test_y = f(test_x) plus
    Gaussian noise. Returns the planted transform and the noise's realised sd."""
    rng = np.random.default_rng(seed)
    sf = random_real_transform(20, 10, {1: (8, 4.0), 2: (6, 2.0), 3: (2, 1.5)}, -3.0, rng)
    test_x = rng.integers(0, 20, size=(test_size, 10), dtype=np.uint8)
    noise = noise_sd * rng.standard_normal(test_size)
    np.savez(path, coef_index=sf.frequencies, coef_value=sf.values,
             positions_0based=np.array(GB1_SITES_0BASED), test_x=test_x,
             test_y=sf.evaluate(test_x) + noise)
    return sf, float(noise.std())


def q2_landscape_file(path: Path, rows: int = 4, n: int = 10, seed: int = 0,
                      label: str = "Empirical sites") -> np.ndarray:
    """A score file in the published q = 2 format: `scores` (rows x 2^n) of planted sparse
    landscapes, positions_1based, label, and published_sparsity / published_ruggedness
    computed here by the test reference (so the file states its own metrics)."""
    rng = np.random.default_rng(seed)
    grid = np.indices((2,) * n).reshape(n, -1).T
    scores = np.stack([
        random_real_transform(2, n, {1: (4, 1.0), 2: (4, 0.5), 3: (2, 0.3)}, 0.0, rng).evaluate(grid)
        + 0.01 * rng.standard_normal(2**n)
        for _ in range(rows)])
    refs = [metrics_ref(row, 2)[:2] for row in scores]
    np.savez(path, scores=scores, positions_1based=np.arange(23, 23 + n), label=label,
             published_sparsity=np.array([r[0] for r in refs]),
             published_ruggedness=np.array([r[1] for r in refs]))
    return scores
