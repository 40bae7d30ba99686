// covariance_accumulate: the upper triangle of the scatter X^T X (X: the shifted rows) and
// the column sums, from float32 rows into float64 accumulators.
//
// Rows are packed a block at a time into panels of W columns (shift subtracted, zero
// padded); register tiles of R rows x W columns sum their products in float32 over the
// block and are added to the float64 scatter. Plain blocks (256 rows) compute the upper
// triangle tile by tile: half the multiply-adds of a general product. That already runs
// near the FMA units' peak (~85% on Zen 4), so whole steps of 1024 rows do fewer
// multiply-adds where d is large enough: the columns are split recursively (a diagonal
// block is two half-size diagonal blocks plus one off-diagonal block X_I^T X_J), and each
// off-diagonal block is done with one level of Strassen's algorithm, whose 2 x 2 split of
// the summed dimension pairs the two 512-row halves of a step: 7 products of quadrant size
// instead of 8. With three levels at d = 1024 that is 0.90 of the plain work.
//
// Accuracy: Strassen's error bound is normwise, not per entry: an entry of a quadrant
// collects the rounding of products mixing other columns. Columns of embeddings differ in
// scale by orders of magnitude (outlier dimensions), so in Strassen steps every column is
// first scaled by a power of two to unit-order root mean square (exact in float32, undone
// exactly in float64); each entry's error is then a small multiple of eps_f32
// sqrt(S_ii S_jj), as for the plain blocks. Strassen products are summed in float32 over
// 512 rows (the longer sums halve the float64 additions, ~4% of the time).
// The instruction set is chosen once at run time, so portable builds still use AVX-512.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>
#include <vector>

#include "plmscope/check.h"
#include "plmscope/parallel.h"
#include "plmscope/similarity.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define PLMSCOPE_X86_DISPATCH 1
#include <immintrin.h>
#endif

