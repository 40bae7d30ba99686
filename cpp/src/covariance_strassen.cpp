// The Strassen path of covariance_accumulate: fewer multiply-adds than any upper-triangle
// kernel, which matters because the plain kernel already runs near the FMA units' peak
// (~85% on Zen 4).
//
// The scatter X^T X (X: the shifted rows) is split recursively by columns: a diagonal block
// is two half-size diagonal blocks plus one off-diagonal block X_I^T X_J, a general product.
// Each off-diagonal block is done with one level of Strassen's algorithm, whose 2 x 2 split
// of the summed dimension pairs the two 512-row halves of a 1024-row step: 7 products of
// quadrant size instead of 8. With three levels at d = 1024 that is 0.90 of the plain
// work. The diagonal blocks at the bottom use the plain upper-triangle tiles.
//
// Accuracy: Strassen's error bound is normwise, not per entry: an entry of a quadrant
// collects the rounding of products mixing other columns. Columns of embeddings differ in
// scale by orders of magnitude (outlier dimensions), so every column is first scaled by a
// power of two to unit-order root mean square (exact in float32, undone exactly in
// float64); each entry's error is then a small multiple of eps_f32 sqrt(S_ii S_jj), as for
// the plain kernel. Products are summed in float32 over 512 rows, then added in float64
// (256 in the plain kernel: the longer sums halve the float64 additions, ~4% of the time).
#include "covariance_strassen.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "plmscope/parallel.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define PLMSCOPE_STRASSEN_X86 1
#include <immintrin.h>
#endif

