// Covariance, unit-vector sums and pair distances for embedding geometry.
//
// The covariance kernel is a symmetric rank-n update (SYRK) that computes only the upper
// triangle, so it does half the multiply-adds of a general matrix product. Rows are packed
// 256 at a time into column panels (shift subtracted, zero padded), products of one block
// are summed in float32 registers and each finished tile is added to the float64 scatter.
// The instruction set is chosen once at run time, so portable builds still use AVX-512.
#include "plmscope/similarity.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "covariance_strassen.h"
#include "plmscope/check.h"
#include "plmscope/parallel.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define PLMSCOPE_X86_DISPATCH 1
#include <immintrin.h>
#endif

namespace plmscope {

namespace {

constexpr std::int64_t kRowBlock = 256;   // rows per float32 partial sum
constexpr int kMaxTile = 8 * 48;          // largest rows x width of a register tile
constexpr std::int64_t kMaxSumBlocks = 256;  // partial sums of unit_sum_accumulate

// A register tile: T[r][c] = sum_k A[k * width + r] * B[k * width + c] over kc packed rows,
// r < rows, for the columns c of vectors [v0, v1) (vec floats each) only, so tiles on the
// diagonal skip vectors wholly below it and the last panel skips its padding. A and B point
// into panels of `width` floats per row. With dst set, the tile is added in float64 to
// dst[r * ld + c] straight from the registers; otherwise it is stored to
// spill[r * width + c] for a masked flush (tiles crossing the diagonal or the edge).
using TileKernel = void (*)(const float* A, const float* B, std::int64_t kc, int v0, int v1,
                            double* dst, std::int64_t ld, float* spill);

struct TileShape {
  int width;  // floats per packed row of a panel (columns of a tile)
  int rows;   // rows of a tile; divides width so a tile's rows lie in one panel
  int vec;    // floats per vector: columns are computed in whole vectors
  TileKernel kernel;
  const char* isa;
};

void tile_generic(const float* A, const float* B, std::int64_t kc, int v0, int v1,
                  double* dst, std::int64_t ld, float* spill) {
  constexpr int W = 16, R = 4;  // one "vector" of 16: v0 = 0, v1 = 1
  (void)v0;
  (void)v1;
  float acc[R][W] = {};
  for (std::int64_t k = 0; k < kc; ++k) {
    const float* a = A + k * W;
    const float* b = B + k * W;
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < W; ++c) acc[r][c] += a[r] * b[c];
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < W; ++c) {
      if (dst)
        dst[r * ld + c] += acc[r][c];
      else
        spill[r * W + c] = acc[r][c];
    }
}

// Calls body.template operator()<V0, V1>() for the runtime vector range of a 3-vector tile.
template <class Body>
inline void dispatch_vectors(int v0, int v1, Body&& body) {
  switch (v0 * 4 + v1) {
    case 1: return body.template operator()<0, 1>();
    case 2: return body.template operator()<0, 2>();
    case 6: return body.template operator()<1, 2>();
    case 7: return body.template operator()<1, 3>();
    case 11: return body.template operator()<2, 3>();
    default: return body.template operator()<0, 3>();
  }
}

#ifdef PLMSCOPE_X86_DISPATCH
template <int V0, int V1>
__attribute__((target("avx2,fma"), always_inline)) inline void tile_avx2_range(
    const float* A, const float* B, std::int64_t kc, double* dst, std::int64_t ld,
    float* spill) {
  constexpr int W = 24, R = 4;  // 12 accumulators + 3 B vectors + 1 broadcast = 16 ymm
  __m256 acc[R][3];
  for (int r = 0; r < R; ++r)
    for (int v = V0; v < V1; ++v) acc[r][v] = _mm256_setzero_ps();
  for (std::int64_t k = 0; k < kc; ++k) {
    const float* b = B + k * W;
    __m256 bv[3];
    for (int v = V0; v < V1; ++v) bv[v] = _mm256_loadu_ps(b + 8 * v);
    const float* a = A + k * W;
    for (int r = 0; r < R; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + r);
      for (int v = V0; v < V1; ++v) acc[r][v] = _mm256_fmadd_ps(ar, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = V0; v < V1; ++v) {
      if (!dst) {
        _mm256_storeu_ps(spill + r * W + 8 * v, acc[r][v]);
        continue;
      }
      double* d = dst + r * ld + 8 * v;
      const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(acc[r][v]));
      const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(acc[r][v], 1));
      _mm256_storeu_pd(d, _mm256_add_pd(_mm256_loadu_pd(d), lo));
      _mm256_storeu_pd(d + 4, _mm256_add_pd(_mm256_loadu_pd(d + 4), hi));
    }
}