namespace plmscope {

namespace {

constexpr std::int64_t kStep = 1024;       // rows of a Strassen step: two halves
constexpr std::int64_t kBlock = 256;        // rows per float32 sum in a plain block

// Where a finished tile goes: up to two float64 blocks of the scatter (leading dimension
// ld), each with a sign. Entry (r, c) is multiplied by row_unscale[r] * col_unscale[c],
// powers of two that undo the column scaling exactly.
struct Dest {
  double* out;
  double sign;
  const double* row_unscale;
  const double* col_unscale;
};
struct TileDests {
  Dest dst[2];
  int count;
  std::int64_t ld;
};

// The B operand of a tile: first + sign * second (second may be null), pointing into
// panels of W columns at the tile's first column. Strassen's B-side sums are formed in
// registers as the tile is computed (vector adds on the pipes the multiply-adds leave
// idle); A-side sums, broadcast one float at a time, are cheaper summed once beforehand.
struct PanelSum {
  const float* first;
  const float* second;
  float sign;
};
// tile[r][c] = sum_k A[k * W + r] * B(k, c) over kc rows, B(k, c) = B.first[k * W + c]
// (+ sign B.second[...]), for the column vectors from v0 on (A points into a panel of W
// columns at the tile's first row). With spill set the tile is stored to
// spill[r * W + c]; otherwise it is added to every destination.
using Micro = void (*)(const float* A, const PanelSum& B, std::int64_t kc, int v0,
                       const TileDests* t, float* spill);

// Calls body.template operator()<V0, BM, KC>() for a tile's first vector, B-operand kind
// (BM: 0 one panel, 1 first + second, -1 first - second) and row count: KC = kc for the
// full blocks (512-row Strassen halves, 256-row plain blocks), whose known trip count the
// compiler schedules better in the intrinsics tiles (AVX2: ~30% faster), else 0 (kc at
// run time).
template <int KC, class Body>
inline void dispatch_vectors(int v0, const PanelSum& B, Body&& body) {
  if (v0) return body.template operator()<1, 0, KC>();  // leaves' diagonal tiles: no sums
  if (!B.second) return body.template operator()<0, 0, KC>();
  if (B.sign > 0) return body.template operator()<0, 1, KC>();
  return body.template operator()<0, -1, KC>();
}

template <class Body>
inline void dispatch_tile(std::int64_t kc, int v0, const PanelSum& B, Body&& body) {
  if (kc == 512) return dispatch_vectors<512>(v0, B, body);
  if (kc == 256) return dispatch_vectors<256>(v0, B, body);
  dispatch_vectors<0>(v0, B, body);
}
// Packs columns [0, len) of kc rows (shifted, scaled) into panels of W columns:
// out[(p * kc + k) * W + c] for column p W + c < m; zero beyond len. Also adds the
// shifted, unscaled column sums over the rows to colsum[0, len).
using Pack = void (*)(const float* rows, std::int64_t kc, std::int64_t d, const float* shift,
                      const float* scale, std::int64_t len, std::int64_t m, float* out,
                      float* colsum);

// out[i] = a[i] + sign * b[i]
using Combine = void (*)(const float* a, const float* b, float sign, std::int64_t count,
                         float* out);

struct Shape {
  int R, W, vec;  // tile rows, tile columns, floats per vector (W = vec or 2 vec)
  Micro micro;
  Pack pack;
  Combine combine;
  const char* isa;
};

template <int G>
[[gnu::always_inline]] inline void pack_body(const float* rows, std::int64_t kc,
                                             std::int64_t d, const float* sh, const float* sc,
                                             std::int64_t len, std::int64_t m,
                                             float* out, float* colsum) {
  for (std::int64_t k = 0; k < kc; ++k) {
    const float* src = rows + k * d;
    for (std::int64_t u0 = 0; u0 < m; u0 += G) {
      float* o = out + ((u0 / G) * kc + k) * G;
      if (u0 + G <= len) {
        for (int c = 0; c < G; ++c) o[c] = (src[u0 + c] - sh[u0 + c]) * sc[u0 + c];
        for (int c = 0; c < G; ++c) colsum[u0 + c] += src[u0 + c] - sh[u0 + c];
        continue;
      }
      for (int c = 0; c < G; ++c) {
        const std::int64_t u = u0 + c;
        if (u < len) {
          const float v = src[u] - sh[u];
          o[c] = v * sc[u];
          colsum[u] += v;
        } else {
          o[c] = 0.0f;
        }
      }
    }
  }
}

void masked_add(const float* spill, int W, std::int64_t rows, std::int64_t c_begin_row0,
                bool diagonal, std::int64_t c_begin, std::int64_t c_end, const Dest& D,
                std::int64_t ld) {
  // Rows [0, rows); columns [max(c_begin, r + c_begin_row0 on the diagonal), c_end).
  for (std::int64_t r = 0; r < rows; ++r) {
    const double rs = D.sign * D.row_unscale[r];
    const std::int64_t c0 = diagonal ? std::max(c_begin, r + c_begin_row0) : c_begin;
    double* out = D.out + r * ld;
    for (std::int64_t c = c0; c < c_end; ++c)
      out[c] += static_cast<double>(spill[r * W + c]) * (rs * D.col_unscale[c]);
  }
}

#ifdef PLMSCOPE_X86_DISPATCH
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on _mm512_undefined_* (GCC bug 105593,
// fixed in 13); the warning is about the header, not this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
template <int V0, int BM, int KC>
__attribute__((target("avx512f"), always_inline)) inline void micro512(
    const float* A, const PanelSum& Bo, std::int64_t kc_runtime, const TileDests* t,
    float* spill) {
  const std::int64_t kc = KC ? KC : kc_runtime;
  const float *B = Bo.first, *B2 = Bo.second;
  constexpr int R = 8, NV = 2, W = 32;  // 16 accumulators + 2 B vectors + 1 broadcast
  // The scatter is far larger than L2: fetch this tile's rows of it now, so they are in
  // cache when the products are added (the epilogue otherwise waits on L3).
  if (t)
    for (int e = 0; e < t->count; ++e)
      for (int r = 0; r < R; ++r)
        for (int line = 0; line < W * 8; line += 64)
          _mm_prefetch(reinterpret_cast<const char*>(t->dst[e].out + r * t->ld) + line,
                       _MM_HINT_T0);
  __m512 acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = V0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (std::int64_t k = 0; k < kc; ++k) {
    __m512 bv[NV];
    for (int v = V0; v < NV; ++v) {
      bv[v] = _mm512_loadu_ps(B + k * W + 16 * v);
      if (BM > 0) bv[v] = _mm512_add_ps(bv[v], _mm512_loadu_ps(B2 + k * W + 16 * v));
      if (BM < 0) bv[v] = _mm512_sub_ps(bv[v], _mm512_loadu_ps(B2 + k * W + 16 * v));
    }
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(A[k * W + r]);
      for (int v = V0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(a, bv[v], acc[r][v]);
    }
  }
  if (spill) {
    for (int r = 0; r < R; ++r)
      for (int v = V0; v < NV; ++v) _mm512_storeu_ps(spill + r * W + 16 * v, acc[r][v]);
    return;
  }
  for (int e = 0; e < t->count; ++e) {
    const Dest& D = t->dst[e];
    for (int v = V0; v < NV; ++v) {
      const __m512d clo = _mm512_loadu_pd(D.col_unscale + 16 * v);
      const __m512d chi = _mm512_loadu_pd(D.col_unscale + 16 * v + 8);
      for (int r = 0; r < R; ++r) {
        const __m512d rs = _mm512_set1_pd(D.sign * D.row_unscale[r]);
        const __m512 a = acc[r][v];
        const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(a));
        const __m512d hi = _mm512_cvtps_pd(
            _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
        double* p = D.out + r * t->ld + 16 * v;
        // The scale is a signed power of two, so the product is exact: one rounding, as an add.
        _mm512_storeu_pd(p, _mm512_fmadd_pd(lo, _mm512_mul_pd(rs, clo), _mm512_loadu_pd(p)));
        _mm512_storeu_pd(p + 8,
                         _mm512_fmadd_pd(hi, _mm512_mul_pd(rs, chi), _mm512_loadu_pd(p + 8)));
      }
    }
  }
}

struct Micro512Body {
  const float* A;
  const PanelSum& B;
  std::int64_t kc;
  const TileDests* t;
  float* spill;
  template <int V0, int BM, int KC>
  __attribute__((target("avx512f"))) void operator()() const {
    micro512<V0, BM, KC>(A, B, kc, t, spill);
  }
};

__attribute__((target("avx512f"))) void micro_avx512(const float* A, const PanelSum& B,
                                                       std::int64_t kc, int v0,
                                                       const TileDests* t, float* spill) {
  dispatch_tile(kc, v0, B, Micro512Body{A, B, kc, t, spill});
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

template <int V0, int BM, int KC>
__attribute__((target("avx2,fma"), always_inline)) inline void micro256(
    const float* A, const PanelSum& Bo, std::int64_t kc_runtime, const TileDests* t,
    float* spill) {
  const std::int64_t kc = KC ? KC : kc_runtime;
  const float *B = Bo.first, *B2 = Bo.second;
  constexpr int R = 4, NV = 2, W = 16;  // 8 accumulators + 2 B vectors + 1 broadcast
  __m256 acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = V0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  for (std::int64_t k = 0; k < kc; ++k) {
    __m256 bv[NV];
    for (int v = V0; v < NV; ++v) {
      bv[v] = _mm256_loadu_ps(B + k * W + 8 * v);
      if (BM > 0) bv[v] = _mm256_add_ps(bv[v], _mm256_loadu_ps(B2 + k * W + 8 * v));
      if (BM < 0) bv[v] = _mm256_sub_ps(bv[v], _mm256_loadu_ps(B2 + k * W + 8 * v));
    }
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(A + k * W + r);
      for (int v = V0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(a, bv[v], acc[r][v]);
    }
  }
  if (spill) {
    for (int r = 0; r < R; ++r)
      for (int v = V0; v < NV; ++v) _mm256_storeu_ps(spill + r * W + 8 * v, acc[r][v]);
    return;
  }
  for (int e = 0; e < t->count; ++e) {
    const Dest& D = t->dst[e];
    for (int v = V0; v < NV; ++v) {
      const __m256d clo = _mm256_loadu_pd(D.col_unscale + 8 * v);
      const __m256d chi = _mm256_loadu_pd(D.col_unscale + 8 * v + 4);
      for (int r = 0; r < R; ++r) {
        const __m256d rs = _mm256_set1_pd(D.sign * D.row_unscale[r]);
        const __m256 a = acc[r][v];
        const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(a));
        const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1));
        double* p = D.out + r * t->ld + 8 * v;
        _mm256_storeu_pd(p, _mm256_fmadd_pd(lo, _mm256_mul_pd(rs, clo), _mm256_loadu_pd(p)));
        _mm256_storeu_pd(p + 4,
                         _mm256_fmadd_pd(hi, _mm256_mul_pd(rs, chi), _mm256_loadu_pd(p + 4)));
      }
    }
  }
}

struct Micro256Body {
  const float* A;
  const PanelSum& B;
  std::int64_t kc;
  const TileDests* t;
  float* spill;
  template <int V0, int BM, int KC>
  __attribute__((target("avx2,fma"))) void operator()() const {
    micro256<V0, BM, KC>(A, B, kc, t, spill);
  }
};

__attribute__((target("avx2,fma"))) void micro_avx2(const float* A, const PanelSum& B,
                                                     std::int64_t kc, int v0,
                                                     const TileDests* t, float* spill) {
  dispatch_tile(kc, v0, B, Micro256Body{A, B, kc, t, spill});
}

#define PLMSCOPE_PACK_WRAPPER(name, isa, G)                                                   \
  __attribute__((target(isa))) void name(const float* rows, std::int64_t kc, std::int64_t d, \
                                         const float* shift, const float* scale,              \
                                         std::int64_t len, std::int64_t m, float* out,        \
                                         float* colsum) {                                     \
    pack_body<G>(rows, kc, d, shift, scale, len, m, out, colsum);                             \
  }
PLMSCOPE_PACK_WRAPPER(pack512, "avx512f", 32)
PLMSCOPE_PACK_WRAPPER(pack256, "avx2,fma", 16)
#undef PLMSCOPE_PACK_WRAPPER

__attribute__((target("avx512f"))) void combine512(const float* a, const float* b, float sign,
                                                    std::int64_t count, float* out) {
  for (std::int64_t i = 0; i < count; ++i) out[i] = a[i] + sign * b[i];
}
__attribute__((target("avx2,fma"))) void combine256(const float* a, const float* b, float sign,
                                                     std::int64_t count, float* out) {
  for (std::int64_t i = 0; i < count; ++i) out[i] = a[i] + sign * b[i];
}

constexpr Shape kAvx512{8, 32, 16, micro_avx512, pack512, combine512, "avx512"};
constexpr Shape kAvx2{4, 16, 8, micro_avx2, pack256, combine256, "avx2"};
#endif

// The portable tile: 4 x 16, one "vector" of 16 floats (no column skipping on the
// diagonal), written as loops for the compiler to vectorise.
template <int BM>
void micro_generic_body(const float* A, const PanelSum& B, std::int64_t kc,
                        const TileDests* t, float* spill) {
  constexpr int R = 4, W = 16;
  float acc[R][W] = {};
  for (std::int64_t k = 0; k < kc; ++k) {
    float b[W];
    for (int c = 0; c < W; ++c) {
      b[c] = B.first[k * W + c];
      if (BM > 0) b[c] += B.second[k * W + c];
      if (BM < 0) b[c] -= B.second[k * W + c];
    }
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < W; ++c) acc[r][c] += A[k * W + r] * b[c];
  }
  if (spill) {
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < W; ++c) spill[r * W + c] = acc[r][c];
    return;
  }
  for (int e = 0; e < t->count; ++e)
    masked_add(&acc[0][0], W, R, 0, false, 0, W, t->dst[e], t->ld);
}

