"""Device routing without a GPU: argument parsing, array description, and the errors a
CPU-only build (or a machine without a device) gives for CUDA arrays.

The stand-in CuPy array below implements only what plmscope reads from a real one (the CUDA
Array Interface v3 and ``.device.id``); it is never dereferenced: every path that would touch
its memory must stop at the checks tested here. The kernels themselves are tested on a GPU
by tests/test_gpu.py and on the host by tests/cpp/test_cuda_emulation.cpp."""
import numpy as np
import pytest

import plmscope
from plmscope import _core, _device
from plmscope.isotropy import gpu as isotropy_gpu
from plmscope.fourier import SparseFourier, qary_fft


class _Device:
    def __init__(self, index):
        self.id = index


class FakeCupyArray:
    """Shaped like cupy.ndarray for plmscope's purposes (module 'cupy', CAI v3)."""

    __module__ = "cupy"

    def __init__(self, shape, typestr="<c8", ptr=0x7F0000001000, strides=None, stream=1,
                 device=0):
        self.shape = shape
        self._cai = {"shape": shape, "typestr": typestr, "data": (ptr, False),
                     "strides": strides, "version": 3, "stream": stream}
        self.device = _Device(device)

    @property
    def __cuda_array_interface__(self):
        return self._cai


class ForeignDeviceArray:
    """A CUDA array of some other library (Numba, JAX, ...)."""

    __cuda_array_interface__ = {"shape": (4,), "typestr": "<f4", "data": (1, False),
                                "version": 2}


GPU_READY = _core.has_cuda() and _core.cuda_device_count() > 0
no_gpu_here = pytest.mark.skipif(GPU_READY, reason="a CUDA device is present: tests/test_gpu.py "
                                 "runs the real kernels instead of these refusals")


@pytest.mark.parametrize("arg,expected", [
    (None, "auto"), ("auto", "auto"), ("cpu", "cpu"), ("CPU", "cpu"),
    ("cuda", _device.Cuda()), ("gpu", _device.Cuda()), ("cuda:1", _device.Cuda(1)),
    (0, _device.Cuda(0)), (3, _device.Cuda(3)),
])
def test_parse_device(arg, expected, monkeypatch):
    monkeypatch.delenv(_device.ENV_DEVICE, raising=False)
    assert _device.parse_device(arg) == expected


@pytest.mark.parametrize("arg", ["tpu", "cuda:", "cuda:x", -1, True, 1.5, "cuda:-1"])
def test_parse_device_rejects(arg, monkeypatch):
    monkeypatch.delenv(_device.ENV_DEVICE, raising=False)
    with pytest.raises(ValueError, match=r"device=.* is not a device: use 'auto', 'cpu'"):
        _device.parse_device(arg)


def test_environment_variable_overrides_the_automatic_choice(monkeypatch):
    monkeypatch.setenv(_device.ENV_DEVICE, "cuda:2")
    assert _device.parse_device(None) == _device.Cuda(2)
    assert _device.parse_device("cpu") == "cpu"  # an explicit argument wins
    monkeypatch.setenv(_device.ENV_DEVICE, "quantum")
    with pytest.raises(ValueError, match="PLMSCOPE_DEVICE='quantum' is not a device"):
        qary_fft(np.zeros(4), 2)


def test_host_arrays_stay_on_the_cpu(monkeypatch):
    monkeypatch.delenv(_device.ENV_DEVICE, raising=False)
    import torch

    x = np.arange(8.0)
    assert _device.library_of(x) is None
    assert _device.library_of(torch.arange(8.0)) is None  # a CPU tensor is host data
    assert not _device.routed(x) and not _device.routed(x, "cpu") and not _device.routed(x, "auto")
    assert _device.routed(x, "cuda")
    np.testing.assert_array_equal(qary_fft(x, 2, device="cpu"), qary_fft(x, 2))
    sf = SparseFourier([[1, 0], [0, 2]], [1.0, 0.5j], q=3)
    np.testing.assert_array_equal(sf.evaluate([[1, 2]], device="cpu"), sf.evaluate([[1, 2]]))