struct Avx2Body {
  const float *A, *B;
  std::int64_t kc;
  double* dst;
  std::int64_t ld;
  float* spill;
  template <int V0, int V1>
  __attribute__((target("avx2,fma"))) void operator()() const {
    tile_avx2_range<V0, V1>(A, B, kc, dst, ld, spill);
  }
};

__attribute__((target("avx2,fma"))) void tile_avx2(const float* A, const float* B,
                                                     std::int64_t kc, int v0, int v1,
                                                     double* dst, std::int64_t ld,
                                                     float* spill) {
  dispatch_vectors(v0, v1, Avx2Body{A, B, kc, dst, ld, spill});
}

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on _mm512_undefined_* (GCC bug
// 105593, fixed in 13); the warning is about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
template <int V0, int V1>
__attribute__((target("avx512f"), always_inline)) inline void tile_avx512_range(
    const float* A, const float* B, std::int64_t kc, double* dst, std::int64_t ld,
    float* spill) {
  constexpr int W = 48, R = 8;  // 24 accumulators + 3 B vectors + 1 broadcast of 32 zmm
  __m512 acc[R][3];
  for (int r = 0; r < R; ++r)
    for (int v = V0; v < V1; ++v) acc[r][v] = _mm512_setzero_ps();
  for (std::int64_t k = 0; k < kc; ++k) {
    const float* b = B + k * W;
    __m512 bv[3];
    for (int v = V0; v < V1; ++v) bv[v] = _mm512_loadu_ps(b + 16 * v);
    const float* a = A + k * W;
    for (int r = 0; r < R; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r]);
      for (int v = V0; v < V1; ++v) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = V0; v < V1; ++v) {
      if (!dst) {
        _mm512_storeu_ps(spill + r * W + 16 * v, acc[r][v]);
        continue;
      }
      double* d = dst + r * ld + 16 * v;
      const __m512 t = acc[r][v];
      const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(t));
      const __m512d hi = _mm512_cvtps_pd(
          _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1)));
      _mm512_storeu_pd(d, _mm512_add_pd(_mm512_loadu_pd(d), lo));
      _mm512_storeu_pd(d + 8, _mm512_add_pd(_mm512_loadu_pd(d + 8), hi));
    }
}

struct Avx512Body {
  const float *A, *B;
  std::int64_t kc;
  double* dst;
  std::int64_t ld;
  float* spill;
  template <int V0, int V1>
  __attribute__((target("avx512f"))) void operator()() const {
    tile_avx512_range<V0, V1>(A, B, kc, dst, ld, spill);
  }
};

__attribute__((target("avx512f"))) void tile_avx512(const float* A, const float* B,
                                                      std::int64_t kc, int v0, int v1,
                                                      double* dst, std::int64_t ld,
                                                      float* spill) {
  dispatch_vectors(v0, v1, Avx512Body{A, B, kc, dst, ld, spill});
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

constexpr TileShape kGeneric{16, 4, 16, tile_generic, "generic"};
#ifdef PLMSCOPE_X86_DISPATCH
constexpr TileShape kAvx2{24, 4, 8, tile_avx2, "avx2"};
constexpr TileShape kAvx512{48, 8, 16, tile_avx512, "avx512"};
#endif

bool cpu_has(const std::string& isa) {
  if (isa == "generic") return true;
#ifdef PLMSCOPE_X86_DISPATCH
  __builtin_cpu_init();
  if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == "avx512") return __builtin_cpu_supports("avx512f");
#endif
  return false;
}

