"""The CUDA build of the Python module: nvcc compiles the kernels and the CUDA entry points
of cpp/bindings.cpp, and the module loads (cudart is linked statically), with no GPU needed.
(tests/test_cpp_core.py compiles the kernels alone for every architecture.)"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NVCC = shutil.which("nvcc") or next(
    (p for p in ("/usr/local/cuda/bin/nvcc",) if os.path.exists(p)), None)


@pytest.mark.skipif(NVCC is None and not os.environ.get("PLMSCOPE_REQUIRE_CUDA_BUILD"),
                    reason="no nvcc: CUDA toolkit not installed")
def test_cuda_python_module_builds_and_loads(tmp_path):
    assert NVCC, "PLMSCOPE_REQUIRE_CUDA_BUILD is set but nvcc was not found"
    try:
        import pybind11
    except ImportError:
        pytest.fail("pybind11 is not installed: it is a build requirement of the module; "
                    "pip install '.[test]' installs it")

    build = tmp_path / "build"
    # SKBUILD keeps the module in the build folder instead of the source tree's package.
    configure = [shutil.which("cmake"), "-S", str(ROOT), "-B", str(build),
                 "-DCMAKE_BUILD_TYPE=Release", "-DPLMSCOPE_ENABLE_CUDA=ON", "-DSKBUILD=ON",
                 f"-DCMAKE_CUDA_COMPILER={NVCC}", "-DCMAKE_CUDA_ARCHITECTURES=90",
                 f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
                 f"-DPython_EXECUTABLE={sys.executable}"]
    for cmd in (configure, [shutil.which("cmake"), "--build", str(build), "--target", "_core",
                            f"-j{os.cpu_count() or 2}"]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    (module,) = build.glob("_core*.so")
    probe = f"""
import importlib.util
spec = importlib.util.spec_from_file_location("_core", {str(module)!r})
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
assert m.has_cuda() is True
assert m.cuda_device_count() >= 0
for name in ("cuda_qary_fft", "cuda_sparse_series_evaluate", "cuda_covariance_accumulate",
             "cuda_unit_sum_accumulate", "cuda_pair_similarity", "cuda_pointer_device"):
    assert hasattr(m, name), name
try:  # host memory: ValueError where a driver answers, RuntimeError (no driver) elsewhere
    m.cuda_pointer_device(4096)
except (ValueError, RuntimeError) as e:
    print("refused:", type(e).__name__, e)
else:
    raise AssertionError("a host address was accepted as device memory")
"""
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "refused:" in proc.stdout