struct MicroGenericBody {
  const float* A;
  const PanelSum& B;
  std::int64_t kc;
  const TileDests* t;
  float* spill;
  template <int V0, int BM, int KC>
  void operator()() const {
    // A run-time trip count here: with a fixed one GCC unrolls this plain loop instead of
    // vectorising it (4x slower).
    micro_generic_body<BM>(A, B, kc, t, spill);
  }
};

void micro_generic(const float* A, const PanelSum& B, std::int64_t kc, int /*v0: W = vec*/,
                   const TileDests* t, float* spill) {
  dispatch_tile(kc, 0, B, MicroGenericBody{A, B, kc, t, spill});
}

void pack_generic(const float* rows, std::int64_t kc, std::int64_t d, const float* shift,
                  const float* scale, std::int64_t len, std::int64_t m, float* out,
                  float* colsum) {
  pack_body<16>(rows, kc, d, shift, scale, len, m, out, colsum);
}

void combine_generic(const float* a, const float* b, float sign, std::int64_t count,
                     float* out) {
  for (std::int64_t i = 0; i < count; ++i) out[i] = a[i] + sign * b[i];
}

constexpr Shape kGeneric{4, 16, 16, micro_generic, pack_generic, combine_generic, "generic"};

bool cpu_has(const std::string& isa) {
  if (isa == "generic") return true;
#ifdef PLMSCOPE_X86_DISPATCH
  __builtin_cpu_init();
  if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == "avx512") return __builtin_cpu_supports("avx512f");