const TileShape* best_tile_shape() {
#ifdef PLMSCOPE_X86_DISPATCH
  if (cpu_has("avx512")) return &kAvx512;
  if (cpu_has("avx2")) return &kAvx2;
#endif
  return &kGeneric;
}

std::atomic<const TileShape*> current_shape{nullptr};

const TileShape& tile_shape() {
  const TileShape* s = current_shape.load();
  if (!s) {
    s = best_tile_shape();
    current_shape.store(s);
  }
  return *s;
}

// Threads worth starting for `work` multiply-adds: a parallel region costs microseconds,
// or a scheduler time slice when the machine is busy, so small calls stay on one thread.
int threads_for(double work, int nthreads) {
  constexpr double kWorkPerThread = 1 << 20;
  const int most = resolve_threads(nthreads);
  return static_cast<int>(std::max(1.0, std::min<double>(most, work / kWorkPerThread)));
}

void check_sizes(std::int64_t n, std::int64_t d, const char* what) {
  PLMSCOPE_CHECK(n >= 0, what << ": the number of rows must be >= 0, got n=" << n);
  PLMSCOPE_CHECK(d >= 0, what << ": the dimension must be >= 0, got d=" << d);
  PLMSCOPE_CHECK(d == 0 || n <= std::numeric_limits<std::int64_t>::max() / d,
                 what << ": n*d overflows int64 for n=" << n << ", d=" << d);
}

