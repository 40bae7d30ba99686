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

#ifdef PLMSCOPE_HAS_CUDA
// Device arrays arrive as integers (pointer, stream) from python/plmscope/_device.py, which
// has checked kind, dtype, shape and contiguity; the CUDA layer checks that each pointer is
// memory of `device`.
template <class T>
T* device_ptr(std::uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

void cuda_qary_fft(std::uintptr_t data, const std::string& dtype, std::int64_t batch, int q,
                   int n, bool inverse, int device, std::uintptr_t stream, int tile_bytes,
                   std::int64_t chunk_bytes, int threads) {
  namespace pc = plmscope::cuda;
  const pc::FftTuning tuning{tile_bytes, chunk_bytes, threads};
  const bool real = dtype == "float32" || dtype == "float64";
  PLMSCOPE_CHECK(!real || q == 2, "real " << dtype << " data is the Walsh-Hadamard path and needs "
                                             "q=2, got q=" << q);
  py::gil_scoped_release release;
  if (dtype == "complex64")
    pc::qary_fft(device_ptr<std::complex<float>>(data), batch, q, n, inverse, device, stream, tuning);
  else if (dtype == "complex128")
    pc::qary_fft(device_ptr<std::complex<double>>(data), batch, q, n, inverse, device, stream, tuning);
  else if (dtype == "float32")
    pc::walsh_hadamard(device_ptr<float>(data), batch, n, inverse, device, stream, tuning);
  else if (dtype == "float64")
    pc::walsh_hadamard(device_ptr<double>(data), batch, n, inverse, device, stream, tuning);
  else
    PLMSCOPE_CHECK(false, "dtype must be complex64, complex128, float32 or float64, got " << dtype);
}

void cuda_sparse_series_evaluate(std::uintptr_t freqs, std::uintptr_t values, std::int64_t K,
                                 int n, int q, std::uintptr_t x, std::int64_t M,
                                 std::uintptr_t out, int device, std::uintptr_t stream) {
  py::gil_scoped_release release;
  plmscope::cuda::sparse_series_evaluate(device_ptr<const std::uint8_t>(freqs),
                                         device_ptr<const std::complex<double>>(values), K, n, q,
                                         device_ptr<const std::uint8_t>(x), M,
                                         device_ptr<double>(out), device, stream);
}

void cuda_covariance_accumulate(std::uintptr_t x, std::int64_t n, std::int64_t d,
                                std::uintptr_t shift, std::uintptr_t sum, std::uintptr_t scatter,
                                int device, std::uintptr_t stream) {
  py::gil_scoped_release release;
  plmscope::cuda::covariance_accumulate(device_ptr<const float>(x), n, d,
                                        device_ptr<const double>(shift), device_ptr<double>(sum),
                                        device_ptr<double>(scatter), device, stream);
}

void cuda_unit_sum_accumulate(std::uintptr_t x, const std::string& dtype, std::int64_t n,
                              std::int64_t d, std::uintptr_t unit_sum, int device,
                              std::uintptr_t stream) {
  PLMSCOPE_CHECK(dtype == "float32" || dtype == "float64",
                 "x must be float32 or float64, got " << dtype);
  py::gil_scoped_release release;
  if (dtype == "float32")
    plmscope::cuda::unit_sum_accumulate(device_ptr<const float>(x), n, d,
                                        device_ptr<double>(unit_sum), device, stream);
  else
    plmscope::cuda::unit_sum_accumulate(device_ptr<const double>(x), n, d,
                                        device_ptr<double>(unit_sum), device, stream);
}

void cuda_pair_similarity(std::uintptr_t x, const std::string& dtype, std::int64_t n,
                          std::int64_t d, std::uintptr_t pairs, std::int64_t npairs,
                          std::uintptr_t cosine, std::uintptr_t sqdist, int device,
                          std::uintptr_t stream) {
  PLMSCOPE_CHECK(dtype == "float32" || dtype == "float64",
                 "x must be float32 or float64, got " << dtype);
  py::gil_scoped_release release;
  auto* cp = device_ptr<double>(cosine);
  auto* sp = device_ptr<double>(sqdist);
  if (dtype == "float32")
    plmscope::cuda::pair_similarity(device_ptr<const float>(x), n, d,
                                    device_ptr<const std::int64_t>(pairs), npairs, cp, sp, device,
                                    stream);
  else
    plmscope::cuda::pair_similarity(device_ptr<const double>(x), n, d,
                                    device_ptr<const std::int64_t>(pairs), npairs, cp, sp, device,
                                    stream);
}
#endif  // PLMSCOPE_HAS_CUDA

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
#ifdef PLMSCOPE_HAS_CUDA
  // Private: python/plmscope/_device.py and the gpu modules call these with integers.
  m.def("cuda_pointer_device", &plmscope::cuda::pointer_device, py::arg("ptr"),
        "Ordinal of the CUDA device owning a device pointer (ValueError for host memory).");
  m.def("cuda_qary_fft", &cuda_qary_fft, py::arg("data"), py::arg("dtype"), py::arg("batch"),
        py::arg("q"), py::arg("n"), py::arg("inverse"), py::arg("device"), py::arg("stream"),
        py::arg("tile_bytes") = 0, py::arg("chunk_bytes") = 0, py::arg("threads") = 0,
        "In-place q-ary FFT (or Walsh-Hadamard for real dtypes) of batch rows of q^n values "
        "on the GPU; queued on `stream`.");
  m.def("cuda_sparse_series_evaluate", &cuda_sparse_series_evaluate, py::arg("frequencies"),
        py::arg("values"), py::arg("K"), py::arg("n"), py::arg("q"), py::arg("x"), py::arg("M"),
        py::arg("out"), py::arg("device"), py::arg("stream"),
        "out[m] = Re sum_k values[k] omega^<frequencies[k], x[m]> on the GPU (uint8 inputs).");
  m.def("cuda_covariance_accumulate", &cuda_covariance_accumulate, py::arg("x"), py::arg("n"),
        py::arg("d"), py::arg("shift"), py::arg("sum"), py::arg("scatter"), py::arg("device"),
        py::arg("stream"),
        "GPU covariance_accumulate: float32 rows, float64 sum and upper-triangle scatter.");
  m.def("cuda_unit_sum_accumulate", &cuda_unit_sum_accumulate, py::arg("x"), py::arg("dtype"),
        py::arg("n"), py::arg("d"), py::arg("unit_sum"), py::arg("device"), py::arg("stream"),
        "GPU unit_sum_accumulate (waits for the stream to report zero rows).");
  m.def("cuda_pair_similarity", &cuda_pair_similarity, py::arg("x"), py::arg("dtype"),
        py::arg("n"), py::arg("d"), py::arg("pairs"), py::arg("npairs"), py::arg("cosine"),
        py::arg("sqdist"), py::arg("device"), py::arg("stream"),
        "GPU pair_similarity (0 for an output not wanted; waits for the stream).");
#endif
}
