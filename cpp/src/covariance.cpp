// covariance_accumulate: the upper triangle of the scatter X^T X (X: the shifted rows) and
// the column sums, from float32 rows into float64 accumulators.
//
// Rows go a block of 256 at a time: packed into panels (shift subtracted), then register
// tiles sum their products in float32 over the block and add them to the float64 scatter.
// Only the upper triangle is computed: half the multiply-adds of a general product. The
// block program (covariance_kernels.inc) is written once and compiled for baseline x86-64
// (or the target's own vectors), AVX2+FMA and AVX-512; the widest the CPU has is used, capped
// by PLMSCOPE_SIMD (plmscope/simd.h), so portable wheels still use wide vectors.
#include <algorithm>
#include <cmath>
#include <vector>

#include "plmscope/check.h"
#include "plmscope/parallel.h"
#include "plmscope/similarity.h"
#include "plmscope/simd.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define PLMSCOPE_X86_KERNELS 1
#include <immintrin.h>
#endif

namespace plmscope {

namespace {

constexpr std::int64_t kBlock = 256;  // rows per float32 sum

namespace baseline {
using V = float __attribute__((vector_size(16)));
constexpr int kVec = 4, kRows = 4, kVecs = 2;
inline V fmadd(V a, V b, V c) { return a * b + c; }
#include "covariance_kernels.inc"
}  // namespace baseline

#ifdef PLMSCOPE_X86_KERNELS
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
using V = __m256;
constexpr int kVec = 8, kRows = 4, kVecs = 2;  // 8 accumulators + 2 B vectors + 1 broadcast
inline V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
#include "covariance_kernels.inc"
}  // namespace avx2
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f")
namespace avx512 {
using V = __m512;
constexpr int kVec = 16, kRows = 8, kVecs = 2;  // 16 accumulators + 2 B vectors + 1 broadcast
inline V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
#include "covariance_kernels.inc"
}  // namespace avx512
#pragma GCC pop_options
#endif

struct Kernel {
  std::int64_t width;  // panel width
  void (*pack)(const float*, std::int64_t, std::int64_t, const float*, std::int64_t, float*,
               float*);
  void (*block_product)(const float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                        double*);
};

Kernel kernel() {
#ifdef PLMSCOPE_X86_KERNELS
  switch (simd_level()) {
    case Simd::Avx512: return {avx512::kW, avx512::pack, avx512::block_product};
    case Simd::Avx2: return {avx2::kW, avx2::pack, avx2::block_product};
    default: break;
  }
#endif
  return {baseline::kW, baseline::pack, baseline::block_product};
}

// Panel boundaries of `shares` contiguous column ranges of about equal work: columns up to
// panel P cost ~P^2 (the triangle), so share s ends near panels * sqrt((s + 1) / shares).
std::vector<std::int64_t> share_bounds(std::int64_t panels, int shares) {
  std::vector<std::int64_t> bounds(static_cast<std::size_t>(shares) + 1, 0);
  for (int s = 1; s <= shares; ++s) {
    const auto b = static_cast<std::int64_t>(
        std::llround(double(panels) * std::sqrt(double(s) / double(shares))));
    bounds[s] = std::clamp<std::int64_t>(b, bounds[s - 1] + 1, panels - (shares - s));
  }
  bounds[shares] = panels;
  return bounds;
}

}  // namespace

void covariance_accumulate(const float* x, std::int64_t n, std::int64_t d, const double* shift,
                           double* sum, double* scatter, int nthreads) {
  check_rows(n, d, "covariance_accumulate");
  if (n == 0 || d == 0) return;
  PLMSCOPE_CHECK(x && shift && sum && scatter, "covariance_accumulate: null array pointer");
  const Kernel k = kernel();
  const std::int64_t panels = (d + k.width - 1) / k.width;
  const int shares = static_cast<int>(std::min<std::int64_t>(
      threads_for_share(0.5 * double(n) * double(d) * double(d), nthreads), panels));
  const std::vector<std::int64_t> bounds = share_bounds(panels, shares);
  std::vector<float> shift32(d);
  for (std::int64_t j = 0; j < d; ++j) shift32[j] = static_cast<float>(shift[j]);
  std::vector<double> colsum(d, 0.0);
  // Each thread packs the panels its shares read (columns up to their last panel) and never
  // waits for another: on a busy machine a descheduled thread stalls no one. A team smaller
  // than asked (thread limits) takes several shares per thread.
  parallel_team(shares, [&](int t, int team) {
    std::int64_t need = 0;
    bool sums = false;  // the thread of the last share packs every column: it sums them
    for (int s = t; s < shares; s += team) {
      need = std::max(need, bounds[s + 1]);
      sums = sums || s == shares - 1;
    }
    if (need == 0) return;
    std::vector<float> packed(static_cast<std::size_t>(need * k.width * kBlock));
    std::vector<float> block_sum(sums ? static_cast<std::size_t>(d) : 0);
    for (std::int64_t row = 0; row < n; row += kBlock) {
      const std::int64_t kc = std::min(kBlock, n - row);
      k.pack(x + row * d, kc, d, shift32.data(), need * k.width, packed.data(),
             sums ? block_sum.data() : nullptr);
      for (std::int64_t j = 0; sums && j < d; ++j) colsum[j] += block_sum[j];
      for (int s = t; s < shares; s += team)
        k.block_product(packed.data(), kc, d, bounds[s], bounds[s + 1], scatter);
    }
  });
  for (std::int64_t j = 0; j < d; ++j) sum[j] += colsum[j];
}

CovarianceMoments covariance_moments(const double* scatter, const double* sum, std::int64_t d,
                                     std::int64_t m) {
  check_rows(m, d, "covariance_moments");
  PLMSCOPE_CHECK(m >= 2, "covariance_moments needs at least 2 rows, got m=" << m);
  PLMSCOPE_CHECK(d == 0 || (scatter && sum), "covariance_moments: null array pointer");
  const double inv_m = 1.0 / static_cast<double>(m), inv_m1 = 1.0 / static_cast<double>(m - 1);
  double trace = 0.0, diag2 = 0.0, off2 = 0.0;
  for (std::int64_t i = 0; i < d; ++i) {
    const double* row = scatter + i * d;
    const double si = sum[i] * inv_m;
    const double c = (row[i] - si * sum[i]) * inv_m1;
    trace += c;
    diag2 += c * c;
    double acc[4] = {0.0, 0.0, 0.0, 0.0};  // independent chains the compiler can pipeline
    std::int64_t j = i + 1;
    for (; j + 4 <= d; j += 4)
      for (int t = 0; t < 4; ++t) {
        const double v = row[j + t] - si * sum[j + t];
        acc[t] += v * v;
      }
    for (; j < d; ++j) {
      const double v = row[j] - si * sum[j];
      acc[0] += v * v;
    }
    off2 += (acc[0] + acc[1]) + (acc[2] + acc[3]);
  }
  return {trace, diag2 + 2.0 * off2 * inv_m1 * inv_m1};
}

}  // namespace plmscope
