// The one place where arrays cross between Python and the C++ core: shapes and dtypes are
// checked here, outputs allocated, the GIL released around the kernels. No math here.
// std::invalid_argument from the core becomes Python's ValueError (pybind11's default).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "plmscope/check.h"
#include "plmscope/fourier_lasso.h"
#include "plmscope/peel.h"
#include "plmscope/qary_fft.h"
#include "plmscope/qsft_design.h"
#include "plmscope/similarity.h"
#include "plmscope/simd.h"
#include "plmscope/sparse_series.h"
#ifdef PLMSCOPE_HAS_CUDA
#include "plmscope_cuda.h"
#endif

namespace py = pybind11;
using plmscope::qary_log;

namespace {

template <class T>
using CArray = py::array_t<T, py::array::c_style>;

// A new C-contiguous array for a transform's output, aligned to 64 bytes (numpy's own
// large arrays start 16 bytes past a page: every 64-byte vector the AVX-512 codelets load
// from one then spans two cache lines, and a 2^24 Walsh-Hadamard transform runs 1.2x
// slower); from 4 MB on aligned to 2 MB and marked for transparent huge pages, as numpy
// marks its own.
template <class T>
py::array_t<T> aligned_output(const std::vector<py::ssize_t>& shape) {
#if defined(_WIN32)
  return py::array_t<T>(shape);  // no posix_memalign: numpy's alignment
#else
  std::size_t count = 1;
  for (const py::ssize_t d : shape) count *= static_cast<std::size_t>(d);
  const std::size_t bytes = std::max<std::size_t>(count, 1) * sizeof(T);
  constexpr std::size_t kHuge = std::size_t(2) << 20;
  const std::size_t align = bytes >= (std::size_t(4) << 20) ? kHuge : 64;
  const std::size_t rounded = (bytes + align - 1) / align * align;
  void* raw = nullptr;
  if (posix_memalign(&raw, align, rounded) != 0) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (align == kHuge) madvise(raw, rounded, MADV_HUGEPAGE);
#endif
  py::capsule owner(raw, [](void* p) { std::free(p); });
  return py::array_t<T>(shape, static_cast<T*>(raw), owner);
#endif
}

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

// Out of place: a new array holding the transform of `data` (same shape and dtype).
template <class T>
py::array_t<std::complex<T>> fft_copy(CArray<std::complex<T>> data, int q, bool inverse,
                                      int nthreads) {
  auto [batch, n] = fft_shape(data, q);
  auto out = aligned_output<std::complex<T>>(
      std::vector<py::ssize_t>(data.shape(), data.shape() + data.ndim()));
  const auto* in = data.data();
  auto* o = out.mutable_data();
  py::gil_scoped_release release;
  plmscope::qary_fft(in, o, batch, q, n, inverse, nthreads);
  return out;
}

template <class T>
py::array_t<T> wht_copy(CArray<T> data, bool inverse, int nthreads) {
  auto [batch, n] = fft_shape(data, 2);
  auto out = aligned_output<T>(std::vector<py::ssize_t>(data.shape(), data.shape() + data.ndim()));
  const auto* in = data.data();
  auto* o = out.mutable_data();
  py::gil_scoped_release release;
  plmscope::walsh_hadamard(in, o, batch, n, inverse, nthreads);
  return out;
}

template <class T>
void wht_inplace(CArray<T> data, bool inverse, int nthreads) {
  auto [batch, n] = fft_shape(data, 2);
  auto* ptr = data.mutable_data();
  py::gil_scoped_release release;
  plmscope::walsh_hadamard(ptr, batch, n, inverse, nthreads);
}

// index: (rows, inner, q^n) positions into values; out: (rows, q^n, inner).
py::array_t<std::complex<double>> fft_gather(py::array_t<double, py::array::c_style | py::array::forcecast> values,
                                             CArray<std::int64_t> index, double shift,
                                             std::int64_t q64, std::int64_t nthreads64) {
  PLMSCOPE_CHECK(q64 >= 2 && q64 <= (1 << 30), "q must be >= 2, got q=" << q64);
  PLMSCOPE_CHECK(nthreads64 >= 0 && nthreads64 <= 1 << 20,
                 "nthreads must be in [0, 2^20] (0 = all cores), got nthreads=" << nthreads64);
  PLMSCOPE_CHECK(values.ndim() == 1, "values must be 1-D, got ndim=" << values.ndim());
  PLMSCOPE_CHECK(index.ndim() == 3,
                 "index must be 3-D (rows, inner, q**n), got ndim=" << index.ndim());
  const int q = static_cast<int>(q64);
  const std::int64_t rows = index.shape(0), inner = index.shape(1), len = index.shape(2);
  PLMSCOPE_CHECK(inner >= 1, "index must have an inner axis of length >= 1, got 0");
  const int n = qary_log(len, q);
  auto out = aligned_output<std::complex<double>>({rows, len, inner});
  const double* v = values.data();
  const std::int64_t* ix = index.data();
  auto* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    plmscope::qary_fft_gather(v, values.size(), ix, shift, rows, inner, q, n, o,
                              static_cast<int>(nthreads64));
  }
  return out;
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

// q and nthreads arrive as 64-bit Python ints: a value past int's range gets a ValueError
// that names it, not pybind11's TypeError listing the overloads.
int checked_q(std::int64_t q) {
  PLMSCOPE_CHECK(q >= 2 && q <= 256, "q must be in [2, 256], got q=" << q);
  return static_cast<int>(q);
}

int checked_nthreads(std::int64_t nthreads) {
  PLMSCOPE_CHECK(nthreads >= 0 && nthreads <= 1 << 20,
                 "nthreads must be in [0, 2^20] (0 = all cores), got nthreads=" << nthreads);
  return static_cast<int>(nthreads);
}

// Every entry of `a` below q: larger states or delays would index past Z_q.
void check_states(const CArray<std::uint8_t>& a, int q, const char* name) {
  const auto* p = a.data();
  for (py::ssize_t i = 0; i < a.size(); ++i)
    PLMSCOPE_CHECK(p[i] < q, name << " must hold values in [0, q), got " << int(p[i])
                                  << " with q=" << q << " (flat entry " << i << ")");
}

py::tuple query_points(CArray<std::uint8_t> matrices, CArray<std::uint8_t> delays,
                       std::int64_t q64, bool with_codes, std::int64_t nthreads64) {
  const int q = checked_q(q64), nthreads = checked_nthreads(nthreads64);
  PLMSCOPE_CHECK(matrices.ndim() == 3, "matrices must be 3-D (C, n, b), got ndim=" << matrices.ndim());
  PLMSCOPE_CHECK(delays.ndim() == 2, "delays must be 2-D (P, n), got ndim=" << delays.ndim());
  check_states(matrices, q, "matrices");
  check_states(delays, q, "delays");
  const auto C = matrices.shape(0), n = matrices.shape(1), b = matrices.shape(2);
  const auto P = delays.shape(0);
  PLMSCOPE_CHECK(delays.shape(1) == n, "delays has n=" << delays.shape(1)
                     << " but matrices has n=" << n);
  const auto B = static_cast<py::ssize_t>(plmscope::qary_length(q, static_cast<int>(b)));
  py::array_t<std::uint8_t> points({C, P, B, n});
  py::array_t<std::int64_t> codes(with_codes ? C * P * B : 0);
  const auto* m = matrices.data();
  const auto* d = delays.data();
  auto* pts = points.mutable_data();
  auto* cds = with_codes ? codes.mutable_data() : nullptr;
  {
    py::gil_scoped_release release;
    plmscope::qsft_query_points(m, int(C), int(n), int(b), d, int(P), q, pts, cds, nthreads);
  }
  return py::make_tuple(points, codes);
}

py::tuple unique_codes(CArray<std::int64_t> codes, std::int64_t nthreads64) {
  const int nthreads = checked_nthreads(nthreads64);
  const auto N = static_cast<py::ssize_t>(codes.size());
  std::vector<std::int64_t> uniq(N), first(N);
  py::array_t<std::int64_t> inverse(N);
  const auto* c = codes.data();
  auto* inv = inverse.mutable_data();
  std::int64_t count;
  {
    py::gil_scoped_release release;
    count = plmscope::unique_codes(c, N, uniq.data(), inv, first.data(), nthreads);
  }
  py::array_t<std::int64_t> out(count), firsts(count);
  std::copy(uniq.begin(), uniq.begin() + count, out.mutable_data());
  std::copy(first.begin(), first.begin() + count, firsts.mutable_data());
  return py::make_tuple(out, inverse, firsts);
}

py::dict peel(CArray<std::complex<double>> bins, CArray<std::uint8_t> matrices,
              CArray<std::uint8_t> delays, std::int64_t q64, int num_repeats,
              double zeroton_energy, double singleton_residual, int max_rounds,
              std::int64_t nthreads64) {
  const int q = checked_q(q64), nthreads = checked_nthreads(nthreads64);
  PLMSCOPE_CHECK(bins.ndim() == 3, "bins must be 3-D (C, q^b, P), got ndim=" << bins.ndim());
  PLMSCOPE_CHECK(matrices.ndim() == 3, "matrices must be 3-D (C, n, b), got ndim=" << matrices.ndim());
  PLMSCOPE_CHECK(delays.ndim() == 2, "delays must be 2-D (P, n), got ndim=" << delays.ndim());
  check_states(matrices, q, "matrices");
  check_states(delays, q, "delays");
  {
    const auto* u = bins.data();
    for (py::ssize_t i = 0; i < bins.size(); ++i)
      PLMSCOPE_CHECK(std::isfinite(u[i].real()) && std::isfinite(u[i].imag()),
                     "bins must be finite, got " << u[i] << " at flat entry " << i);
  }
  PLMSCOPE_CHECK(std::isfinite(zeroton_energy) && std::isfinite(singleton_residual),
                 "thresholds must be finite, got zeroton_energy=" << zeroton_energy
                     << ", singleton_residual=" << singleton_residual);
  plmscope::PeelParams p;
  p.q = q;
  p.num_groups = static_cast<int>(matrices.shape(0));
  p.n = static_cast<int>(matrices.shape(1));
  p.b = static_cast<int>(matrices.shape(2));
  p.num_repeats = num_repeats;
  p.zeroton_energy = zeroton_energy;
  p.singleton_residual = singleton_residual;
  p.max_rounds = max_rounds;
  p.nthreads = nthreads;
  PLMSCOPE_CHECK(bins.shape(0) == p.num_groups, "bins has " << bins.shape(0)
                     << " groups but matrices has " << p.num_groups);
  PLMSCOPE_CHECK(bins.shape(1) == plmscope::qary_length(q, p.b),
                 "bins.shape[1] = " << bins.shape(1) << " is not q^b = " << q << "^" << p.b);
  PLMSCOPE_CHECK(delays.shape(1) == p.n, "delays has n=" << delays.shape(1)
                     << " but matrices has n=" << p.n);
  PLMSCOPE_CHECK(delays.shape(0) == std::int64_t(num_repeats) * (p.n + 1) &&
                     bins.shape(2) == delays.shape(0),
                 "need P = num_repeats (n + 1) = " << num_repeats * (p.n + 1)
                     << " delays and bins.shape[2] == P, got " << delays.shape(0) << " and "
                     << bins.shape(2));
  auto* u = bins.mutable_data();
  const auto* m = matrices.data();
  const auto* d = delays.data();
  plmscope::PeelResult r;
  {
    py::gil_scoped_release release;
    r = plmscope::peel(u, m, d, p);
  }
  const auto K = static_cast<py::ssize_t>(r.values.size());
  py::array_t<std::uint8_t> freqs({K, static_cast<py::ssize_t>(p.n)});
  std::copy(r.frequencies.begin(), r.frequencies.end(), freqs.mutable_data());
  py::array_t<std::complex<double>> values(K);
  std::copy(r.values.begin(), r.values.end(), values.mutable_data());
  py::dict out;
  out["frequencies"] = freqs;
  out["values"] = values;
  out["singletons_per_round"] = r.singletons_per_round;
  out["bins_left"] = r.bins_left;
  out["residual_energy"] = r.residual_energy;
  return out;
}

// ---- sparse regression on the Fourier basis ---------------------------------------------

// blocks: sequence of (sites, frequency, mask, weight); sites or frequency is None.
std::vector<plmscope::LassoBlock> lasso_blocks(const py::sequence& blocks) {
  std::vector<plmscope::LassoBlock> out;
  out.reserve(py::len(blocks));
  for (const auto& item : blocks) {
    auto t = item.cast<py::tuple>();
    PLMSCOPE_CHECK(t.size() == 4, "a block is (sites, frequency, mask, weight), got a tuple of "
                                      << t.size());
    plmscope::LassoBlock b;
    if (!t[0].is_none()) b.sites = t[0].cast<std::vector<int>>();
    if (!t[1].is_none()) b.freq = t[1].cast<std::vector<std::uint8_t>>();
    b.mask = t[2].cast<std::vector<std::uint8_t>>();
    b.weight = t[3].cast<double>();
    out.push_back(std::move(b));
  }
  return out;
}

py::dict fourier_lasso_path(CArray<std::uint8_t> x, CArray<double> y, py::object w, int q,
                            const py::sequence& blocks, CArray<double> lambdas,
                            CArray<std::uint8_t> xv, py::object yv, py::object wv, double tol,
                            int max_sweeps, int max_inner, std::int64_t max_active,
                            int patience, int nthreads, py::object start) {
  PLMSCOPE_CHECK(x.ndim() == 2, "x must be 2-D (M, n), got ndim=" << x.ndim());
  PLMSCOPE_CHECK(xv.ndim() == 2 && xv.shape(1) == x.shape(1),
                 "xv must be 2-D (Mv, n) with the n=" << x.shape(1) << " of x");
  const std::int64_t M = x.shape(0), Mv = xv.shape(0);
  const int n = static_cast<int>(x.shape(1));
  PLMSCOPE_CHECK(y.ndim() == 1 && y.shape(0) == M, "y must have one entry per row of x");
  CArray<double> weights;
  const double* wp = nullptr;
  if (!w.is_none()) {
    weights = w.cast<CArray<double>>();
    PLMSCOPE_CHECK(weights.ndim() == 1 && weights.shape(0) == M,
                   "w must have one entry per row of x");
    wp = weights.data();
  }
  PLMSCOPE_CHECK(lambdas.ndim() == 1, "lambdas must be 1-D");
  PLMSCOPE_CHECK(q >= 2 && q <= 256, "q must be in [2, 256], got q=" << q);
  CArray<double> yva, wva;
  const double* yvp = nullptr;
  const double* wvp = nullptr;
  if (!yv.is_none()) {
    yva = yv.cast<CArray<double>>();
    PLMSCOPE_CHECK(yva.ndim() == 1 && yva.shape(0) == Mv, "yv must have one entry per row of xv");
    yvp = yva.data();
  }
  if (!wv.is_none()) {
    wva = wv.cast<CArray<double>>();
    PLMSCOPE_CHECK(wva.ndim() == 1 && wva.shape(0) == Mv, "wv must have one entry per row of xv");
    wvp = wva.data();
  }
  const auto spec = lasso_blocks(blocks);
  const int L = static_cast<int>(lambdas.shape(0));
  const auto cells = static_cast<py::ssize_t>(plmscope::lasso_cells(spec, q));
  std::vector<std::complex<double>> coef(static_cast<std::size_t>(L) * cells);
  std::vector<double> pred(static_cast<std::size_t>(L) * Mv);
  CArray<std::complex<double>> start_arr;
  const std::complex<double>* startp = nullptr;
  if (!start.is_none()) {
    start_arr = start.cast<CArray<std::complex<double>>>();
    PLMSCOPE_CHECK(start_arr.ndim() == 1 && start_arr.shape(0) == cells,
                   "start must hold one path point's " << cells << " coefficients, got shape ("
                                                       << start_arr.shape(0) << ",)");
    startp = start_arr.data();
  }
  plmscope::LassoOptions opt;
  opt.tol = tol;
  opt.max_sweeps = max_sweeps;
  opt.max_inner = max_inner;
  opt.max_active = max_active;
  opt.nthreads = nthreads;
  opt.patience = patience;
  plmscope::LassoPathResult r;
  {
    py::gil_scoped_release release;
    r = plmscope::fourier_lasso_path(x.data(), M, n, q, y.data(), wp, spec, lambdas.data(), L,
                                     xv.data(), Mv, yvp, wvp, coef.data(), pred.data(), opt,
                                     startp);
  }
  const auto done = static_cast<py::ssize_t>(r.lambdas_done);
  py::array_t<std::complex<double>> coef_out({done, cells});
  std::copy(coef.begin(), coef.begin() + done * cells, coef_out.mutable_data());
  py::array_t<double> pred_out({done, static_cast<py::ssize_t>(Mv)});
  std::copy(pred.begin(), pred.begin() + done * Mv, pred_out.mutable_data());
  py::dict out;
  out["lambda_max"] = r.lambda_max;
  out["coefficients"] = coef_out;
  out["predictions"] = pred_out;
  out["sweeps"] = r.sweeps;
  out["active"] = r.active;
  return out;
}

// ---- similarity kernels (isotropy, distances) -----------------------------------------

template <class T>
std::pair<std::int64_t, std::int64_t> rows_shape(const CArray<T>& x, const char* name) {
  PLMSCOPE_CHECK(x.ndim() == 2, name << " must be 2-D (n points, d dimensions), got ndim="
                                     << x.ndim());
  return {x.shape(0), x.shape(1)};
}

void check_vector(const CArray<double>& v, std::int64_t d, const char* name) {
  PLMSCOPE_CHECK(v.ndim() == 1 && v.shape(0) == d,
                 name << " must be a float64 vector of length d=" << d << ", got shape ("
                      << (v.ndim() ? v.shape(0) : 0) << (v.ndim() > 1 ? ", ..." : "") << ")");
}

void covariance_accumulate(CArray<float> x, CArray<double> shift, CArray<double> sum,
                           CArray<double> scatter, int nthreads) {
  auto [n, d] = rows_shape(x, "x");
  check_vector(shift, d, "shift");
  check_vector(sum, d, "sum");
  PLMSCOPE_CHECK(scatter.ndim() == 2 && scatter.shape(0) == d && scatter.shape(1) == d,
                 "scatter must be a float64 (d, d) array with d=" << d);
  const float* xp = x.data();
  const double* sp = shift.data();
  double* up = sum.mutable_data();
  double* gp = scatter.mutable_data();
  py::gil_scoped_release release;
  plmscope::covariance_accumulate(xp, n, d, sp, up, gp, nthreads);
}

py::tuple covariance_moments(CArray<double> scatter, CArray<double> sum, std::int64_t m) {
  const std::int64_t d = sum.ndim() == 1 ? sum.shape(0) : -1;
  PLMSCOPE_CHECK(d >= 0, "sum must be a float64 vector, got ndim=" << sum.ndim());
  PLMSCOPE_CHECK(scatter.ndim() == 2 && scatter.shape(0) == d && scatter.shape(1) == d,
                 "scatter must be a float64 (d, d) array with d=" << d);
  const double* gp = scatter.data();
  const double* sp = sum.data();
  plmscope::CovarianceMoments r{};
  {
    py::gil_scoped_release release;
    r = plmscope::covariance_moments(gp, sp, d, m);
  }
  return py::make_tuple(r.trace, r.frobenius2);
}

template <class T>
void unit_sum_accumulate(CArray<T> x, CArray<double> unit_sum, int nthreads) {
  auto [n, d] = rows_shape(x, "x");
  check_vector(unit_sum, d, "unit_sum");
  const T* xp = x.data();
  double* up = unit_sum.mutable_data();
  py::gil_scoped_release release;
  plmscope::unit_sum_accumulate(xp, n, d, up, nthreads);
}

template <class T>
py::tuple pair_similarity(CArray<T> x, CArray<std::int64_t> pairs, bool cosine, bool sqdist,
                          int nthreads) {
  auto [n, d] = rows_shape(x, "x");
  PLMSCOPE_CHECK(pairs.ndim() == 2 && pairs.shape(1) == 2,
                 "pairs must be an int64 (npairs, 2) array of row indices, got ndim="
                     << pairs.ndim());
  const std::int64_t P = pairs.shape(0);
  py::array_t<double> cos_out(cosine ? P : 0), sq_out(sqdist ? P : 0);
  const T* xp = x.data();
  const std::int64_t* pp = pairs.data();
  double* cp = cosine ? cos_out.mutable_data() : nullptr;
  double* qp = sqdist ? sq_out.mutable_data() : nullptr;
  {
    py::gil_scoped_release release;
    plmscope::pair_similarity(xp, n, d, pp, P, cp, qp, nthreads);
  }
  return py::make_tuple(cosine ? py::object(cos_out) : py::none(),
                        sqdist ? py::object(sq_out) : py::none());
}

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
  m.def("qary_fft_copy", &fft_copy<double>, py::arg("data").noconvert(), py::arg("q"),
        py::arg("inverse") = false, py::arg("nthreads") = 0,
        "Out-of-place q-ary FFT over the last axis: a new array, one pass over memory less "
        "than a copy and qary_fft_inplace.");
  m.def("qary_fft_copy", &fft_copy<float>, py::arg("data").noconvert(), py::arg("q"),
        py::arg("inverse") = false, py::arg("nthreads") = 0);
  m.def("walsh_hadamard_copy", &wht_copy<double>, py::arg("data").noconvert(),
        py::arg("inverse") = false, py::arg("nthreads") = 0,
        "Out-of-place real Walsh-Hadamard transform over the last axis (a new array).");
  m.def("walsh_hadamard_copy", &wht_copy<float>, py::arg("data").noconvert(),
        py::arg("inverse") = false, py::arg("nthreads") = 0);
  m.def("aligned_bytes", [](std::int64_t nbytes) {
          PLMSCOPE_CHECK(nbytes >= 0, "nbytes must be >= 0, got nbytes=" << nbytes);
          return aligned_output<std::uint8_t>({static_cast<py::ssize_t>(nbytes)});
        }, py::arg("nbytes"),
        "An uninitialised uint8 array of nbytes, aligned as the transforms' outputs are (64 "
        "bytes; 2 MB with huge pages from 4 MB), for inputs converted before a transform.");
  m.def("qary_fft_gather", &fft_gather, py::arg("values"), py::arg("index").noconvert(),
        py::arg("shift"), py::arg("q"), py::arg("nthreads") = 0,
        "Forward q-ary FFT of values[index] - shift over the last axis of index (rows, inner, "
        "q**n), returned as (rows, q**n, inner) complex128, in one fused, threaded pass.");
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
  m.def("qsft_query_points", &query_points, py::arg("matrices").noconvert(),
        py::arg("delays").noconvert(), py::arg("q"), py::arg("with_codes"),
        py::arg("nthreads") = 0,
        "(points (C, P, q^b, n) uint8, codes (C P q^b,) int64) of the q-SFT design.");
  m.def("unique_codes", &unique_codes, py::arg("codes").noconvert(), py::arg("nthreads") = 0,
        "(sorted distinct codes, inverse index, first occurrence) of int64 codes >= 0.");
  m.def("peel", &peel, py::arg("bins").noconvert(), py::arg("matrices").noconvert(),
        py::arg("delays").noconvert(), py::arg("q"), py::arg("num_repeats"),
        py::arg("zeroton_energy"), py::arg("singleton_residual"), py::arg("max_rounds") = 100,
        py::arg("nthreads") = 0,
        "q-SFT peeling decoder; bins (C, q^b, P) complex128 are replaced by the residual.");