#endif
  return false;
}

const Shape* best_shape() {
#ifdef PLMSCOPE_X86_DISPATCH
  if (cpu_has("avx512")) return &kAvx512;
  if (cpu_has("avx2")) return &kAvx2;
#endif
  return &kGeneric;
}

std::atomic<const Shape*> current_shape{nullptr};

const Shape& shape() {
  const Shape* s = current_shape.load();
  if (!s) {
    s = best_shape();
    current_shape.store(s);
  }
  return *s;
}

std::int64_t round_up(std::int64_t v, std::int64_t m) { return (v + m - 1) / m * m; }

// A unit of work per step. Leaf: the upper triangle of columns [i0, i0 + len), restricted
// to its local columns [u0, u1) (a strip of whole panels). Product: the off-diagonal block
// with rows I = [i0, i0 + 2 mi), columns J = [j0, j0 + 2 mj) (J clipped to d), restricted
// to quadrant-local rows [u0, u1). Restrictions let threads share a block without sharing
// an output entry. Every boundary is a multiple of the panel width W.
struct Item {
  bool leaf;
  std::int64_t i0, j0, len, mi, mj, u0, u1;
  double cost;  // multiply-adds (and operand sums) per row of data
};

// Multiply-adds per row of the leaf tiles in columns [u0, u1).
double leaf_cost(std::int64_t len, std::int64_t u0, std::int64_t u1, const Shape& s) {
  double fma = 0.0;
  for (std::int64_t i = 0; i < std::min(len, u1); i += s.R)
    for (std::int64_t j = std::max(u0, i / s.W * s.W); j < u1; j += s.W)
      fma += double(s.R) * (s.W - (i > j ? (i - j) / s.vec * s.vec : 0));
  return fma;
}

