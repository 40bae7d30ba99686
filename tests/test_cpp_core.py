"""Builds the C++ core without Python and runs its GoogleTest suite under ctest; builds the
CUDA kernels with nvcc when a CUDA toolkit is installed (no GPU needed to compile)."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(cmd, cwd=None, env=None):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout + proc.stderr


def configure_and_build(build: Path, *defines: str, target: str | None = None,
                        env=None) -> str:
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.fail("cmake is not installed: apt-get install cmake (or pip install cmake)")
    out = run([cmake, "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
               "-DPLMSCOPE_BUILD_PYTHON=OFF", *defines], env=env)
    cmd = [cmake, "--build", build, f"-j{os.cpu_count() or 2}"]
    if target:
        cmd += ["--target", target]
    run(cmd, env=env)
    return out


def test_ctest_core_unit_tests(tmp_path):
    configure_and_build(tmp_path / "build", "-DPLMSCOPE_BUILD_TESTS=ON")
    out = run(["ctest", "--output-on-failure", "-j2"], cwd=tmp_path / "build")
    assert "100% tests passed" in out, out


def nvcc_path():
    return shutil.which("nvcc") or next(
        (p for p in ("/usr/local/cuda/bin/nvcc",) if os.path.exists(p)), None)


# Every architecture takes minutes: the slow tier. The quick tier compiles the kernels for
# one architecture with the module (tests/test_gpu_build.py).
@pytest.mark.slow
@pytest.mark.skipif(nvcc_path() is None and not os.environ.get("PLMSCOPE_REQUIRE_CUDA_BUILD"),
                    reason="no nvcc: CUDA toolkit not installed")
def test_cuda_kernels_compile(tmp_path):
    nvcc = nvcc_path()
    assert nvcc, "PLMSCOPE_REQUIRE_CUDA_BUILD is set but nvcc was not found"
    out = configure_and_build(tmp_path / "build", "-DPLMSCOPE_ENABLE_CUDA=ON",
                              f"-DCMAKE_CUDA_COMPILER={nvcc}", target="plmscope_cuda")
    assert "CUDA kernels enabled" in out, out


def test_cuda_requested_without_nvcc_falls_back_to_cpu(tmp_path):
    # A PATH without any CUDA toolkit on it, and no CUDA hints in the environment.
    env = {k: v for k, v in os.environ.items() if "CUDA" not in k}
    env["PATH"] = "/usr/bin:/bin"
    out = configure_and_build(tmp_path / "build", "-DPLMSCOPE_ENABLE_CUDA=ON",
                              target="plmscope_core", env=env)
    assert "building the CPU-only core" in out or "no CUDA compiler" in out, out
