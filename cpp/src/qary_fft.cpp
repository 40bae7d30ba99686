// q-ary FFT over Z_q^n: a mixed-radix, cache-blocked, in-place transform.
//
// The n sites are grouped into "digits", each transformed by one butterfly (codelet). For
// q = 2 consecutive sites are fused into radix-8 Hadamard digits, so there are a third as
// many passes. The lowest digits (small strides) are done block by block while the block
// sits in cache. Rows that fit in cache are finished one row per task: the remaining digits
// run on the row's columns where they lie, and an out-of-place output is written once.
// Longer rows take a second sweep over column panels copied into a per-thread buffer,
// which keeps power-of-two row strides from thrashing cache sets. The codelets and the
// executor live in qary_fft_kernels.inc, compiled once per instruction set (baseline,
// AVX2, AVX-512) and picked per call.
#include "plmscope/qary_fft.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "plmscope/check.h"
#include "plmscope/parallel.h"
#include "plmscope/simd.h"

namespace plmscope {

std::int64_t qary_length(int q, int n) {
  PLMSCOPE_CHECK(q >= 2, "q must be >= 2, got q=" << q);
  PLMSCOPE_CHECK(n >= 0, "n must be >= 0, got n=" << n);
  std::int64_t len = 1;
  for (int i = 0; i < n; ++i) {
    PLMSCOPE_CHECK(len <= std::numeric_limits<std::int64_t>::max() / q,
                   "q^n overflows int64 for q=" << q << ", n=" << n);
    len *= q;
  }
  return len;
}

int qary_log(std::int64_t length, int q) {
  PLMSCOPE_CHECK(q >= 2, "q must be >= 2, got q=" << q);
  PLMSCOPE_CHECK(length >= 1, "length must be a power of q=" << q << ", got " << length);
  int n = 0;
  std::int64_t v = length;
  while (v % q == 0) {
    v /= q;
    ++n;
  }
  PLMSCOPE_CHECK(v == 1, "length " << length << " is not a power of q=" << q);
  return n;
}

namespace {

// Blocks of this many bytes are transformed in cache before moving on; column panels of
// the remaining digits are gathered into buffers of about kPanelBytes. Both fit a 1 MB L2
// together; against 128 KB / 256 KB they put one more digit in the block pass and make the
// panels' strided reads 8x longer (a 134 MB Walsh-Hadamard transform: 64-byte reads at a
// 32 KB stride became 512-byte reads), 1.7x faster at 2^24 (bench/bench_fft.py).
constexpr std::int64_t kBlockBytes = 256 * 1024;
constexpr std::int64_t kPanelBytes = 512 * 1024;
constexpr std::int64_t kInnerBlockBytes = 512 * 1024;
constexpr std::int64_t kMinPanelWidth = 8;
// Rows up to this size are transformed one whole row per task when the batch has enough
// rows, so a row is still in cache (L2/L3) when its column panels read it back.
constexpr std::int64_t kRowCacheBytes = 4 * 1024 * 1024;
constexpr double kPi = 3.14159265358979323846;

enum class Kind { H2, H4, H8, D3, D4, D5, D8, D20, Direct };

struct Digit {
  Kind kind;
  int radix;
  std::int64_t stride;  // in elements, within the full row
};

// 20 = 4 x 5, coprime: the prime-factor (Good-Thomas) map turns one length-20 DFT into
// five length-4 and four length-5 DFTs with no twiddle factors. Input n = (5 n1 + 4 n2)
// mod 20, output k = (5 k1 + 16 k2) mod 20.
struct Pfa20 {
  int in4[5][4];   // rows of the length-4 DFTs (one per n2)
  int in5[4][5];   // rows read by the length-5 DFTs (one per k1)
  int out5[4][5];  // rows they write
  constexpr Pfa20() : in4(), in5(), out5() {
    for (int n1 = 0; n1 < 4; ++n1)
      for (int n2 = 0; n2 < 5; ++n2) {
        in4[n2][n1] = (5 * n1 + 4 * n2) % 20;
        in5[n1][n2] = (5 * n1 + 4 * n2) % 20;
        out5[n1][n2] = (5 * n1 + 16 * n2) % 20;
      }
  }
};
constexpr Pfa20 kPfa20{};

template <class T>
struct DirectDft {
  int q;
  std::vector<std::complex<T>> roots;  // roots[j] = exp(sg 2 pi i j / q)
  DirectDft(int q_, T sg) : q(q_), roots(q_) {
    for (int j = 0; j < q; ++j) {
      const double a = 2.0 * kPi * j / q;
      roots[j] = {T(std::cos(a)), T(sg * std::sin(a))};
    }
  }
};

template <class E>
struct RealOf { using type = E; };
template <class T>
struct RealOf<std::complex<T>> { using type = T; };

template <class E>
struct Plan {
  using T = typename RealOf<E>::type;
  std::vector<Digit> digits;  // least significant (stride `inner`) first
  int low = 0;                // digits [0, low) are done in cache blocks
  // The forward scale is applied after this many digits: where a plan with inner = 1
  // applies it (after its low digits), so every layout rounds the same way.
  int scale_after = 0;
  std::int64_t inner = 1;     // contiguous points per transform position (not transformed)
  std::int64_t len = 1, block = 1, panel_rows = 1, panel_width = 1;
  T sg = -1;
  T scale = 1;
  const DirectDft<T>* direct = nullptr;
};

Kind dft_kind(int q) {
  switch (q) {
    case 2: return Kind::H2;
    case 3: return Kind::D3;
    case 4: return Kind::D4;
    case 5: return Kind::D5;
    case 8: return Kind::D8;
    case 20: return Kind::D20;
    default: return Kind::Direct;
  }
}

// Digits [0, low) whose product with `inner` still fits a cache block (at least one).
inline int low_digits(const std::vector<Digit>& digits, std::int64_t inner,
                      std::int64_t max_block, std::int64_t* block) {
  int low = 0;
  *block = inner;
  for (const Digit& d : digits) {
    if (low > 0 && *block * d.radix > max_block) break;
    *block *= d.radix;
    ++low;
  }
  return low;
}

template <class E>
Plan<E> make_plan(int q, int n, bool inverse, bool hadamard, std::int64_t inner = 1) {
  Plan<E> plan;
  const std::int64_t points = qary_length(q, n);
  PLMSCOPE_CHECK(inner >= 1 && points <= std::numeric_limits<std::int64_t>::max() / inner,
                 "inner must be >= 1 with q^n * inner in int64, got inner=" << inner);
  plan.inner = inner;
  plan.len = points * inner;
  plan.sg = inverse ? 1 : -1;
  plan.scale = inverse ? 1 : static_cast<typename Plan<E>::T>(1.0 / double(points));
  std::int64_t stride = inner;
  if (hadamard) {  // fuse up to three binary sites per digit
    int left = n;
    while (left > 0) {
      const int g = std::min(left, 3);
      const Kind k = g == 3 ? Kind::H8 : g == 2 ? Kind::H4 : Kind::H2;
      plan.digits.push_back({k, 1 << g, stride});
      stride <<= g;
      left -= g;
    }
  } else {
    for (int i = 0; i < n; ++i) {
      plan.digits.push_back({dft_kind(q), q, stride});
      stride *= q;
    }
  }
  const std::int64_t max_block = std::max<std::int64_t>(1, kBlockBytes / sizeof(E));
  std::int64_t unused;
  plan.scale_after = low_digits(plan.digits, 1, max_block, &unused);
  // With an inner axis the rows are long (q-SFT: 56 MB), so no row is read back from
  // cache: larger blocks put more digits in the first pass and leave the panels wider
  // (fewer, longer strided reads). 512 KB measured best at q = 20, b = 4, inner = 22.
  const std::int64_t inner_block =
      inner > 1 ? std::max<std::int64_t>(1, kInnerBlockBytes / sizeof(E)) : max_block;
  plan.low = low_digits(plan.digits, inner, inner_block, &plan.block);
  const std::int64_t rows = plan.len / plan.block;
  // Whole cache lines per panel row, where the panel is that wide: two panels (two threads)
  // never write the same line.
  const std::int64_t line = std::max<std::int64_t>(1, 64 / std::int64_t(sizeof(E)));
  std::int64_t w = kPanelBytes / std::int64_t(sizeof(E)) / std::max<std::int64_t>(rows, 1);
  if (w > line) w -= w % line;
  plan.panel_width = std::min(plan.block, std::max(kMinPanelWidth, w));
  return plan;
}

// An uninitialised, cache-line aligned buffer kept across a thread's tasks: the kernels
// write every element before reading it, so zeroing megabytes per call would be wasted.
template <class E>
class Scratch {
 public:
  E* get(std::int64_t count) {
    if (count > size_) {
      ptr_.reset(static_cast<E*>(::operator new(count * sizeof(E), std::align_val_t{64})));
      size_ = count;
    }
    return ptr_.get();
  }