double product_cost(std::int64_t rows, std::int64_t mj) {
  // 7 products over half the rows each (B-side sums ride along in the microkernel; the
  // A-side ones, O(rows) per product, are left out)
  return 3.5 * double(rows) * double(mj);
}

void build(std::int64_t c0, std::int64_t size, int depth, int levels, std::int64_t d,
           const Shape& s, std::vector<Item>& items) {
  if (c0 >= d) return;
  if (depth == levels) {
    const std::int64_t len = std::min(size, d - c0), mw = round_up(len, s.W);
    items.push_back({true, c0, c0, len, 0, 0, 0, mw, leaf_cost(len, 0, mw, s)});
    return;
  }
  const std::int64_t h = size / 2;
  build(c0, h, depth + 1, levels, d, s, items);
  build(c0 + h, h, depth + 1, levels, d, s, items);
  if (c0 + h < d) {
    const std::int64_t q = h / 2;
    items.push_back({false, c0, c0 + h, 0, q, q, 0, q, product_cost(q, q)});
  }
}

struct Plan {
  int levels = 0;
  std::int64_t padded = 0;
  double work = 1.0;  // relative to the plain kernel
};

Plan best_plan(std::int64_t d, const Shape& s) {
  const double plain = 0.5 * double(d) * double(d + 1);
  Plan best;
  for (int levels = 1; levels <= 5; ++levels) {
    const std::int64_t unit = s.W << (levels + 1);  // quadrants: whole panels
    const std::int64_t D = round_up(d, unit);
    std::vector<Item> items;
    build(0, D, 0, levels, d, s, items);
    double cost = 0.0;
    for (const Item& it : items) cost += it.cost;
    if (cost / plain < best.work) best = {levels, D, cost / plain};
  }
  // Under 4% saved is within the noise of the extra memory traffic: keep plain blocks.
  return best.work < 0.96 ? best : Plan{};
}

// The plain blocks' plan: one leaf over all columns.
Plan plain_plan(std::int64_t d, const Shape& s) { return {0, round_up(d, s.W), 1.0}; }

// The plan's items, split so that `threads` shares balance: leaves into strips of panels,
// products into row ranges (a part stays at least one panel); then balanced by cost.
struct Work {
  std::vector<Item> items;
  std::vector<std::vector<std::int64_t>> owned;  // item indices per thread share
};

Work split_work(const Plan& plan, std::int64_t d, const Shape& s, int threads) {
  std::vector<Item> blocks;
  build(0, plan.padded, 0, plan.levels, d, s, blocks);
  double total = 0.0;
  for (const Item& it : blocks) total += it.cost;
  Work w;
  for (const Item& it : blocks) {
    const std::int64_t span = it.u1 - it.u0;
    const std::int64_t parts = threads == 1 ? 1 : std::clamp<std::int64_t>(
        static_cast<std::int64_t>(std::ceil(it.cost * 4.0 * threads / total)), 1, span / s.W);
    const std::int64_t chunk = round_up((span + parts - 1) / parts, s.W);
    for (std::int64_t u = 0; u < span; u += chunk) {
      Item part = it;
      part.u0 = u;
      part.u1 = std::min(span, u + chunk);
      part.cost = it.leaf ? leaf_cost(it.len, part.u0, part.u1, s)
                          : product_cost(part.u1 - part.u0, it.mj);
      w.items.push_back(part);
    }
  }
  std::vector<double> cost(w.items.size());
  for (std::size_t i = 0; i < w.items.size(); ++i) cost[i] = w.items[i].cost;
  w.owned = balance_by_cost(cost, threads);
  return w;
}