void covariance_accumulate_impl(const float* x, std::int64_t n, std::int64_t d,
                                const double* shift, double* sum, double* scatter,
                                int nthreads) {
  const TileShape& ts = tile_shape();
  const std::int64_t W = ts.width, R = ts.rows, V = ts.vec;
  const std::int64_t panels = (d + W - 1) / W;
  const std::int64_t block = std::min(kRowBlock, n);
  const int threads = static_cast<int>(std::min<std::int64_t>(
      threads_for(0.5 * double(n) * double(d) * double(d), nthreads), panels));
  // Work per panel: its strips above the diagonal, each over its vectors [v0, v1).
  std::vector<double> cost(panels, 0.0);
  for (std::int64_t q = 0; q < panels; ++q) {
    const std::int64_t j0 = q * W, v1 = (std::min(W, d - j0) + V - 1) / V;
    for (std::int64_t i0 = 0; i0 < std::min(d, j0 + W); i0 += R)
      cost[q] += v1 - std::max<std::int64_t>(0, i0 - j0) / V;
  }
  const auto owned = balance_by_cost(cost, threads);
  std::vector<float> shift32(panels * W, 0.0f);
  for (std::int64_t j = 0; j < d; ++j) shift32[j] = static_cast<float>(shift[j]);
  // One parallel region and no barriers: each thread packs every row block itself (O(n d),
  // small next to its O(n d^2 / 2T) share) so a descheduled thread never stalls the others.
  parallel_for(threads, threads, [&](std::int64_t t, int) {
    const auto& mine = owned[t];
    if (mine.empty()) return;
    // panels 0..max owned hold every A strip this thread reads
    const std::int64_t needed = *std::max_element(mine.begin(), mine.end()) + 1;
    std::vector<float> packed(static_cast<std::size_t>(needed * block * W));
    std::vector<double> colsum(static_cast<std::size_t>(needed * W), 0.0);
    std::vector<float> blocksum(static_cast<std::size_t>(needed * W));
    std::vector<char> is_mine(needed, 0);
    for (const std::int64_t q : mine) is_mine[q] = 1;
    std::array<float, kMaxTile> spill;
    for (std::int64_t r0 = 0; r0 < n; r0 += block) {
      const std::int64_t kc = std::min(block, n - r0);
      std::fill(blocksum.begin(), blocksum.end(), 0.0f);
      for (std::int64_t k = 0; k < kc; ++k) {
        const float* src = x + (r0 + k) * d;
        for (std::int64_t p = 0; p < needed; ++p) {
          float* row = packed.data() + (p * block + k) * W;
          const float* sh = shift32.data() + p * W;
          const std::int64_t j0 = p * W, w = std::min(W, d - j0);
          for (std::int64_t c = 0; c < w; ++c) row[c] = src[j0 + c] - sh[c];
          for (std::int64_t c = w; c < W; ++c) row[c] = 0.0f;
          if (is_mine[p]) {
            float* bs = blocksum.data() + p * W;
            for (std::int64_t c = 0; c < W; ++c) bs[c] += row[c];
          }
        }
      }
      for (const std::int64_t q : mine)
        for (std::int64_t c = 0; c < W; ++c) colsum[q * W + c] += blocksum[q * W + c];
      for (const std::int64_t q : mine) {
        const std::int64_t j0 = q * W;
        const int v1 = static_cast<int>((std::min(W, d - j0) + V - 1) / V);  // skip padding
        const float* B = packed.data() + q * block * W;
        for (std::int64_t i0 = 0; i0 < std::min(d, j0 + W); i0 += R) {
          const float* A = packed.data() + (i0 / W) * block * W + (i0 % W);
          // Vectors wholly left of the diagonal hold no upper-triangle entry of these rows.
          const int v0 = static_cast<int>(std::max<std::int64_t>(0, i0 - j0) / V);
          const std::int64_t c0 = v0 * V, c1 = v1 * V;
          if (i0 + R - 1 <= j0 + c0 && j0 + c1 <= d) {  // wholly in the upper triangle
            ts.kernel(A, B, kc, v0, v1, scatter + i0 * d + j0, d, nullptr);
            continue;
          }
          ts.kernel(A, B, kc, v0, v1, nullptr, 0, spill.data());
          for (std::int64_t r = 0; r < R && i0 + r < d; ++r) {
            const std::int64_t i = i0 + r;
            double* out = scatter + i * d;
            const std::int64_t hi = std::min(c1, d - j0);
            for (std::int64_t c = std::max(c0, i - j0); c < hi; ++c)
              out[j0 + c] += spill[r * W + c];
          }
        }
      }
    }
    for (const std::int64_t q : mine)
      for (std::int64_t c = 0; c < W && q * W + c < d; ++c) sum[q * W + c] += colsum[q * W + c];
  });
}