 private:
  struct Free {
    void operator()(E* p) const { ::operator delete(p, std::align_val_t{64}); }
  };
  std::unique_ptr<E, Free> ptr_;
  std::int64_t size_ = 0;
};

// Complex values packed as (re, im, re, im, ...) in GCC/Clang vectors, for the length-20
// codelet (qary_fft_kernels.inc defines Packed<T> on them for each instruction set: 16-byte
// vectors in the baseline copy, 32-byte ones in the AVX2 copy). The `u` types load and
// store them at any complex element's address.
#if defined(__GNUC__)
#define PLMSCOPE_PACKED_COMPLEX 1
typedef double PackedD1 __attribute__((vector_size(16)));
typedef double PackedD2 __attribute__((vector_size(32)));
typedef float PackedF1 __attribute__((vector_size(8)));
typedef float PackedF2 __attribute__((vector_size(16)));
typedef float PackedF4 __attribute__((vector_size(32)));
typedef double PackedD1u __attribute__((vector_size(16), aligned(8), may_alias));
typedef double PackedD2u __attribute__((vector_size(32), aligned(8), may_alias));
typedef float PackedF1u __attribute__((vector_size(8), aligned(4), may_alias));
typedef float PackedF2u __attribute__((vector_size(16), aligned(4), may_alias));
typedef float PackedF4u __attribute__((vector_size(32), aligned(4), may_alias));
#endif

// The codelets' loops over groups never carry a dependence (see qary_fft_kernels.inc).
#if defined(__GNUC__) && !defined(__clang__)
#define PLMSCOPE_NO_ALIAS_LOOP _Pragma("GCC ivdep")
#elif defined(__clang__)
#define PLMSCOPE_NO_ALIAS_LOOP _Pragma("clang loop vectorize(assume_safety)")
#else
#define PLMSCOPE_NO_ALIAS_LOOP
#endif

#define PLMSCOPE_PACKED_BYTES 16
namespace baseline {
#include "qary_fft_kernels.inc"
}  // namespace baseline
#undef PLMSCOPE_PACKED_BYTES

// More copies of the kernels, chosen at run time, so wheels stay portable (no -march) and
// still use wide vectors where the CPU has them: AVX2 for everything, and AVX-512 for the
// real Walsh-Hadamard transform. AVX2 without FMA: GCC would contract a * b + c into FMAs
// and the copies would no longer agree bit for bit (tests/cpp/test_qary_fft.cpp checks that
// they do). AVX-512 only for the Hadamard transform, which has no products to contract
// (AVX-512F has its own FMAs, and GCC 12 forms vfmaddsub from complex products even under
// -ffp-contract=off).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define PLMSCOPE_X86_KERNELS 1
#pragma GCC push_options
#pragma GCC target("avx2")
#define PLMSCOPE_PACKED_BYTES 32
namespace avx2 {
#include "qary_fft_kernels.inc"
}  // namespace avx2
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f")
#define PLMSCOPE_KERNELS_REAL_ONLY 1
namespace avx512 {
#include "qary_fft_kernels.inc"
}  // namespace avx512
#undef PLMSCOPE_KERNELS_REAL_ONLY
#undef PLMSCOPE_PACKED_BYTES
#pragma GCC pop_options
#endif

#ifdef PLMSCOPE_X86_KERNELS
#define PLMSCOPE_DISPATCH(fn, ...) \
  (simd_level() >= Simd::Avx2 ? avx2::fn(__VA_ARGS__) : baseline::fn(__VA_ARGS__))
#define PLMSCOPE_DISPATCH_REAL(fn, ...)                                  \
  (simd_level() == Simd::Avx512 ? avx512::fn(__VA_ARGS__)                \
   : simd_level() == Simd::Avx2 ? avx2::fn(__VA_ARGS__) : baseline::fn(__VA_ARGS__))
#else
#define PLMSCOPE_DISPATCH(fn, ...) baseline::fn(__VA_ARGS__)
#define PLMSCOPE_DISPATCH_REAL(fn, ...) baseline::fn(__VA_ARGS__)
#endif

void execute(const Plan<std::complex<double>>& plan, std::complex<double>* data,
             std::int64_t batch, int nthreads) {
  PLMSCOPE_DISPATCH(execute_c128, plan, data, batch, nthreads);
}
void execute(const Plan<std::complex<float>>& plan, std::complex<float>* data,
             std::int64_t batch, int nthreads) {
  PLMSCOPE_DISPATCH(execute_c64, plan, data, batch, nthreads);
}
void execute(const Plan<double>& plan, double* data, std::int64_t batch, int nthreads) {
  PLMSCOPE_DISPATCH_REAL(execute_f64, plan, data, batch, nthreads);
}
void execute(const Plan<float>& plan, float* data, std::int64_t batch, int nthreads) {
  PLMSCOPE_DISPATCH_REAL(execute_f32, plan, data, batch, nthreads);
}

void execute(const Plan<std::complex<double>>& plan, const std::complex<double>* src,
             std::complex<double>* data, std::int64_t batch, int nthreads) {
  PLMSCOPE_DISPATCH(execute_copy_c128, plan, src, data, batch, nthreads);
}
void execute(const Plan<std::complex<float>>& plan, const std::complex<float>* src,
             std::complex<float>* data, std::int64_t batch, int nthreads) {
  PLMSCOPE_DISPATCH(execute_copy_c64, plan, src, data, batch, nthreads);
}
void execute(const Plan<double>& plan, const double* src, double* data, std::int64_t batch,
             int nthreads) {
  PLMSCOPE_DISPATCH_REAL(execute_copy_f64, plan, src, data, batch, nthreads);
}
void execute(const Plan<float>& plan, const float* src, float* data, std::int64_t batch,
             int nthreads) {
  PLMSCOPE_DISPATCH_REAL(execute_copy_f32, plan, src, data, batch, nthreads);
}

void execute_gather(const Plan<std::complex<double>>& plan, std::complex<double>* data,
                    std::int64_t batch, int nthreads, const double* values,
                    std::int64_t num_values, const std::int64_t* index, double shift,
                    unsigned char* bad) {
  PLMSCOPE_DISPATCH(execute_gather_c128, plan, data, batch, nthreads, values, num_values, index,
                    shift, bad);
}

template <class E>
void check_args(const E* data, std::int64_t batch, int q, int n) {
  PLMSCOPE_CHECK(batch >= 0, "batch must be >= 0, got " << batch);
  PLMSCOPE_CHECK(data != nullptr || batch == 0, "data is null");
  (void)qary_length(q, n);
}

// src == nullptr: in place on data; else data = transform of src (rows of the same length).
template <class T>
void complex_fft(const std::complex<T>* src, std::complex<T>* data, std::int64_t batch, int q,
                 int n, bool inverse, int nthreads) {
  check_args(data, batch, q, n);
  if (batch == 0) return;
  auto plan = make_plan<std::complex<T>>(q, n, inverse, q == 2);
  std::unique_ptr<DirectDft<T>> direct;
  if (q != 2 && dft_kind(q) == Kind::Direct) {
    direct = std::make_unique<DirectDft<T>>(q, plan.sg);
    plan.direct = direct.get();
  }
  const double work = double(batch) * double(plan.len) * double(plan.digits.size() + 1) * 4;
  if (src)
    execute(plan, src, data, batch, threads_for_work(work, nthreads));
  else
    execute(plan, data, batch, threads_for_work(work, nthreads));
}

template <class T>
void real_wht(const T* src, T* data, std::int64_t batch, int n, bool inverse, int nthreads) {
  check_args(data, batch, 2, n);
  if (batch == 0) return;
  auto plan = make_plan<T>(2, n, inverse, true);
  const double work = double(batch) * double(plan.len) * double(plan.digits.size() + 1);
  if (src)
    execute(plan, src, data, batch, threads_for_work(work, nthreads));
  else
    execute(plan, data, batch, threads_for_work(work, nthreads));
}

}  // namespace

void qary_fft(std::complex<double>* data, std::int64_t batch, int q, int n, bool inverse,
              int nthreads) {
  complex_fft<double>(nullptr, data, batch, q, n, inverse, nthreads);
}
void qary_fft(std::complex<float>* data, std::int64_t batch, int q, int n, bool inverse,
              int nthreads) {
  complex_fft<float>(nullptr, data, batch, q, n, inverse, nthreads);
}
void walsh_hadamard(double* data, std::int64_t batch, int n, bool inverse, int nthreads) {
  real_wht<double>(nullptr, data, batch, n, inverse, nthreads);
}
void walsh_hadamard(float* data, std::int64_t batch, int n, bool inverse, int nthreads) {
  real_wht<float>(nullptr, data, batch, n, inverse, nthreads);
}
void qary_fft(const std::complex<double>* in, std::complex<double>* out, std::int64_t batch,
              int q, int n, bool inverse, int nthreads) {
  PLMSCOPE_CHECK(in != nullptr || batch == 0, "input is null");
  complex_fft<double>(in, out, batch, q, n, inverse, nthreads);
}
void qary_fft(const std::complex<float>* in, std::complex<float>* out, std::int64_t batch,
              int q, int n, bool inverse, int nthreads) {
  PLMSCOPE_CHECK(in != nullptr || batch == 0, "input is null");
  complex_fft<float>(in, out, batch, q, n, inverse, nthreads);
}
void walsh_hadamard(const double* in, double* out, std::int64_t batch, int n, bool inverse,
                    int nthreads) {
  PLMSCOPE_CHECK(in != nullptr || batch == 0, "input is null");
  real_wht<double>(in, out, batch, n, inverse, nthreads);
}
void walsh_hadamard(const float* in, float* out, std::int64_t batch, int n, bool inverse,
                    int nthreads) {
  PLMSCOPE_CHECK(in != nullptr || batch == 0, "input is null");
  real_wht<float>(in, out, batch, n, inverse, nthreads);
}

void qary_fft_gather(const double* values, std::int64_t num_values, const std::int64_t* index,
                     double shift, std::int64_t rows, std::int64_t inner, int q, int n,
                     std::complex<double>* out, int nthreads) {
  PLMSCOPE_CHECK(rows >= 0, "rows must be >= 0, got " << rows);
  PLMSCOPE_CHECK(num_values >= 0, "num_values must be >= 0, got " << num_values);
  auto plan = make_plan<std::complex<double>>(q, n, false, q == 2, inner);
  if (rows == 0) return;
  PLMSCOPE_CHECK(out && index && (values || num_values == 0), "null array");
  std::unique_ptr<DirectDft<double>> direct;
  if (q != 2 && dft_kind(q) == Kind::Direct) {
    direct = std::make_unique<DirectDft<double>>(q, plan.sg);
    plan.direct = direct.get();
  }
  const double work = double(rows) * double(plan.len) * double(plan.digits.size() + 1) * 4;
  std::vector<unsigned char> bad(rows * (plan.len / plan.block), 0);
  execute_gather(plan, out, rows, threads_for_work(work, nthreads), values, num_values, index,
                 shift, bad.data());
  if (std::find(bad.begin(), bad.end(), 1) == bad.end()) return;
  const std::int64_t total = rows * plan.len;  // = the number of indices
  for (std::int64_t i = 0; i < total; ++i)
    PLMSCOPE_CHECK(index[i] >= 0 && index[i] < num_values,
                   "index must hold positions in [0, " << num_values << "), got " << index[i]
                                                       << " at flat entry " << i);
}

}  // namespace plmscope