// Quadrants of a product block: 0 = C11, 1 = C12, 2 = C21, 3 = C22. Operands: base blocks
// 0..3 = A11, A12, A21, A22 (rows side) or B11, B12, B21, B22 (columns side), where A_xy
// holds the I-half x (a or b) of K-half y, and B_xy the K-half x of J-half y.
struct BlockSum {  // base block `first` + sign * base block `second`
  int first, second;  // second = -1: the base block itself
  float sign;
};
struct Product {
  BlockSum a, b;
  int quadrant[2];
  double sign[2];
  int count;
};
// Strassen (1969): C11 = M1 + M4 - M5 + M7, C12 = M3 + M5, C21 = M2 + M4,
// C22 = M1 - M2 + M3 + M6.
constexpr Product kProducts[7] = {
    {{0, 3, 1.0f}, {0, 3, 1.0f}, {0, 3}, {1.0, 1.0}, 2},    // (A11 + A22)(B11 + B22)
    {{2, 3, 1.0f}, {0, -1, 0.0f}, {2, 3}, {1.0, -1.0}, 2},  // (A21 + A22) B11
    {{0, -1, 0.0f}, {1, 3, -1.0f}, {1, 3}, {1.0, 1.0}, 2},  // A11 (B12 - B22)
    {{3, -1, 0.0f}, {2, 0, -1.0f}, {0, 2}, {1.0, 1.0}, 2},  // A22 (B21 - B11)
    {{0, 1, 1.0f}, {3, -1, 0.0f}, {0, 1}, {-1.0, 1.0}, 2},  // (A11 + A12) B22
    {{2, 0, -1.0f}, {0, 1, 1.0f}, {3, 0}, {1.0, 0.0}, 1},   // (A21 - A11)(B11 + B12)
    {{1, 3, -1.0f}, {2, 3, 1.0f}, {0, 0}, {1.0, 0.0}, 1},   // (A12 - A22)(B21 + B22)
};

struct Context {
  const Shape& s;
  std::int64_t d, padded;
  int halves;  // row halves per block: 2 in Strassen steps, 1 in plain blocks
  const float* shift;
  const float* scale;
  const double* unscale;
  double* scatter;
};

// Packs panels [p0, p1) of the halves of a block of 2 kc or kc rows (shifted, scaled) into
// a block buffer and, with colsum set, adds their columns' sums to it.
void pack_panels(const Context& c, const float* block_rows, std::int64_t kc, std::int64_t p0,
                 std::int64_t p1, float* buf, std::vector<float>& colsum32, double* colsum) {
  const std::int64_t W = c.s.W, c0 = p0 * W, m = (p1 - p0) * W;
  const std::int64_t len = std::clamp<std::int64_t>(c.d - c0, 0, m);
  if (m == 0) return;
  colsum32.resize(static_cast<std::size_t>(m));
  for (int half = 0; half < c.halves; ++half) {
    std::fill(colsum32.begin(), colsum32.end(), 0.0f);
    const std::int64_t off = std::min(c0, c.d);  // len = 0 past d: nothing is read there
    c.s.pack(block_rows + half * kc * c.d + off, kc, c.d, c.shift + off, c.scale + off, len,
             m, buf + half * c.padded * kc + p0 * kc * W, colsum32.data());
    if (colsum)
      for (std::int64_t j = 0; j < len; ++j) colsum[c0 + j] += colsum32[j];
  }
}

class Worker {
 public:
  explicit Worker(const Context& c) : c_(c), spill_(static_cast<std::size_t>(c.s.R * c.s.W)) {}

  // The packed block the next items read (its halves of kc rows, panels of W columns).
  void use(const float* packed, std::int64_t kc) {
    packed_ = packed;
    kc_ = kc;
  }

  void run(const Item& it) {
    if (it.leaf)
      leaf(it);
    else
      product(it);
  }

 private:
  // Panel data of columns from `col` (a multiple of W, or inside a panel for A tiles).
  const float* at(int half, std::int64_t col) const {
    const std::int64_t W = c_.s.W;
    return packed_ + half * c_.padded * kc_ + (col / W) * kc_ * W + col % W;
  }

  void leaf(const Item& it) {
    const Shape& s = c_.s;
    const std::int64_t d = c_.d, c0 = it.i0, len = it.len;
    for (int half = 0; half < c_.halves; ++half)
      for (std::int64_t i = 0; i < std::min(len, it.u1); i += s.R) {
        const float* A = at(half, c0 + i);
        for (std::int64_t j = std::max(it.u0, i / s.W * s.W); j < it.u1; j += s.W) {
          const float* B = at(half, c0 + j);
          Dest D{c_.scatter + (c0 + i) * d + c0 + j, 1.0, c_.unscale + c0 + i,
                 c_.unscale + c0 + j};
          if (i + s.R - 1 <= j && i + s.R <= len && j + s.W <= len) {
            const TileDests t{{D, D}, 1, d};
            s.micro(A, {B, nullptr, 0.0f}, kc_, 0, &t, nullptr);
            continue;
          }
          const int v0 = i > j ? static_cast<int>((i - j) / s.vec) : 0;
          s.micro(A, {B, nullptr, 0.0f}, kc_, v0, nullptr, spill_.data());
          // entries with column >= row, inside the leaf
          masked_add(spill_.data(), s.W, std::min<std::int64_t>(s.R, len - i), i - j, true,
                     v0 * s.vec, std::min<std::int64_t>(s.W, len - j), D, d);
        }
      }
  }

