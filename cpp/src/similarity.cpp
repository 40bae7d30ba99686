// Unit-vector sums and pair distances for embedding geometry (the covariance kernel is in
// covariance.cpp).
#include "plmscope/similarity.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "plmscope/check.h"
#include "plmscope/parallel.h"

namespace plmscope {

namespace {

constexpr std::int64_t kMaxSumBlocks = 256;  // partial sums of unit_sum_accumulate

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
  const int threads = threads_for_share(2.0 * double(n) * double(d), nthreads);
  parallel_for(blocks, threads, [&](std::int64_t b, int) {
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
  parallel_for(blocks, threads_for_share(4.0 * double(npairs) * double(d), nthreads),
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
  check_rows(n, d, "unit_sum_accumulate");
  PLMSCOPE_CHECK(n == 0 || (x && unit_sum), "unit_sum_accumulate: null array pointer");
  unit_sum_impl(x, n, d, unit_sum, nthreads);
}

template <class T>
void pair_entry(const T* x, std::int64_t n, std::int64_t d, const std::int64_t* pairs,
                std::int64_t npairs, double* cosine, double* sqdist, int nthreads) {
  check_rows(n, d, "pair_similarity");
  if (npairs == 0) return;
  PLMSCOPE_CHECK(x && pairs, "pair_similarity: null array pointer");
  pair_similarity_impl(x, n, d, pairs, npairs, cosine, sqdist, nthreads);
}

}  // namespace

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

}  // namespace plmscope
