#pragma once
/// Block programs of the similarity kernels (covariance accumulation and the column sums
/// behind it and behind unit_sum_accumulate), shared by cuda/similarity.cu and the host emulation
/// test; see cuda/device_block.cuh for the block interface.
///
/// Covariance (plmscope::covariance_accumulate, cpp/include/plmscope/similarity.h): the upper
/// triangle of scatter += (X - shift)^T (X - shift) over a float32 chunk X (rows x d), with
/// x - shift, the products and the sums in float64. Output tiles of kCovTile x kCovTile on or
/// above the diagonal; rows are split into `splits` ranges so that small d still fills the
/// device; each (split, tile) block writes its own partial tile, and a reduction adds the
/// splits in a fixed order into the upper triangle of scatter (deterministic: no atomics).
#include <cstdint>

#include "kernel_common.h"

namespace plmscope::cuda {

constexpr int kCovTile = 64;        // output tile side
constexpr int kCovRowsPerStage = 16;  // rows of X staged in shared memory at a time
constexpr int kCovThreads = 256;    // 16 x 16 threads, 4 x 4 outputs each
constexpr int kCovPerThread = 4;
static_assert((kCovTile / kCovPerThread) * (kCovTile / kCovPerThread) == kCovThreads,
              "one thread per 4 x 4 block of the output tile");
static_assert(kCovRowsPerStage * kCovTile % kCovThreads == 0, "staging loads divide evenly");

constexpr int kColumnThreads = 256;  // column-sum blocks: one column per thread

struct CovarianceParams {
  const float* x = nullptr;      // rows x d, row-major
  const double* shift = nullptr;  // d
  std::int64_t rows = 0, d = 0;
  std::int64_t sides = 0;            // ceil(d / kCovTile)
  std::int64_t pairs = 0;            // sides (sides + 1) / 2 tiles on or above the diagonal
  std::int64_t splits = 1, rows_per_split = 0;
  double* partial = nullptr;         // splits x pairs x kCovTile^2
  double* scatter = nullptr;         // d x d, upper triangle accumulated into
  PLMSCOPE_HD std::int64_t work_items() const { return splits * pairs; }
};

/// Row and column tile of the pair index t (tiles (i, j), i <= j, listed row by row).
PLMSCOPE_HD void tile_pair(std::int64_t t, std::int64_t sides, std::int64_t& ti,
                           std::int64_t& tj) {
  ti = 0;
  while (t >= sides - ti) {
    t -= sides - ti;
    ++ti;
  }
  tj = ti + t;
}

struct CovLocal {
  double acc[kCovPerThread][kCovPerThread];
};

/// Partial scatter tiles. `a`, `b`: kCovRowsPerStage x kCovTile doubles each (x - shift).
template <class Block>
PLMSCOPE_HD void covariance_block(const CovarianceParams& p, double* a, double* b, Block& blk) {
  constexpr int kSide = kCovTile / kCovPerThread;  // 16 threads per side
  for (std::int64_t w = blk.first_tile(); w < p.work_items(); w += blk.tile_step()) {
    const std::int64_t pair = w % p.pairs, split = w / p.pairs;
    std::int64_t ti, tj;
    tile_pair(pair, p.sides, ti, tj);
    const std::int64_t ca = ti * kCovTile, cb = tj * kCovTile;
    const std::int64_t r_begin = split * p.rows_per_split;
    const std::int64_t r_end =
        r_begin + p.rows_per_split < p.rows ? r_begin + p.rows_per_split : p.rows;
    blk.each_local([&](int, int, CovLocal& loc) {
      for (int i = 0; i < kCovPerThread; ++i)
        for (int j = 0; j < kCovPerThread; ++j) loc.acc[i][j] = 0.0;
    });
    for (std::int64_t r0 = r_begin; r0 < r_end; r0 += kCovRowsPerStage) {
      blk.each([&](int tid, int nt) {
        for (int e = tid; e < kCovRowsPerStage * kCovTile; e += nt) {
          const int rr = e / kCovTile, c = e % kCovTile;
          const std::int64_t r = r0 + rr;
          const bool row_ok = r < r_end;
          a[e] = row_ok && ca + c < p.d ? double(p.x[r * p.d + ca + c]) - p.shift[ca + c] : 0.0;
          b[e] = row_ok && cb + c < p.d ? double(p.x[r * p.d + cb + c]) - p.shift[cb + c] : 0.0;
        }
      });
      blk.each_local([&](int tid, int, CovLocal& loc) {
        const int tx = tid % kSide, ty = tid / kSide;
        PLMSCOPE_UNROLL
        for (int rr = 0; rr < kCovRowsPerStage; ++rr) {
          double av[kCovPerThread], bv[kCovPerThread];
          PLMSCOPE_UNROLL
          for (int i = 0; i < kCovPerThread; ++i) {
            av[i] = a[rr * kCovTile + tx * kCovPerThread + i];
            bv[i] = b[rr * kCovTile + ty * kCovPerThread + i];
          }
          PLMSCOPE_UNROLL
          for (int i = 0; i < kCovPerThread; ++i)
            PLMSCOPE_UNROLL
            for (int j = 0; j < kCovPerThread; ++j) loc.acc[i][j] += av[i] * bv[j];
        }
      });
    }
    blk.each_local([&](int tid, int, CovLocal& loc) {
      const int tx = tid % kSide, ty = tid / kSide;
      double* out = p.partial + w * kCovTile * kCovTile;
      for (int i = 0; i < kCovPerThread; ++i)
        for (int j = 0; j < kCovPerThread; ++j)
          out[(tx * kCovPerThread + i) * kCovTile + ty * kCovPerThread + j] = loc.acc[i][j];
    });
  }
}

/// Adds partial element e (over all splits, in order) into scatter if it is on or above the
/// diagonal (diagonal tiles compute both triangles; the lower one is dropped).
PLMSCOPE_HD void covariance_reduce_one(const CovarianceParams& p, std::int64_t e) {
  const std::int64_t pair = e / (kCovTile * kCovTile);
  const int local = static_cast<int>(e % (kCovTile * kCovTile));
  std::int64_t ti, tj;
  tile_pair(pair, p.sides, ti, tj);
  const std::int64_t gi = ti * kCovTile + local / kCovTile, gj = tj * kCovTile + local % kCovTile;
  if (gi >= p.d || gj >= p.d || gi > gj) return;
  double v = 0.0;
  for (std::int64_t s = 0; s < p.splits; ++s) v += p.partial[(s * p.pairs + pair) * kCovTile * kCovTile + local];
  p.scatter[gi * p.d + gj] += v;
}

/// Column sums: partial[split][j] = sum over the split's rows of w[i] (x[i, j] - shift[j])
/// (w = 1, shift = 0 when null), float64; then out[j] += sum over splits, in order.
template <class X>
struct ColumnSumParams {
  const X* x = nullptr;
  const double* weights = nullptr;  // rows, or null
  const double* shift = nullptr;    // d, or null
  std::int64_t rows = 0, d = 0;
  std::int64_t splits = 1, rows_per_split = 0;
  std::int64_t col_blocks = 0;  // ceil(d / kColumnThreads)
  double* partial = nullptr;    // splits x d
  double* out = nullptr;        // d, accumulated into
  PLMSCOPE_HD std::int64_t work_items() const { return splits * col_blocks; }
};

template <class X, class Block>
PLMSCOPE_HD void column_sum_block(const ColumnSumParams<X>& p, Block& blk) {
  for (std::int64_t w = blk.first_tile(); w < p.work_items(); w += blk.tile_step()) {
    const std::int64_t cb = w % p.col_blocks, split = w / p.col_blocks;
    const std::int64_t r_begin = split * p.rows_per_split;
    const std::int64_t r_end =
        r_begin + p.rows_per_split < p.rows ? r_begin + p.rows_per_split : p.rows;
    blk.each([&](int tid, int nt) {
      for (std::int64_t j = cb * kColumnThreads + tid; j < (cb + 1) * kColumnThreads && j < p.d;
           j += nt) {
        double s = 0.0;
        const double sh = p.shift ? p.shift[j] : 0.0;
        for (std::int64_t r = r_begin; r < r_end; ++r) {
          const double v = double(p.x[r * p.d + j]) - sh;
          s += p.weights ? p.weights[r] * v : v;
        }
        p.partial[split * p.d + j] = s;
      }
    });
  }
}

template <class X>
PLMSCOPE_HD void column_sum_reduce_one(const ColumnSumParams<X>& p, std::int64_t j) {
  double v = 0.0;
  for (std::int64_t s = 0; s < p.splits; ++s) v += p.partial[s * p.d + j];
  p.out[j] += v;
}

/// Row splits: enough (split, item) work for `target_blocks` blocks, each split at least
/// `min_rows` rows (a multiple of `align`).
inline void choose_splits(std::int64_t rows, std::int64_t items, std::int64_t target_blocks,
                          std::int64_t min_rows, std::int64_t align, std::int64_t& splits,
                          std::int64_t& rows_per_split) {
  std::int64_t want = items >= target_blocks ? 1 : ceil_div(target_blocks, items);
  const std::int64_t max_splits = rows > min_rows ? rows / min_rows : 1;
  splits = want < max_splits ? want : max_splits;
  if (splits < 1) splits = 1;
  rows_per_split = ceil_div(ceil_div(rows, splits), align) * align;
  if (rows_per_split < align) rows_per_split = align;
  splits = ceil_div(rows, rows_per_split);
  if (splits < 1) splits = 1;
}

}  // namespace plmscope::cuda
