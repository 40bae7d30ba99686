"""The weighted background view of a sparse transform, checked against the functional ANOVA
of the dense landscape (conditional expectations under the product weights), and its two
special cases: uniform weights = the Fourier view, wild-type weights = the reference view."""
from itertools import combinations

import numpy as np
import pytest

from plmscope.fourier import random_real_transform
from plmscope.landscape import reference_effects
from plmscope.landscape.background import (alignment_frequencies, background_effects,
                                           background_mean, check_weights, residue_weights,
                                           uniform_weights, variance_by_order,
                                           wildtype_weights)


def dense_values(sf):
    """f on every variant (flat order), by evaluating the transform."""
    grid = np.indices((sf.q,) * sf.n).reshape(sf.n, -1).T
    return sf.evaluate(grid).reshape((sf.q,) * sf.n)


def conditional_mean(f, w, keep):
    """E_p[f | x_keep] as an array over the kept axes (increasing order)."""
    out = f
    for axis in sorted(set(range(f.ndim)) - set(keep), reverse=True):
        out = np.tensordot(out, w[axis], axes=([axis], [0]))
    return out


def dense_anova(f, w, T):
    """g_T by inclusion-exclusion over the subsets of T, as an array over T's axes."""
    g = np.zeros((f.shape[0],) * len(T))
    for size in range(len(T) + 1):
        for U in combinations(T, size):
            cm = conditional_mean(f, w, U)
            shape = [f.shape[0] if i in U else 1 for i in T]
            g = g + (-1) ** (len(T) - size) * cm.reshape(shape)
    return g


def as_dict(frame):
    return {(s, a): e for s, a, e in zip(frame["sites"], frame["states"], frame["effect"])}


def random_sparse(q, n, seed):
    rng = np.random.default_rng(seed)
    terms = {1: (3, 1.0), 2: (3, 0.7), 3: (2, 0.5)}
    return random_real_transform(q, n, {k: v for k, v in terms.items() if k <= n}, 0.3, rng)


def random_weights(q, n, seed):
    w = np.random.default_rng(seed).random((n, q)) + 0.05
    return w / w.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("q,n", [(2, 4), (3, 4), (4, 3), (5, 3)])
@pytest.mark.parametrize("kind", ["random", "uniform", "wildtype"])
def test_components_equal_the_dense_anova(q, n, kind):
    sf = random_sparse(q, n, seed=q * 10 + n)
    w = {"random": random_weights(q, n, 1), "uniform": uniform_weights(q, n),
         "wildtype": wildtype_weights(q, n)}[kind]
    f = dense_values(sf)
    got = as_dict(background_effects(sf, w, max_order=n))
    assert background_mean(sf, w) == pytest.approx(conditional_mean(f, w, ()), abs=1e-12)
    for size in range(1, n + 1):
        for T in combinations(range(n), size):
            want = dense_anova(f, w, T)
            for a in np.ndindex(*want.shape):
                # a component no coefficient reaches is absent from the table: exactly 0
                assert got.get((T, a), 0.0) == pytest.approx(want[a], abs=1e-10), (T, a)
    # the components add back up to f everywhere
    grid = np.indices((q,) * n).reshape(n, -1).T
    total = np.full(grid.shape[0], background_mean(sf, w))
    for (T, a), e in got.items():
        total[(grid[:, list(T)] == a).all(axis=1)] += e
    np.testing.assert_allclose(total, f.reshape(-1), atol=1e-10)


@pytest.mark.parametrize("q,n", [(3, 4), (4, 3), (20, 2)])
def test_uniform_weights_are_the_fourier_view(q, n):
    sf = random_sparse(q, n, seed=5)
    dense = np.fft.fftn(dense_values(sf)) / q**n  # the DESIGN.md transform of the landscape
    got = background_effects(sf, uniform_weights(q, n), max_order=n)
    omega = np.exp(2j * np.pi / q)
    for T, a, e in zip(got["sites"], got["states"], got["effect"]):
        want = 0j
        for k in np.ndindex(*(q,) * n):
            if tuple(np.flatnonzero(k)) == T:
                want += dense[k] * omega ** (np.dot(k, np.array(
                    [a[T.index(i)] if i in T else 0 for i in range(n)])) % q)
        assert e == pytest.approx(want.real, abs=1e-10)
    # variance by order under uniform weights is the Fourier energy by order
    np.testing.assert_allclose(variance_by_order(got, n)[1:], sf.energy_by_order()[1:],
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("q,n", [(2, 5), (3, 4), (20, 3)])
def test_wildtype_weights_are_the_reference_view(q, n):
    sf = random_sparse(q, n, seed=7)
    got = as_dict(background_effects(sf, wildtype_weights(q, n), max_order=3))
    ref = reference_effects(sf, max_order=3)
    for T, a, e in zip(ref["sites"], ref["states"], ref["effect"]):
        T = tuple(t - 1 for t in T)  # reference_effects numbers sites from 1
        assert got[(T, a)] == pytest.approx(e, abs=1e-10)
    for (T, a), e in got.items():
        if 0 in a:  # the wild type at one of T's sites: no effect relative to it
            assert abs(e) < 1e-10
    assert len(got) == len(ref) + sum(1 for (_, a) in got if 0 in a)


def test_weights_are_checked_and_built(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(n=2, q=3\)"):
        check_weights(np.ones((3, 3)) / 3, 3, 2)
    with pytest.raises(ValueError, match=r"weights\[1\] sums to 2"):
        check_weights([[1, 0, 0], [1, 1, 0]], 3, 2)
    w = residue_weights([{"A": 3, "G": 1}, {"K": 2}], ["AGW", "KLM"], pseudocount=1.0)
    np.testing.assert_allclose(w, [[4 / 7, 2 / 7, 1 / 7], [3 / 5, 1 / 5, 1 / 5]])
    aln = tmp_path / "msa.fasta"
    aln.write_text(">wt\nMK-YA\n>h1\nMRGYC\n>h2\nLK-F-\n>h3\nMKAYA\n")
    counts = alignment_frequencies(aln, [2, 3, 4], wildtype="MKYA")
    assert counts == [{"K": 3, "R": 1}, {"Y": 3, "F": 1}, {"A": 2, "C": 1}]
    with pytest.raises(ValueError, match="first sequence is not the wild type"):
        alignment_frequencies(aln, [2], wildtype="MKYW")
