"""The wild-type-reference effects (mutations.csv) are bit-identical whatever the BLAS or
OpenMP thread count, like every other table plmscope writes."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import plmscope
from plmscope.fourier import SparseFourier
from plmscope.landscape.reference import reference_effects

SCRIPT = textwrap.dedent("""
    import hashlib, numpy as np
    from plmscope.fourier import SparseFourier
    from plmscope.landscape.reference import reference_effects
    rng = np.random.default_rng(0)
    f = rng.integers(0, 20, size=(6000, 6))
    f[:, :2] = rng.integers(1, 20, size=(6000, 2))  # thousands of k share sites 0 and 1
    f = np.unique(f, axis=0)
    sf = SparseFourier(f, rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f)), 20)
    print(hashlib.sha256(reference_effects(sf, 2)["effect"].to_numpy().tobytes()).hexdigest())
""")


def effects_digest(threads: int) -> str:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join([str(Path(plmscope.__file__).parents[1]),
                                           os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def test_reference_effects_do_not_depend_on_thread_count():
    digests = {t: effects_digest(t) for t in (1, 4)}
    assert len(set(digests.values())) == 1, digests


def test_reference_effects_still_exact():
    rng = np.random.default_rng(1)
    q, n = 3, 4
    f = np.unique(rng.integers(0, q, size=(30, n)), axis=0)
    sf = SparseFourier(f, rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f)), q)
    table = reference_effects(sf, 2)
    wt = np.zeros(n, np.uint8)
    for row in table.itertuples(index=False):
        if row.order != 2:
            continue
        (i, j), (a, b) = (s - 1 for s in row.sites), row.states  # sites count from 1
        xa, xb, xab = wt.copy(), wt.copy(), wt.copy()
        xa[i] = xab[i] = a
        xb[j] = xab[j] = b
        f_ = sf.evaluate(np.stack([wt, xa, xb, xab]))
        assert abs(row.effect - (f_[3] - f_[1] - f_[2] + f_[0])) < 1e-9