def test_describe_reads_the_cuda_array_interface():
    a = _device.describe(FakeCupyArray((3, 400), "<c8", ptr=4096, stream=7, device=1))
    assert (a.library, a.ptr, a.shape, a.dtype, a.device, a.stream, a.contiguous, a.size) == \
        ("cupy", 4096, (3, 400), np.dtype(np.complex64), 1, 7, True, 1200)
    assert a.where == "a CuPy array on cuda:1"
    # C strides spelled out are still contiguous; others are not; no stream means stream 0.
    assert _device.describe(FakeCupyArray((3, 4), "<f8", strides=(32, 8))).contiguous
    b = _device.describe(FakeCupyArray((3, 4), "<f8", strides=(8, 24), stream=None))
    assert not b.contiguous and b.stream == 0 and b.dtype == np.float64


def test_other_cuda_arrays_are_refused_with_advice():
    with pytest.raises(ValueError, match=r"torch CUDA tensors and CuPy arrays: convert with "
                                         r"cupy.asarray"):
        qary_fft(ForeignDeviceArray(), 2)


def test_device_mismatch_names_both_devices():
    x = FakeCupyArray((4,), device=1)
    with pytest.raises(ValueError, match=r"x is on cuda:1 but device='cuda:0'"):
        qary_fft(x, 2, device="cuda:0")


@pytest.mark.skipif(_core.has_cuda(), reason="this is a CUDA build: see the no-device test")
def test_cpu_only_build_says_how_to_rebuild():
    assert not plmscope.has_cuda()
    msg = r"no CUDA kernels: rebuild with PLMSCOPE_ENABLE_CUDA=ON"
    with pytest.raises(_device.CudaUnavailableError, match=msg):
        qary_fft(FakeCupyArray((2, 16)), 2)
    with pytest.raises(_device.CudaUnavailableError, match=msg):
        SparseFourier([[1]], [1.0], q=2).evaluate(FakeCupyArray((5, 1), "<i8"))
    with pytest.raises(_device.CudaUnavailableError, match=msg):
        qary_fft(np.zeros(4), 2, device="cuda")


@no_gpu_here
@pytest.mark.skipif(not _core.has_cuda(), reason="this is a CPU-only build: see the rebuild test")
def test_cuda_build_without_a_device_says_so():
    assert plmscope.has_cuda() and _core.cuda_device_count() == 0
    msg = r"no CUDA device is visible to this process"
    with pytest.raises(_device.CudaUnavailableError, match=msg):
        qary_fft(FakeCupyArray((2, 16)), 2)
    with pytest.raises(_device.CudaUnavailableError, match=msg):
        SparseFourier([[1]], [1.0], q=2).evaluate(FakeCupyArray((5, 1), "<i8"))
    with pytest.raises(_device.CudaUnavailableError, match=msg):
        qary_fft(np.zeros(4), 2, device="cuda")
    # The raw entry points refuse host memory and report CUDA's own error as RuntimeError.
    with pytest.raises(RuntimeError, match="CUDA error"):
        _core.cuda_qary_fft(4096, "complex64", 1, 2, 2, False, 0, 0)


@pytest.mark.parametrize("has_cuda,count,message", [
    (False, 0, "no CUDA kernels: rebuild with PLMSCOPE_ENABLE_CUDA=ON"),
    (True, 0, "no CUDA device is visible"),
])
def test_require_cuda_messages(monkeypatch, has_cuda, count, message):
    # Both builds' messages on one machine: the real build's branch is tested above.
    monkeypatch.setattr(_core, "has_cuda", lambda: has_cuda, raising=False)
    monkeypatch.setattr(_core, "cuda_device_count", lambda: count, raising=False)
    with pytest.raises(_device.CudaUnavailableError, match=message):
        _device.require_cuda("x (a CuPy array on cuda:0)")
    with pytest.raises(_device.CudaUnavailableError, match=message):
        isotropy_gpu.pair_similarity(FakeCupyArray((3, 4), "<f4"),
                                        FakeCupyArray((2, 2), "<i8"))