namespace plmscope::detail {

namespace {

constexpr std::int64_t kHalf = kStrassenStep / 2;

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
// tile[r][c] = sum_k A[k * W + r] * B(k, c) over kHalf rows, B(k, c) = B.first[k * W + c]
// (+ sign B.second[...]), for the column vectors from v0 on (A points into a panel of W
// columns at the tile's first row). With spill set the tile is stored to
// spill[r * W + c]; otherwise it is added to every destination.
using Micro = void (*)(const float* A, const PanelSum& B, int v0, const TileDests* t,
                       float* spill);

// Calls body.template operator()<V0, BM>() for a tile's first vector and B-operand kind
// (BM: 0 one panel, 1 first + second, -1 first - second).
template <class Body>
inline void dispatch_tile(int v0, const PanelSum& B, Body&& body) {
  if (v0) return body.template operator()<1, 0>();  // leaves' diagonal tiles: no sums
  if (!B.second) return body.template operator()<0, 0>();
  if (B.sign > 0) return body.template operator()<0, 1>();
  return body.template operator()<0, -1>();
}
// Packs columns [0, len) of kHalf rows (shifted, scaled) into panels of W columns:
// out[(p * kHalf + k) * W + c] for column p W + c < m; zero beyond len. Also adds the
// shifted, unscaled column sums over the rows to colsum[0, len).
using Pack = void (*)(const float* rows, std::int64_t d, const float* shift, const float* scale,
                      std::int64_t len, std::int64_t m, float* out, float* colsum);

// out[i] = a[i] + sign * b[i]
using Combine = void (*)(const float* a, const float* b, float sign, std::int64_t count,
                         float* out);

struct Shape {
  int R, W, vec;  // tile rows, tile columns, floats per vector (W = 2 vec)
  Micro micro;
  Pack pack;
  Combine combine;
};

template <int G>
[[gnu::always_inline]] inline void pack_body(const float* rows, std::int64_t d,
                                             const float* sh, const float* sc,
                                             std::int64_t len, std::int64_t m,
                                             float* out, float* colsum) {
  for (std::int64_t k = 0; k < kHalf; ++k) {
    const float* src = rows + k * d;
    for (std::int64_t u0 = 0; u0 < m; u0 += G) {
      float* o = out + ((u0 / G) * kHalf + k) * G;
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

#ifdef PLMSCOPE_STRASSEN_X86
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 bug 105593, as similarity.cpp
#endif
template <int V0, int BM>
__attribute__((target("avx512f"), always_inline)) inline void micro512(
    const float* A, const PanelSum& Bo, const TileDests* t, float* spill) {
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
  for (std::int64_t k = 0; k < kHalf; ++k) {
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
  const TileDests* t;
  float* spill;
  template <int V0, int BM>
  __attribute__((target("avx512f"))) void operator()() const {
    micro512<V0, BM>(A, B, t, spill);
  }
};

__attribute__((target("avx512f"))) void micro_avx512(const float* A, const PanelSum& B,
                                                       int v0, const TileDests* t,
                                                       float* spill) {
  dispatch_tile(v0, B, Micro512Body{A, B, t, spill});
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

template <int V0, int BM>
__attribute__((target("avx2,fma"), always_inline)) inline void micro256(
    const float* A, const PanelSum& Bo, const TileDests* t, float* spill) {
  const float *B = Bo.first, *B2 = Bo.second;
  constexpr int R = 4, NV = 2, W = 16;  // 8 accumulators + 2 B vectors + 1 broadcast
  __m256 acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = V0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  for (std::int64_t k = 0; k < kHalf; ++k) {
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
  const TileDests* t;
  float* spill;
  template <int V0, int BM>
  __attribute__((target("avx2,fma"))) void operator()() const {
    micro256<V0, BM>(A, B, t, spill);
  }
};

__attribute__((target("avx2,fma"))) void micro_avx2(const float* A, const PanelSum& B,
                                                     int v0, const TileDests* t,
                                                     float* spill) {
  dispatch_tile(v0, B, Micro256Body{A, B, t, spill});
}

#define PLMSCOPE_PACK_WRAPPER(name, isa, G)                                                   \
  __attribute__((target(isa))) void name(const float* rows, std::int64_t d,                  \
                                         const float* shift, const float* scale,              \
                                         std::int64_t len, std::int64_t m, float* out,        \
                                         float* colsum) {                                     \
    pack_body<G>(rows, d, shift, scale, len, m, out, colsum);                                 \
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

constexpr Shape kShape512{8, 32, 16, micro_avx512, pack512, combine512};
constexpr Shape kShape256{4, 16, 8, micro_avx2, pack256, combine256};
#endif

const Shape* shape_for(const char* isa) {
#ifdef PLMSCOPE_STRASSEN_X86
  const std::string name = isa ? isa : "";
  if (name == "avx512") return &kShape512;
  if (name == "avx2") return &kShape256;
#else
  (void)isa;
#endif
  return nullptr;
}

std::int64_t round_up(std::int64_t v, std::int64_t m) { return (v + m - 1) / m * m; }

// A unit of work per step. Leaf: the upper triangle of columns [i0, i0 + len). Product:
// the off-diagonal block with rows I = [i0, i0 + 2 mi), columns J = [j0, j0 + 2 mj) (J
// clipped to d), restricted to quadrant-local rows [u0, u1) so threads can share a block
// without sharing an output entry. Every boundary is a multiple of the panel width W.
struct Item {
  bool leaf;
  std::int64_t i0, j0, len, mi, mj, u0, u1;
  double cost;  // multiply-adds (and operand sums) per row of data
};

double leaf_cost(std::int64_t len, const Shape& s) {
  const std::int64_t mw = round_up(len, s.W);
  double fma = 0.0;
  for (std::int64_t i = 0; i < len; i += s.R)
    for (std::int64_t j = i / s.W * s.W; j < mw; j += s.W)
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
    const std::int64_t len = std::min(size, d - c0);
    items.push_back({true, c0, c0, len, 0, 0, 0, 0, leaf_cost(len, s)});
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
  // Under 4% saved is within the noise of the extra memory traffic: keep the plain kernel.
  return best.work < 0.96 ? best : Plan{};
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
  const float* shift;
  const float* scale;
  const double* unscale;
  double* scatter;
};

// Packs panels [p0, p1) of both halves of a step (shifted, scaled) into a step buffer and,
// with colsum set, adds their columns' sums to it.
void pack_panels(const Context& c, const float* step_rows, std::int64_t p0, std::int64_t p1,
                 float* buf, std::vector<float>& colsum32, double* colsum) {
  const std::int64_t W = c.s.W, c0 = p0 * W, m = (p1 - p0) * W;
  const std::int64_t len = std::clamp<std::int64_t>(c.d - c0, 0, m);
  if (m == 0) return;
  colsum32.resize(static_cast<std::size_t>(m));
  for (int half = 0; half < 2; ++half) {
    std::fill(colsum32.begin(), colsum32.end(), 0.0f);
    const std::int64_t off = std::min(c0, c.d);  // len = 0 past d: nothing is read there
    c.s.pack(step_rows + half * kHalf * c.d + off, c.d, c.shift + off, c.scale + off, len, m,
             buf + half * c.padded * kHalf + p0 * kHalf * W, colsum32.data());
    if (colsum)
      for (std::int64_t j = 0; j < len; ++j) colsum[c0 + j] += colsum32[j];
  }
}

class Worker {
 public:
  explicit Worker(const Context& c) : c_(c), spill_(static_cast<std::size_t>(c.s.R * c.s.W)) {}

  // The packed step the next items read (both halves, panels of W columns).
  void use(const float* packed) { packed_ = packed; }

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
    return packed_ + half * c_.padded * kHalf + (col / W) * kHalf * W + col % W;
  }

  void leaf(const Item& it) {
    const Shape& s = c_.s;
    const std::int64_t d = c_.d, c0 = it.i0, len = it.len, mw = round_up(len, s.W);
    for (int half = 0; half < 2; ++half)
      for (std::int64_t i = 0; i < len; i += s.R) {
        const float* A = at(half, c0 + i);
        for (std::int64_t j = i / s.W * s.W; j < mw; j += s.W) {
          const float* B = at(half, c0 + j);
          Dest D{c_.scatter + (c0 + i) * d + c0 + j, 1.0, c_.unscale + c0 + i,
                 c_.unscale + c0 + j};
          if (i + s.R - 1 <= j && i + s.R <= len && j + s.W <= len) {
            const TileDests t{{D, D}, 1, d};
            s.micro(A, {B, nullptr, 0.0f}, 0, &t, nullptr);
            continue;
          }
          const int v0 = i > j ? static_cast<int>((i - j) / s.vec) : 0;
          s.micro(A, {B, nullptr, 0.0f}, v0, nullptr, spill_.data());
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
    op_a_.resize(static_cast<std::size_t>(std::max<std::int64_t>(rows * kHalf, 1)));
    for (const Product& p : kProducts) {
      // A-side sums are formed once per product here (a broadcast operand is costly to
      // sum in registers); B-side sums in the microkernel.
      const float* a_sum = base_a[p.a.first];
      if (p.a.second >= 0) {
        const float* x = base_a[p.a.first];
        const float* y = base_a[p.a.second];
        float* out = op_a_.data();
        for (std::int64_t panel = 0; panel < rows / c_.s.W; ++panel) {
          const std::int64_t o = panel * kHalf * c_.s.W;
          c_.s.combine(x + o, y + o, p.a.sign, kHalf * c_.s.W, out + o);
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
      const std::int64_t a_off = (r / s.W) * kHalf * s.W + r % s.W;
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
        const std::int64_t b_off = (v / s.W) * kHalf * s.W;
        const PanelSum b{base_b[p.b.first] + b_off,
                         p.b.second < 0 ? nullptr : base_b[p.b.second] + b_off, p.b.sign};
        if (inside) {
          s.micro(a, b, 0, &t, nullptr);
          continue;
        }
        s.micro(a, b, 0, nullptr, spill_.data());
        for (int e = 0; e < p.count; ++e)
          if (ncols[e] > 0) masked_add(spill_.data(), s.W, s.R, 0, false, 0, ncols[e],
                                       t.dst[e], d);
      }
    }
  }

  const Context& c_;
  const float* packed_ = nullptr;
  std::vector<float> spill_, op_a_;
};

}  // namespace

double covariance_strassen_work(std::int64_t d, const char* isa) {
  const Shape* s = shape_for(isa);
  if (!s || d < 1) return 1.0;
  const Plan plan = best_plan(d, *s);
  return plan.levels ? plan.work : 1.0;
}

bool covariance_strassen(const float* x, std::int64_t steps, std::int64_t d,
                         const float* shift32, double* sum, double* scatter, int threads,
                         const char* isa) {
  const Shape* shape = shape_for(isa);
  if (!shape || steps < 1) return false;
  const Shape& s = *shape;
  const Plan plan = best_plan(d, s);
  if (!plan.levels) return false;

  // Power-of-two column scales from the first step's root mean square (any choice is
  // exact; near-unit columns keep Strassen's mixed sums accurate).
  std::vector<double> ms(d, 0.0);  // from the first step's rows
  for (std::int64_t k = 0; k < kStrassenStep; ++k)
    for (std::int64_t j = 0; j < d; ++j) {
      const double v = static_cast<double>(x[k * d + j] - shift32[j]);
      ms[j] += v * v;
    }
  std::vector<float> scale(d, 1.0f);
  std::vector<double> unscale(d, 1.0);
  for (std::int64_t j = 0; j < d; ++j) {
    const double rms = std::sqrt(ms[j] / kStrassenStep);
    if (!(rms > 0.0) || !std::isfinite(rms)) continue;
    int e = 0;
    std::frexp(rms, &e);
    e = std::clamp(e, -100, 100);
    scale[j] = std::ldexp(1.0f, -e);
    unscale[j] = std::ldexp(1.0, e);
  }

  std::vector<Item> blocks;
  build(0, plan.padded, 0, plan.levels, d, s, blocks);
  // Split product blocks by quadrant rows (whole panels) so the threads' shares balance.
  double total = 0.0;
  for (const Item& it : blocks) total += it.cost;
  std::vector<Item> items;
  for (const Item& it : blocks) {
    if (it.leaf || threads == 1) {
      items.push_back(it);
      continue;
    }
    const std::int64_t rows = it.u1 - it.u0;
    const std::int64_t parts = std::clamp<std::int64_t>(
        static_cast<std::int64_t>(std::ceil(it.cost * 4.0 * threads / total)), 1, rows / s.W);
    const std::int64_t chunk = round_up((rows + parts - 1) / parts, s.W);
    for (std::int64_t u = 0; u < rows; u += chunk) {
      Item part = it;
      part.u0 = u;
      part.u1 = std::min(rows, u + chunk);
      part.cost = product_cost(part.u1 - part.u0, it.mj);
      items.push_back(part);
    }
  }
  std::vector<double> cost(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) cost[i] = items[i].cost;
  const auto owned = balance_by_cost(cost, threads);

  std::vector<double> colsum(d, 0.0);
  const Context ctx{s, d, plan.padded, shift32, scale.data(), unscale.data(), scatter};
  const std::int64_t panels = plan.padded / s.W, step_floats = 2 * plan.padded * kHalf;
  const auto step = [&](std::int64_t st) { return x + st * kStrassenStep * d; };
  std::vector<float> buffers[2];
  parallel_team(threads, [&](int t, int team) {
    Worker w(ctx);
    std::vector<float> colsum32;
    const auto compute = [&](const float* packed) {
      w.use(packed);
      for (int share = t; share < threads; share += team)  // a smaller team covers all
        for (const std::int64_t i : owned[share]) w.run(items[i]);
    };
    if (team <= 2) {
      // Each thread packs every step itself and never waits for the other: on a busy
      // machine a descheduled thread then stalls no one (packing is ~3% of one thread).
      std::vector<float> own(static_cast<std::size_t>(step_floats));
      for (std::int64_t st = 0; st < steps; ++st) {
        pack_panels(ctx, step(st), 0, panels, own.data(), colsum32,
                    t == 0 ? colsum.data() : nullptr);
        compute(own.data());
      }
      return;
    }
    // More threads: each step is packed once, into two shared buffers, each thread its
    // share of the panels; the threads pack step st + 1 while they compute step st and
    // meet once per step (packing everything on every thread would cost ~30% at 16).
    if (t == 0)
      for (auto& b : buffers) b.resize(static_cast<std::size_t>(step_floats));
    team_barrier();
    const std::int64_t p0 = panels * t / team, p1 = panels * (t + 1) / team;
    pack_panels(ctx, step(0), p0, p1, buffers[0].data(), colsum32, colsum.data());
    team_barrier();
    for (std::int64_t st = 0; st < steps; ++st) {
      if (st + 1 < steps)
        pack_panels(ctx, step(st + 1), p0, p1, buffers[(st + 1) % 2].data(), colsum32,
                    colsum.data());
      compute(buffers[st % 2].data());
      team_barrier();
    }
  });
  for (std::int64_t j = 0; j < d; ++j) sum[j] += colsum[j];
  return true;
}

}  // namespace plmscope::detail
