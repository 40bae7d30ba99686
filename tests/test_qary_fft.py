import gc
import pickle

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from plmscope import _core
from plmscope.fourier import qary_fft
from reference import qary_fft_ref

# Largest n per q that keeps the direct comparison quick.
SIZES = [(2, n) for n in (1, 2, 5, 12, 17)] + [(3, n) for n in (1, 2, 5, 9)] + \
        [(4, n) for n in (1, 3, 8)] + [(5, n) for n in (1, 4, 6)] + [(20, n) for n in (1, 2, 3, 4)]


@pytest.mark.parametrize("q,n", SIZES)
@pytest.mark.parametrize("batch", [(), (1,), (3,), (2, 2)])
def test_matches_numpy_fftn_double(q, n, batch):
    rng = np.random.default_rng(q * 100 + n)
    if q**n * max(1, int(np.prod(batch))) > 2_000_000:
        batch = (1,)
    x = rng.standard_normal(batch + (q**n,)) + 1j * rng.standard_normal(batch + (q**n,))
    out = qary_fft(x, q)
    assert out.dtype == np.complex128 and out.shape == x.shape
    np.testing.assert_allclose(out, qary_fft_ref(x, q), rtol=0, atol=1e-12)
    np.testing.assert_allclose(qary_fft(x, q, inverse=True), qary_fft_ref(x, q, inverse=True),
                               rtol=0, atol=1e-9 * q**n)


@pytest.mark.parametrize("q,n", [(2, 10), (3, 6), (20, 3), (6, 3), (8, 4), (4, 7)])
def test_single_precision_stays_single(q, n):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, q**n)).astype(np.float32)
    out = qary_fft(x, q)
    assert out.dtype == np.complex64
    np.testing.assert_allclose(out, qary_fft_ref(x.astype(np.float64), q), atol=2e-6)
    np.testing.assert_allclose(qary_fft(out, q, inverse=True).real, x, atol=1e-4)


@pytest.mark.parametrize("q", [2, 3, 4, 5, 7, 20])
def test_empty_batch(q):
    out = qary_fft(np.zeros((0, q**2)), q)
    assert out.shape == (0, q**2) and out.dtype == np.complex128


def test_roundtrip_and_parseval_q20():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 20**4))
    F = qary_fft(x, 20)
    np.testing.assert_allclose(qary_fft(F, 20, inverse=True).real, x, atol=1e-10)
    # Parseval with this normalisation: mean |f|^2 = sum |F|^2.
    np.testing.assert_allclose(np.sum(np.abs(F) ** 2, axis=-1), np.mean(x**2, axis=-1), rtol=1e-10)
    np.testing.assert_allclose(F[:, 0], x.mean(axis=-1), atol=1e-14)


def test_real_walsh_hadamard_path():
    rng = np.random.default_rng(3)
    for n in (1, 4, 16, 20):
        x = rng.standard_normal((2, 2**n))
        w = qary_fft(x, 2, real=True)
        assert w.dtype == np.float64
        np.testing.assert_allclose(w, qary_fft_ref(x, 2).real, atol=1e-12)
        np.testing.assert_allclose(qary_fft(w, 2, inverse=True, real=True), x, atol=1e-10)
    assert qary_fft(x.astype(np.float32), 2, real=True).dtype == np.float32


def test_threads_do_not_change_result():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 20**4)) + 0j
    np.testing.assert_array_equal(qary_fft(x, 20, nthreads=1), qary_fft(x, 20, nthreads=2))


def test_input_is_not_modified():
    x = np.arange(16, dtype=np.complex128)
    before = x.copy()
    qary_fft(x, 2)
    np.testing.assert_array_equal(x, before)


@settings(max_examples=60, deadline=None)
@given(q=st.integers(2, 12), n=st.integers(0, 4), batch=st.integers(0, 3),
       seed=st.integers(0, 2**31), scale=st.floats(1e-3, 1e3))
def test_hypothesis_shapes_and_values(q, n, batch, seed, scale):
    if q**n > 30_000:
        n = 1
    rng = np.random.default_rng(seed)
    x = scale * (rng.standard_normal((batch, q**n)) + 1j * rng.standard_normal((batch, q**n)))
    np.testing.assert_allclose(qary_fft(x, q), qary_fft_ref(x, q), atol=1e-12 * scale * q)
    np.testing.assert_allclose(qary_fft(qary_fft(x, q), q, inverse=True), x,
                               atol=1e-10 * scale * q)