@no_gpu_here
def test_similarity_entry_points_refuse_without_a_gpu():
    x = FakeCupyArray((3, 4), "<f4")
    v = FakeCupyArray((4,), "<f8")
    with pytest.raises(_device.CudaUnavailableError):
        isotropy_gpu.covariance_accumulate(x, v, v, FakeCupyArray((4, 4), "<f8"))
    with pytest.raises(_device.CudaUnavailableError):
        isotropy_gpu.unit_sum_accumulate(x, v)


@pytest.mark.parametrize("make,message", [
    (lambda: FakeCupyArray((3,), "<f4"), r"x must be a 2-D \(n, d\) array of rows"),
    (lambda: FakeCupyArray((3, 4), "<i4"), "x must be float32 or float64 on the GPU, got int32"),
    (lambda: FakeCupyArray((3, 4), "<f4", strides=(4, 12)), "x must be C-contiguous"),
])
def test_similarity_argument_checks(monkeypatch, make, message):
    monkeypatch.setattr(_core, "has_cuda", lambda: True, raising=False)
    monkeypatch.setattr(_core, "cuda_device_count", lambda: 1, raising=False)
    with pytest.raises(ValueError, match=message):
        isotropy_gpu.unit_sum_accumulate(make(), FakeCupyArray((4,), "<f8"))


def test_similarity_arrays_must_share_a_device(monkeypatch):
    monkeypatch.setattr(_core, "has_cuda", lambda: True, raising=False)
    monkeypatch.setattr(_core, "cuda_device_count", lambda: 2, raising=False)
    x = FakeCupyArray((3, 4), "<f4", device=0)
    with pytest.raises(ValueError, match="unit_sum is a CuPy array on cuda:1 but x is a CuPy "
                                         "array on cuda:0"):
        isotropy_gpu.unit_sum_accumulate(x, FakeCupyArray((4,), "<f8", device=1))
    with pytest.raises(ValueError, match=r"unit_sum must be a contiguous float64 array of "
                                         r"shape \(4,\)"):
        isotropy_gpu.unit_sum_accumulate(x, FakeCupyArray((5,), "<f8"))
    with pytest.raises(ValueError, match=r"pairs must be a contiguous int64 array of shape"):
        isotropy_gpu.pair_similarity(x, FakeCupyArray((2, 3), "<i8"))


def test_gpu_fft_argument_checks_before_any_device_work():
    from plmscope.fourier import gpu

    with pytest.raises(ValueError, match="the GPU qary_fft handles q <= 32, got q=33"):
        gpu.qary_fft(_device.describe(FakeCupyArray((33,))), 33)
    with pytest.raises(ValueError, match=r"x.shape\[-1\] = 12 is not a power of q=5"):
        gpu.qary_fft(_device.describe(FakeCupyArray((12,))), 5)
    with pytest.raises(ValueError, match="needs q=2, got q=3"):
        gpu.qary_fft(_device.describe(FakeCupyArray((9,), "<f4")), 3, real=True)
    with pytest.raises(ValueError, match="needs real input"):
        gpu.qary_fft(_device.describe(FakeCupyArray((4,), "<c16")), 2, real=True)
    sf = SparseFourier([[1, 2]], [1.0], q=3)
    with pytest.raises(ValueError, match="x has n=3 sites per variant but this transform has n=2"):
        gpu.evaluate(sf, _device.describe(FakeCupyArray((4, 3), "<i8")))
    with pytest.raises(ValueError, match=r"x on the GPU must hold integers in \[0, q=3\), got "
                                         r"dtype float32"):
        gpu.evaluate(sf, _device.describe(FakeCupyArray((4, 2), "<f4")))
