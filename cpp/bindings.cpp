// The one place where arrays cross between Python and the C++ core: shapes and dtypes are
// checked here, outputs allocated, the GIL released around the kernels. No math here.
// std::invalid_argument from the core becomes Python's ValueError (pybind11's default).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <complex>
#include <cstdint>
#include <string>

#include "plmscope/check.h"
#include "plmscope/qary_fft.h"
#include "plmscope/sparse_series.h"
#ifdef PLMSCOPE_HAS_CUDA
#include "plmscope_cuda.h"
#endif

namespace py = pybind11;
using plmscope::qary_log;

namespace {

template <class T>
using CArray = py::array_t<T, py::array::c_style>;

// Rows of a C-contiguous array whose last axis is a q-ary transform: (batch, n).
template <class T>
std::pair<std::int64_t, int> fft_shape(const CArray<T>& a, int q) {
  PLMSCOPE_CHECK(a.ndim() >= 1, "x must have at least one axis, got a scalar");
  const std::int64_t len = a.shape(a.ndim() - 1);
  PLMSCOPE_CHECK(q >= 2, "q must be >= 2, got q=" << q);
  const int n = qary_log(len, q);
  const std::int64_t batch = len ? a.size() / len : 0;
  return {batch, n};
}

template <class T>
void fft_inplace(CArray<std::complex<T>> data, int q, bool inverse, int nthreads) {
  auto [batch, n] = fft_shape(data, q);
  auto* ptr = data.mutable_data();
  py::gil_scoped_release release;
  plmscope::qary_fft(ptr, batch, q, n, inverse, nthreads);
}

template <class T>
void wht_inplace(CArray<T> data, bool inverse, int nthreads) {
  auto [batch, n] = fft_shape(data, 2);
  auto* ptr = data.mutable_data();
  py::gil_scoped_release release;
  plmscope::walsh_hadamard(ptr, batch, n, inverse, nthreads);
}

py::array_t<double> evaluate(CArray<std::uint8_t> freqs, CArray<std::complex<double>> values,
                             int q, CArray<std::uint8_t> x, int nthreads) {
  PLMSCOPE_CHECK(freqs.ndim() == 2, "frequencies must be 2-D (K, n), got ndim=" << freqs.ndim());
  PLMSCOPE_CHECK(x.ndim() == 2, "x must be 2-D (M, n), got ndim=" << x.ndim());
  PLMSCOPE_CHECK(values.ndim() == 1 && values.shape(0) == freqs.shape(0),
                 "values must have one entry per frequency: " << freqs.shape(0)
                     << " frequencies, " << values.size() << " values");
  PLMSCOPE_CHECK(x.shape(1) == freqs.shape(1), "x has n=" << x.shape(1)
                     << " sites but the frequencies have n=" << freqs.shape(1));
  const std::int64_t K = freqs.shape(0), M = x.shape(0);
  const int n = static_cast<int>(freqs.shape(1));
  py::array_t<double> out(M);
  const auto* f = freqs.data();
  const auto* v = values.data();
  const auto* xp = x.data();
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    plmscope::sparse_series_evaluate(f, v, K, n, q, xp, M, o, nthreads);
  }
  return out;
}

// ---- q-SFT (decoder) -----------------------------------------------------------------

// ---- similarity kernels (isotropy, distances) -----------------------------------------

// ---- CUDA entry points ----------------------------------------------------------------

bool has_cuda() {
#ifdef PLMSCOPE_HAS_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef PLMSCOPE_HAS_CUDA
  return plmscope::cuda::device_count();
#else
  return 0;
#endif
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "plmscope's compiled core (private: use plmscope.fourier and friends).";
  m.def("has_cuda", &has_cuda, "True when this build of plmscope includes the CUDA kernels.");
  m.def("cuda_device_count", &cuda_device_count,
        "CUDA devices visible to this process (0 in a CPU-only build).");
  m.def("qary_fft_inplace", &fft_inplace<double>, py::arg("data").noconvert(), py::arg("q"),
        py::arg("inverse"), py::arg("nthreads") = 0,
        "In-place q-ary FFT over the last axis of a C-contiguous complex128 array.");
  m.def("qary_fft_inplace", &fft_inplace<float>, py::arg("data").noconvert(), py::arg("q"),
        py::arg("inverse"), py::arg("nthreads") = 0,
        "In-place q-ary FFT over the last axis of a C-contiguous complex64 array.");
  m.def("walsh_hadamard_inplace", &wht_inplace<double>, py::arg("data").noconvert(),
        py::arg("inverse"), py::arg("nthreads") = 0,
        "In-place Walsh-Hadamard transform over the last axis of a float64 array.");
  m.def("walsh_hadamard_inplace", &wht_inplace<float>, py::arg("data").noconvert(),
        py::arg("inverse"), py::arg("nthreads") = 0,
        "In-place Walsh-Hadamard transform over the last axis of a float32 array.");
  m.def("sparse_series_evaluate", &evaluate, py::arg("frequencies").noconvert(),
        py::arg("values").noconvert(), py::arg("q"), py::arg("x").noconvert(),
        py::arg("nthreads") = 0,
        "Re sum_k values[k] omega^<frequencies[k], x[m]> for every row of x (uint8 inputs).");

  // ---- q-SFT (decoder) ----

  // ---- similarity kernels ----

  // ---- CUDA entry points ----
}