template <class T>
double squared_norm(const T* v, std::int64_t d) {
  // Four partial sums: independent chains the compiler can pipeline.
  double s[4] = {0.0, 0.0, 0.0, 0.0};
  std::int64_t j = 0;
  for (; j + 4 <= d; j += 4)
    for (int t = 0; t < 4; ++t) s[t] += static_cast<double>(v[j + t]) * v[j + t];
  for (; j < d; ++j) s[0] += static_cast<double>(v[j]) * v[j];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

template <class T>
void unit_sum_impl(const T* x, std::int64_t n, std::int64_t d, double* unit_sum, int nthreads) {
  if (n == 0 || d == 0) {
    PLMSCOPE_CHECK(n == 0, "row 0 has norm 0: the cosine of a zero vector is undefined; "
                           "drop zero rows first");
    return;
  }
  // The block layout depends on n only, so the sum's rounding does not depend on threads.
  const std::int64_t blocks = std::min(kMaxSumBlocks, n);
  const std::int64_t rows = (n + blocks - 1) / blocks;
  std::vector<double> partial(static_cast<std::size_t>(blocks * d), 0.0);
  std::vector<std::int64_t> zero_row(blocks, -1);
  parallel_for(blocks, threads_for(2.0 * double(n) * double(d), nthreads), [&](std::int64_t b, int) {
    double* acc = partial.data() + b * d;
    for (std::int64_t i = b * rows; i < std::min(n, (b + 1) * rows); ++i) {
      const T* xi = x + i * d;
      const double norm2 = squared_norm(xi, d);
      if (!(norm2 > 0.0)) {
        zero_row[b] = i;
        return;
      }
      const double inv = 1.0 / std::sqrt(norm2);
      for (std::int64_t j = 0; j < d; ++j) acc[j] += xi[j] * inv;
    }
  });
  for (std::int64_t b = 0; b < blocks; ++b)
    PLMSCOPE_CHECK(zero_row[b] < 0, "row " << zero_row[b] << " has norm "
                   << std::sqrt(squared_norm(x + zero_row[b] * d, d))
                   << ": the cosine of a zero (or non-finite) vector is undefined; drop such "
                      "rows first");
  for (std::int64_t b = 0; b < blocks; ++b)
    for (std::int64_t j = 0; j < d; ++j) unit_sum[j] += partial[b * d + j];
}

template <class T>
void pair_similarity_impl(const T* x, std::int64_t n, std::int64_t d, const std::int64_t* pairs,
                          std::int64_t npairs, double* cosine, double* sqdist, int nthreads) {
  PLMSCOPE_CHECK(npairs >= 0, "npairs must be >= 0, got " << npairs);
  for (std::int64_t p = 0; p < 2 * npairs; ++p)
    PLMSCOPE_CHECK(pairs[p] >= 0 && pairs[p] < n, "pairs[" << p / 2 << ", " << p % 2 << "] = "
                   << pairs[p] << " is not a row index in [0, n=" << n << ")");
  constexpr std::int64_t kPairBlock = 256;
  const std::int64_t blocks = (npairs + kPairBlock - 1) / kPairBlock;
  std::vector<std::int64_t> zero_pair(blocks, -1);
  parallel_for(blocks, threads_for(4.0 * double(npairs) * double(d), nthreads),
               [&](std::int64_t blk, int) {
    for (std::int64_t p = blk * kPairBlock; p < std::min(npairs, (blk + 1) * kPairBlock); ++p) {
      const T* a = x + pairs[2 * p] * d;
      const T* b = x + pairs[2 * p + 1] * d;
      double aa[4] = {}, bb[4] = {}, ab[4] = {}, dd[4] = {};
      std::int64_t j = 0;
      for (; j + 4 <= d; j += 4)
        for (int t = 0; t < 4; ++t) {
          const double u = a[j + t], v = b[j + t], w = u - v;
          aa[t] += u * u;
          bb[t] += v * v;
          ab[t] += u * v;
          dd[t] += w * w;
        }
      for (; j < d; ++j) {
        const double u = a[j], v = b[j], w = u - v;
        aa[0] += u * u;
        bb[0] += v * v;
        ab[0] += u * v;
        dd[0] += w * w;
      }
      const double na = (aa[0] + aa[1]) + (aa[2] + aa[3]);
      const double nb = (bb[0] + bb[1]) + (bb[2] + bb[3]);
      if (sqdist) sqdist[p] = (dd[0] + dd[1]) + (dd[2] + dd[3]);
      if (cosine) {
        if (!(na > 0.0 && nb > 0.0)) {
          if (zero_pair[blk] < 0) zero_pair[blk] = p;
          cosine[p] = std::numeric_limits<double>::quiet_NaN();
          continue;
        }
        cosine[p] = ((ab[0] + ab[1]) + (ab[2] + ab[3])) / std::sqrt(na * nb);
      }
    }
  });
  for (std::int64_t blk = 0; blk < blocks; ++blk)
    PLMSCOPE_CHECK(zero_pair[blk] < 0,
                   "pair " << zero_pair[blk] << " (rows " << pairs[2 * zero_pair[blk]] << ", "
                   << pairs[2 * zero_pair[blk] + 1] << ") has a row of norm 0 (or non-finite): "
                      "its cosine is undefined; drop zero rows first");
}

template <class T>
void unit_sum_entry(const T* x, std::int64_t n, std::int64_t d, double* unit_sum,
                    int nthreads) {
  check_sizes(n, d, "unit_sum_accumulate");
  PLMSCOPE_CHECK(n == 0 || (x && unit_sum), "unit_sum_accumulate: null array pointer");
  unit_sum_impl(x, n, d, unit_sum, nthreads);
}

template <class T>
void pair_entry(const T* x, std::int64_t n, std::int64_t d, const std::int64_t* pairs,
                std::int64_t npairs, double* cosine, double* sqdist, int nthreads) {
  check_sizes(n, d, "pair_similarity");
  if (npairs == 0) return;
  PLMSCOPE_CHECK(x && pairs, "pair_similarity: null array pointer");
  pair_similarity_impl(x, n, d, pairs, npairs, cosine, sqdist, nthreads);
}

}  // namespace