  void product(const Item& it) {
    const std::int64_t rows = it.u1 - it.u0;
    const float* base_a[4];
    const float* base_b[4];
    for (int x = 0; x < 2; ++x)
      for (int y = 0; y < 2; ++y) {
        base_a[2 * x + y] = at(y, it.i0 + x * it.mi + it.u0);  // I-half x, K-half y
        base_b[2 * x + y] = at(x, it.j0 + y * it.mj);          // K-half x, J-half y
      }
    op_a_.resize(static_cast<std::size_t>(std::max<std::int64_t>(rows * kc_, 1)));
    for (const Product& p : kProducts) {
      // A-side sums are formed once per product here (a broadcast operand is costly to
      // sum in registers); B-side sums in the microkernel.
      const float* a_sum = base_a[p.a.first];
      if (p.a.second >= 0) {
        const float* x = base_a[p.a.first];
        const float* y = base_a[p.a.second];
        float* out = op_a_.data();
        for (std::int64_t panel = 0; panel < rows / c_.s.W; ++panel) {
          const std::int64_t o = panel * kc_ * c_.s.W;
          c_.s.combine(x + o, y + o, p.a.sign, kc_ * c_.s.W, out + o);
        }
        a_sum = out;
      }
      tiles(it, p, a_sum, base_b, rows);
    }
  }

  void tiles(const Item& it, const Product& p, const float* a_sum, const float* const* base_b,
             std::int64_t rows) {
    const Shape& s = c_.s;
    const std::int64_t d = c_.d;
    for (std::int64_t r = 0; r < rows; r += s.R) {
      const std::int64_t u = it.u0 + r;  // quadrant-local row
      const std::int64_t a_off = (r / s.W) * kc_ * s.W + r % s.W;
      const float* a = a_sum + a_off;
      for (std::int64_t v = 0; v < it.mj; v += s.W) {
        TileDests t{};
        t.count = p.count;
        t.ld = d;
        bool inside = true;
        std::int64_t ncols[2];
        for (int e = 0; e < p.count; ++e) {
          const int qa = p.quadrant[e] / 2, qb = p.quadrant[e] % 2;
          const std::int64_t row = it.i0 + qa * it.mi + u, col = it.j0 + qb * it.mj + v;
          ncols[e] = std::clamp<std::int64_t>(d - col, 0, s.W);
          inside = inside && ncols[e] == s.W;
          t.dst[e] = {c_.scatter + row * d + col, p.sign[e], c_.unscale + row,
                      c_.unscale + std::min(col, d - 1)};
        }
        const std::int64_t b_off = (v / s.W) * kc_ * s.W;
        const PanelSum b{base_b[p.b.first] + b_off,
                         p.b.second < 0 ? nullptr : base_b[p.b.second] + b_off, p.b.sign};
        if (inside) {
          s.micro(a, b, kc_, 0, &t, nullptr);
          continue;
        }
        s.micro(a, b, kc_, 0, nullptr, spill_.data());
        for (int e = 0; e < p.count; ++e)
          if (ncols[e] > 0) masked_add(spill_.data(), s.W, s.R, 0, false, 0, ncols[e],
                                       t.dst[e], d);
      }
    }
  }

  const Context& c_;
  const float* packed_ = nullptr;
  std::int64_t kc_ = 0;
  std::vector<float> spill_, op_a_;
};

// Adds blocks of rows to sum and scatter with one plan: `blocks` blocks of `block` rows
// each (the last may be shorter: `rows` in all), c.halves halves of kc rows per block.
void run_blocks(const Context& c, const Work& work, int threads, const float* x,
                std::int64_t rows, std::int64_t block, double* sum) {
  const std::int64_t d = c.d, blocks = (rows + block - 1) / block;
  const std::int64_t panels = c.padded / c.s.W, block_floats = c.padded * block;
  const auto rows_of = [&](std::int64_t b) { return x + b * block * d; };
  const auto kc_of = [&](std::int64_t b) {
    return std::min(block, rows - b * block) / c.halves;
  };
  std::vector<double> colsum(d, 0.0);
  std::vector<float> buffers[2];
  parallel_team(threads, [&](int t, int team) {
    Worker w(c);
    std::vector<float> colsum32;
    const auto compute = [&](const float* packed, std::int64_t kc) {
      w.use(packed, kc);
      for (int share = t; share < threads; share += team)  // a smaller team covers all
        for (const std::int64_t i : work.owned[share]) w.run(work.items[i]);
    };
    if (team <= 2) {
      // Each thread packs every block itself and never waits for the other: on a busy
      // machine a descheduled thread then stalls no one (packing is ~3% of one thread).
      std::vector<float> own(static_cast<std::size_t>(block_floats));
      for (std::int64_t b = 0; b < blocks; ++b) {
        pack_panels(c, rows_of(b), kc_of(b), 0, panels, own.data(), colsum32,
                    t == 0 ? colsum.data() : nullptr);
        compute(own.data(), kc_of(b));
      }
      return;
    }
    // More threads: each block is packed once, into two shared buffers, each thread its
    // share of the panels; the threads pack block b + 1 while they compute block b and
    // meet once per block (packing everything on every thread would cost ~30% at 16).
    if (t == 0)
      for (auto& buf : buffers) buf.resize(static_cast<std::size_t>(block_floats));
    team_barrier();
    const std::int64_t p0 = panels * t / team, p1 = panels * (t + 1) / team;
    pack_panels(c, rows_of(0), kc_of(0), p0, p1, buffers[0].data(), colsum32, colsum.data());
    team_barrier();
    for (std::int64_t b = 0; b < blocks; ++b) {
      if (b + 1 < blocks)
        pack_panels(c, rows_of(b + 1), kc_of(b + 1), p0, p1, buffers[(b + 1) % 2].data(),
                    colsum32, colsum.data());
      compute(buffers[b % 2].data(), kc_of(b));
      team_barrier();
    }
  });
  for (std::int64_t j = 0; j < d; ++j) sum[j] += colsum[j];
}