  // ---- sparse regression ----
  m.def("fourier_lasso_path", &fourier_lasso_path, py::arg("x").noconvert(),
        py::arg("y").noconvert(), py::arg("w"), py::arg("q"), py::arg("blocks"),
        py::arg("lambdas").noconvert(), py::arg("xv").noconvert(), py::arg("yv") = py::none(),
        py::arg("wv") = py::none(), py::arg("tol") = 1e-6, py::arg("max_sweeps") = 500,
        py::arg("max_inner") = 50, py::arg("max_active") = -1, py::arg("patience") = 4,
        py::arg("nthreads") = 1, py::arg("start") = py::none(),
        "Lasso path on the q-ary Fourier basis over blocks (sites, frequency, mask, weight): "
        "dict of lambda_max, coefficients (L, cells), predictions at xv (L, Mv), sweeps, active. "
        "start: coefficients (cells,) to warm-start from (lambda_max is then NaN).");

  // ---- similarity kernels ----
  m.def("covariance_accumulate", &covariance_accumulate, py::arg("x").noconvert(),
        py::arg("shift").noconvert(), py::arg("sum").noconvert(), py::arg("scatter").noconvert(),
        py::arg("nthreads") = 0,
        "Add float32 rows (n, d) to a shifted sum (d,) and the upper triangle of a scatter "
        "(d, d), both float64, in place.");
  m.def("covariance_moments", &covariance_moments, py::arg("scatter").noconvert(),
        py::arg("sum").noconvert(), py::arg("m"),
        "(trace, squared Frobenius norm) of the covariance (S - s s^T/m)/(m - 1) from the "
        "upper triangle of the scatter S (d, d) and the shifted sum s (d,).");
  m.def("simd_level", [] { return std::string(plmscope::simd_name(plmscope::simd_level())); },
        "Instruction set the qary_fft and covariance kernels use on this CPU: 'avx512', "
        "'avx2' or 'baseline' (the widest the CPU has, capped by PLMSCOPE_SIMD).");
  m.def("unit_sum_accumulate", &unit_sum_accumulate<float>, py::arg("x").noconvert(),
        py::arg("unit_sum").noconvert(), py::arg("nthreads") = 0,
        "unit_sum += sum of the rows of x (float32) scaled to unit length.");
  m.def("unit_sum_accumulate", &unit_sum_accumulate<double>, py::arg("x").noconvert(),
        py::arg("unit_sum").noconvert(), py::arg("nthreads") = 0,
        "unit_sum += sum of the rows of x (float64) scaled to unit length.");
  m.def("pair_similarity", &pair_similarity<float>, py::arg("x").noconvert(),
        py::arg("pairs").noconvert(), py::arg("cosine") = true, py::arg("sqdist") = true,
        py::arg("nthreads") = 0,
        "(cosine, squared Euclidean distance) of rows pairs[p, 0] and pairs[p, 1] of x "
        "(float32); None for an output not asked for.");
  m.def("pair_similarity", &pair_similarity<double>, py::arg("x").noconvert(),
        py::arg("pairs").noconvert(), py::arg("cosine") = true, py::arg("sqdist") = true,
        py::arg("nthreads") = 0,
        "(cosine, squared Euclidean distance) of rows pairs[p, 0] and pairs[p, 1] of x "
        "(float64); None for an output not asked for.");

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