@pytest.mark.parametrize("args,kwargs,message", [
    ((np.zeros(12), 5), {}, r"x.shape\[-1\] = 12 is not a power of q=5"),
    ((np.zeros(0), 2), {}, r"x.shape\[-1\] = 0 is not a power of q=2"),
    ((np.zeros(4), 1), {}, r"q must be an integer >= 2.*q=1"),
    ((np.zeros(4), 2.5), {}, r"q must be an integer >= 2.*q=2.5"),
    ((np.float64(1.0), 2), {}, "scalar"),
    ((np.zeros(9), 3), {"real": True}, "needs q=2, got q=3"),
    ((np.zeros(4, complex), 2), {"real": True}, "needs real input"),
    ((np.zeros(4), 2), {"nthreads": -1}, "nthreads must be an integer >= 0"),
    ((np.array(["a", "b"]), 2), {}, "must hold numbers"),
])
def test_errors(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        qary_fft(*args, **kwargs)


def test_memory_error_says_how_much(monkeypatch):
    import plmscope._memory as mem
    monkeypatch.setattr(mem, "available_bytes", lambda: 1000)
    with pytest.raises(ValueError, match=r"qary_fft of shape \(1, 400\) would need .* GiB"):
        qary_fft(np.zeros((1, 400)), 20)


@pytest.mark.parametrize("q,n,batch,dtype,real", [
    (20, 4, 3, np.complex128, False),   # q-SFT's rows, past one cache block: panels
    (4, 8, 2, np.complex64, False),
    (3, 1, 5, np.complex128, False),    # n = 1
    (7, 0, 4, np.complex128, False),    # n = 0: length-1 rows
    (2, 20, 1, np.float64, True),       # Walsh-Hadamard with panels, 8 MB rows: fused copy
    (4, 11, 1, np.complex64, False),    # 32 MB rows: fused copy
    (2, 12, 3, np.float32, True),
    (2, 1, 2, np.float64, True),
])
@pytest.mark.parametrize("inverse", [False, True])
def test_out_of_place_equals_copy_then_in_place(q, n, batch, dtype, real, inverse):
    """qary_fft fuses its input copy into the first pass: bit for bit the in-place result."""
    rng = np.random.default_rng(q * 100 + n)
    x = rng.standard_normal((batch, q**n))
    if not real:
        x = x + 1j * rng.standard_normal((batch, q**n))
    x = x.astype(dtype)
    got = qary_fft(x, q, inverse=inverse, real=real)
    want = x.copy()
    if real:
        _core.walsh_hadamard_inplace(want, inverse, 0)
    else:
        _core.qary_fft_inplace(want, q, inverse, 0)
    assert got.dtype == dtype and got.shape == x.shape
    np.testing.assert_array_equal(got, want)
    for nthreads in (1, 2):  # the fused kernel itself, whatever size qary_fft hands it
        fused = (_core.walsh_hadamard_copy(x, inverse, nthreads) if real
                 else _core.qary_fft_copy(x, q, inverse, nthreads))
        np.testing.assert_array_equal(fused, want)
    np.testing.assert_array_equal(qary_fft(x, q, inverse=inverse, real=real, nthreads=1), want)


@pytest.mark.parametrize("q,n,batch,real,kind", [
    (20, 2, 3, False, "complex"), (20, 2, 3, False, "real"), (3, 1, 1, False, "int"),
    (2, 5, 1, True, "real"), (20, 4, 5, False, "complex"), (2, 20, 1, True, "real"),
    (20, 4, 5, False, "real")])
def test_outputs_are_aligned_and_independent(q, n, batch, real, kind):
    # the core's outputs from 4 MB on start on a 2 MB boundary (huge pages), others (and
    # every converted input) on 64 bytes
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, q**n))
    if kind == "complex":
        x = x + 1j * rng.standard_normal(x.shape)
    elif kind == "int":
        x = np.round(10 * x).astype(np.int32)
    out = qary_fft(x, q, real=real)
    native = kind == "complex" or real
    assert out.ctypes.data % (2 << 20 if native and out.nbytes >= 4 << 20 else 64) == 0
    assert out.flags.writeable and out.flags.c_contiguous and out.shape == x.shape
    expected = qary_fft_ref(x, q)
    del x  # the output outlives its input
    gc.collect()
    np.testing.assert_allclose(out, expected.real if real else expected, atol=1e-12)
    again = pickle.loads(pickle.dumps(out))
    np.testing.assert_array_equal(again, out)
    out[...] = 0  # its own memory: writing it changes no other array
    np.testing.assert_allclose(again, expected.real if real else expected, atol=1e-12)