// Power-of-two column scales from the root mean square of the first rows (any choice is
// exact; near-unit columns keep Strassen's mixed sums accurate).
void column_scales(const float* x, std::int64_t rows, std::int64_t d, const float* shift32,
                   std::vector<float>& scale, std::vector<double>& unscale) {
  std::vector<double> ms(d, 0.0);
  for (std::int64_t k = 0; k < rows; ++k)
    for (std::int64_t j = 0; j < d; ++j) {
      const double v = static_cast<double>(x[k * d + j] - shift32[j]);
      ms[j] += v * v;
    }
  for (std::int64_t j = 0; j < d; ++j) {
    const double rms = std::sqrt(ms[j] / static_cast<double>(rows));
    if (!(rms > 0.0) || !std::isfinite(rms)) continue;
    int e = 0;
    std::frexp(rms, &e);
    e = std::clamp(e, -100, 100);
    scale[j] = std::ldexp(1.0f, -e);
    unscale[j] = std::ldexp(1.0, e);
  }
}

}  // namespace

void covariance_accumulate(const float* x, std::int64_t n, std::int64_t d, const double* shift,
                           double* sum, double* scatter, int nthreads) {
  check_rows(n, d, "covariance_accumulate");
  if (n == 0 || d == 0) return;
  PLMSCOPE_CHECK(x && shift && sum && scatter, "covariance_accumulate: null array pointer");
  const Shape& s = shape();
  const int threads = threads_for_share(0.5 * double(n) * double(d) * double(d), nthreads);
  std::vector<float> shift32(d), scale(d, 1.0f);
  std::vector<double> unscale(d, 1.0);
  for (std::int64_t j = 0; j < d; ++j) shift32[j] = static_cast<float>(shift[j]);
  // Whole 1024-row steps take the Strassen plan when it saves work for this d; the rest
  // (and every row when it does not) plain blocks of 256 rows, unscaled.
  const std::int64_t steps = n / kStep;
  const Plan plan = steps > 0 && s.isa != kGeneric.isa ? best_plan(d, s) : Plan{};
  if (plan.levels) {
    std::vector<float> step_scale(scale);
    std::vector<double> step_unscale(unscale);
    column_scales(x, kStep, d, shift32.data(), step_scale, step_unscale);
    const Context c{s, d, plan.padded, 2, shift32.data(), step_scale.data(),
                    step_unscale.data(), scatter};
    run_blocks(c, split_work(plan, d, s, threads), threads, x, steps * kStep, kStep, sum);
    x += steps * kStep * d;
    n -= steps * kStep;
  }
  if (n == 0) return;
  const Plan plain = plain_plan(d, s);
  const int plain_threads = static_cast<int>(std::min<std::int64_t>(
      threads_for_share(0.5 * double(n) * double(d) * double(d), nthreads), plain.padded / s.W));
  const Context c{s, d, plain.padded, 1, shift32.data(), scale.data(), unscale.data(), scatter};
  run_blocks(c, split_work(plain, d, s, plain_threads), plain_threads, x, n, kBlock, sum);
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

const char* covariance_kernel_isa() { return shape().isa; }

double covariance_work_ratio(std::int64_t d) {
  const Shape& s = shape();
  if (s.isa == kGeneric.isa || d < 1) return 1.0;
  const Plan plan = best_plan(d, s);
  return plan.levels ? plan.work : 1.0;
}

void set_covariance_kernel_isa(const char* isa) {
  const std::string name = isa ? isa : "";
  if (name == "best") {
    current_shape.store(best_shape());
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
