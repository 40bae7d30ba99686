#pragma once
/// Similarity and covariance kernels for embedding geometry (isotropy, distances).
///
/// Embeddings are row-major (n x d) arrays: row i is one point in R^d. The kernels read
/// float32 rows (and float64 ones, except the covariance) and accumulate in float64. The
/// CUDA versions (cuda/) keep these signatures, so a caller can switch devices without
/// changing its bookkeeping.
///
/// All functions are thread-safe for distinct output arrays and use up to `nthreads`
/// threads (0 = all cores). Results do not depend on the number of threads.
#include <cstdint>

namespace plmscope {

/// Streaming covariance: adds n rows to float64 accumulators about a fixed shift vector.
///
///   sum[j]         += sum_i (x[i,j] - shift[j])
///   scatter[j*d+k] += sum_i (x[i,j] - shift[j]) (x[i,k] - shift[k])   for j <= k
///
/// `scatter` is a row-major d x d float64 array of which only the upper triangle (j <= k) is
/// read and written; the lower triangle is left untouched. The covariance of all rows seen
/// so far (count m) is (S - s s^T / m) / (m - 1), with S the symmetric scatter and s the sum;
/// choosing `shift` close to the mean (e.g. the first chunk's mean) keeps that subtraction
/// free of cancellation. Two accumulators with the same shift merge by adding their arrays.
///
/// Precision: the shift is rounded to float32 and both accumulators are taken about that
/// rounded shift (pass a float32-representable shift to have them about yours), x - shift is
/// formed in float32, and products and sums are added in float32 over blocks of at most 256
/// rows (relative error ~1e-7 per block) before they reach the float64 accumulators.
/// Only the upper triangle is computed: n d (d + 1) / 2 multiply-adds, half of a general
/// X^T X, in register tiles vectorised for the instruction set of plmscope/simd.h
/// (PLMSCOPE_SIMD caps it); scratch memory 256 d floats per thread. Results are bitwise
/// identical for any `nthreads`, and for calls that split the rows at multiples of 256;
/// other splits (and other instruction sets: FMA) may differ in the last bits. (float64
/// data: Python uses BLAS through numpy instead.)
void covariance_accumulate(const float* x, std::int64_t n, std::int64_t d, const double* shift,
                           double* sum, double* scatter, int nthreads = 0);

/// Trace and squared Frobenius norm of the covariance C = (S - s s^T / m) / (m - 1) held
/// by covariance_accumulate's accumulators (S: the upper triangle of `scatter`, s: `sum`,
/// m >= 2 rows), read in one O(d^2 / 2) pass without forming C: all IsoScore needs.
/// Returns {tr C, ||C||_F^2}; float64 throughout; single-threaded (memory-bound).
struct CovarianceMoments {
  double trace;
  double frobenius2;
};
CovarianceMoments covariance_moments(const double* scatter, const double* sum, std::int64_t d,
                                     std::int64_t m);

/// Sum of the rows scaled to unit length: unit_sum[j] += sum_i x[i,j] / ||x_i||.
///
/// With N unit vectors u_i, the mean pairwise cosine over i != j is
/// (||sum_i u_i||^2 - N) / (N (N - 1)), so this one O(n d) pass (norm and sum fused, no
/// normalised copy) is all the mean cosine needs, and chunks add up. Throws
/// std::invalid_argument naming the first row whose norm is zero (cosine undefined).
/// Float64 accumulation in fixed row blocks summed in order: bitwise identical for any
/// `nthreads`.
void unit_sum_accumulate(const float* x, std::int64_t n, std::int64_t d, double* unit_sum,
                         int nthreads = 0);
void unit_sum_accumulate(const double* x, std::int64_t n, std::int64_t d, double* unit_sum,
                         int nthreads = 0);

/// Cosine similarity and squared Euclidean distance for a list of row pairs.
///
/// For p in [0, npairs), with a = pairs[2p], b = pairs[2p+1] (row indices in [0, n)):
///   cosine[p] = <x_a, x_b> / (||x_a|| ||x_b||)
///   sqdist[p] = ||x_a - x_b||^2      (summed directly, not as |a|^2 + |b|^2 - 2<a,b>)
/// One pass over both rows per pair, float64 accumulation; the rows are never copied or
/// normalised in memory. Either output may be null to skip it. Throws std::invalid_argument
/// for an index outside [0, n), or, when cosine is requested, a pair with a zero-norm row.
/// Work O(npairs d), threaded over pairs.
void pair_similarity(const float* x, std::int64_t n, std::int64_t d, const std::int64_t* pairs,
                     std::int64_t npairs, double* cosine, double* sqdist, int nthreads = 0);
void pair_similarity(const double* x, std::int64_t n, std::int64_t d,
                     const std::int64_t* pairs, std::int64_t npairs, double* cosine,
                     double* sqdist, int nthreads = 0);

}  // namespace plmscope