void covariance_accumulate(const float* x, std::int64_t n, std::int64_t d, const double* shift,
                           double* sum, double* scatter, int nthreads) {
  check_sizes(n, d, "covariance_accumulate");
  if (n == 0 || d == 0) return;
  PLMSCOPE_CHECK(x && shift && sum && scatter, "covariance_accumulate: null array pointer");
  // Whole 512-row steps take the Strassen path when it saves work for this d; the rest
  // (and every row when it does not) the plain upper-triangle kernel.
  const std::int64_t steps = n / detail::kStrassenStep;
  if (steps > 0) {
    std::vector<float> shift32(d);
    for (std::int64_t j = 0; j < d; ++j) shift32[j] = static_cast<float>(shift[j]);
    const int threads = threads_for(0.5 * double(n) * double(d) * double(d), nthreads);
    if (detail::covariance_strassen(x, steps, d, shift32.data(), sum, scatter, threads,
                                    tile_shape().isa)) {
      x += steps * detail::kStrassenStep * d;
      n -= steps * detail::kStrassenStep;
    }
  }
  if (n > 0) covariance_accumulate_impl(x, n, d, shift, sum, scatter, nthreads);
}

CovarianceMoments covariance_moments(const double* scatter, const double* sum, std::int64_t d,
                                     std::int64_t m) {
  check_sizes(m, d, "covariance_moments");
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

void unit_sum_accumulate(const float* x, std::int64_t n, std::int64_t d, double* unit_sum,
                         int nthreads) {
  unit_sum_entry(x, n, d, unit_sum, nthreads);
}
void unit_sum_accumulate(const double* x, std::int64_t n, std::int64_t d, double* unit_sum,
                         int nthreads) {
  unit_sum_entry(x, n, d, unit_sum, nthreads);
}

void pair_similarity(const float* x, std::int64_t n, std::int64_t d, const std::int64_t* pairs,
                     std::int64_t npairs, double* cosine, double* sqdist, int nthreads) {
  pair_entry(x, n, d, pairs, npairs, cosine, sqdist, nthreads);
}
void pair_similarity(const double* x, std::int64_t n, std::int64_t d,
                     const std::int64_t* pairs, std::int64_t npairs, double* cosine,
                     double* sqdist, int nthreads) {
  pair_entry(x, n, d, pairs, npairs, cosine, sqdist, nthreads);
}

const char* covariance_kernel_isa() { return tile_shape().isa; }

double covariance_work_ratio(std::int64_t d) {
  return detail::covariance_strassen_work(d, tile_shape().isa);
}

void set_covariance_kernel_isa(const char* isa) {
  const std::string name = isa ? isa : "";
  if (name == "best") {
    current_shape.store(best_tile_shape());
    return;
  }
  PLMSCOPE_CHECK(name == "generic" || name == "avx2" || name == "avx512",
                 "isa must be 'avx512', 'avx2', 'generic' or 'best', got '" << name << "'");
  PLMSCOPE_CHECK(cpu_has(name), "this CPU (or build) cannot run the '" << name << "' kernel");
#ifdef PLMSCOPE_X86_DISPATCH
  if (name == "avx512") return current_shape.store(&kAvx512);
  if (name == "avx2") return current_shape.store(&kAvx2);
#endif
  current_shape.store(&kGeneric);
}

}  // namespace plmscope
