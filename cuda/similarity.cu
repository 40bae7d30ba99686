// Launchers of the similarity kernels: covariance accumulation and column sums (block
// programs in similarity_tile.h, shared with the host emulation test), row norms and
// pair-list distances (one warp per row or pair, device-only).
#include <cuda_runtime.h>
#include <math_constants.h>

#include <cmath>
#include <limits>
#include <vector>

#include "cuda_check.cuh"
#include "device_block.cuh"
#include "plmscope_cuda.h"
#include "similarity_tile.h"

namespace plmscope::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kRowThreads = 256;  // 8 warps: 8 rows or pairs per block at a time
constexpr int kReduceThreads = 256;

__global__ void __launch_bounds__(kCovThreads) covariance_kernel(const CovarianceParams p) {
  __shared__ float a[kCovRowsPerStage * kCovTile];
  __shared__ float b[kCovRowsPerStage * kCovTile];
  DeviceBlock<CovLocal> blk;
  covariance_block(p, a, b, blk);
}

__global__ void covariance_reduce_kernel(const CovarianceParams p) {
  const std::int64_t total = p.pairs * kCovTile * kCovTile;
  for (std::int64_t e = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; e < total;
       e += std::int64_t(gridDim.x) * blockDim.x)
    covariance_reduce_one(p, e);
}

__global__ void __launch_bounds__(kColumnThreads) column_sum_kernel(const ColumnSumParams p) {
  DeviceBlock<> blk;
  column_sum_block(p, blk);
}

__global__ void column_sum_reduce_kernel(const ColumnSumParams p) {
  for (std::int64_t j = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; j < p.d;
       j += std::int64_t(gridDim.x) * blockDim.x)
    column_sum_reduce_one(p, j);
}

__device__ __forceinline__ double warp_sum(double v) {
  for (int off = kWarp / 2; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

/// inv_norm[i] = 1 / ||x_i|| (float64); the first zero row (or N) in *first_zero.
__global__ void inverse_norms_kernel(const float* x, std::int64_t N, std::int64_t d,
                                     double* inv_norm, unsigned long long* first_zero) {
  const int lane = threadIdx.x % kWarp;
  const std::int64_t warps = std::int64_t(gridDim.x) * (blockDim.x / kWarp);
  for (std::int64_t i = (blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x) / kWarp; i < N;
       i += warps) {
    const float* row = x + i * d;
    double s = 0.0;
    for (std::int64_t j = lane; j < d; j += kWarp) {
      const double v = row[j];
      s += v * v;
    }
    s = warp_sum(s);
    if (lane == 0) {
      inv_norm[i] = s > 0.0 ? 1.0 / sqrt(s) : 0.0;
      if (!(s > 0.0)) atomicMin(first_zero, static_cast<unsigned long long>(i));
    }
  }
}

/// One warp per pair: dot, both squared norms and the squared distance in float64.
__global__ void pair_distances_kernel(const float* x, std::int64_t N, std::int64_t d,
                                      const std::int64_t* pairs, std::int64_t P, double* cosine,
                                      double* sq_euclidean) {
  const int lane = threadIdx.x % kWarp;
  const std::int64_t warps = std::int64_t(gridDim.x) * (blockDim.x / kWarp);
  for (std::int64_t p = (blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x) / kWarp; p < P;
       p += warps) {
    const std::int64_t i = pairs[2 * p], j = pairs[2 * p + 1];
    if (i < 0 || i >= N || j < 0 || j >= N) {
      if (lane == 0) {
        if (cosine) cosine[p] = CUDART_NAN;
        if (sq_euclidean) sq_euclidean[p] = CUDART_NAN;
      }
      continue;
    }
    const float* a = x + i * d;
    const float* b = x + j * d;
    double dot = 0.0, aa = 0.0, bb = 0.0, dd = 0.0;
    for (std::int64_t c = lane; c < d; c += kWarp) {
      const double u = a[c], v = b[c];
      dot += u * v;
      aa += u * u;
      bb += v * v;
      dd += (u - v) * (u - v);
    }
    dot = warp_sum(dot);
    aa = warp_sum(aa);
    bb = warp_sum(bb);
    dd = warp_sum(dd);
    if (lane == 0) {
      if (cosine) cosine[p] = aa > 0.0 && bb > 0.0 ? dot / sqrt(aa * bb) : CUDART_NAN;
      if (sq_euclidean) sq_euclidean[p] = dd;
    }
  }
}

int linear_grid(std::int64_t items, int threads, const DeviceLimits& lim) {
  return static_cast<int>(
      std::max<std::int64_t>(1, std::min<std::int64_t>(ceil_div(items, threads),
                                                        std::int64_t(lim.sms) * 16)));
}

void check_matrix(const float* x, std::int64_t rows, std::int64_t d, int device) {
  PLMSCOPE_CHECK(rows >= 0 && d >= 0, "x must have rows >= 0 and d >= 0, got " << rows << " x "
                                                                               << d);
  check_device_pointer(x, rows * d, device, "x");
  PLMSCOPE_CHECK(reinterpret_cast<std::uintptr_t>(x) % 4 == 0, "x is not aligned to 4 bytes");
}

/// out[j] += sum_i w_i x[i, j] in float64 (w = 1 when weights is null).
void column_sums(const float* x, const double* weights, std::int64_t rows, std::int64_t d,
                 double* out, const DeviceLimits& lim, cudaStream_t s) {
  ColumnSumParams p;
  p.x = x;
  p.weights = weights;
  p.rows = rows;
  p.d = d;
  p.out = out;
  p.col_blocks = ceil_div(d, kColumnThreads);
  choose_splits(rows, p.col_blocks, std::int64_t(lim.sms) * 8, 64, 1, p.splits,
                p.rows_per_split);
  StreamBuffer partial(std::size_t(p.splits) * d * sizeof(double), s);
  p.partial = partial.as<double>();
  const int grid = resident_grid(column_sum_kernel, kColumnThreads, 0, p.work_items(), lim);
  column_sum_kernel<<<grid, kColumnThreads, 0, s>>>(p);
  PLMSCOPE_CUDA_CHECK_LAUNCH("column_sum_kernel");
  column_sum_reduce_kernel<<<linear_grid(d, kReduceThreads, lim), kReduceThreads, 0, s>>>(p);
  PLMSCOPE_CUDA_CHECK_LAUNCH("column_sum_reduce_kernel");
}

}  // namespace

void covariance_accumulate(const float* x, std::int64_t rows, std::int64_t d, double* sum,
                           double* cross, int device, std::uintptr_t stream) {
  DeviceGuard guard(device);
  check_matrix(x, rows, d, device);
  check_device_pointer(sum, d, device, "sum");
  check_device_pointer(cross, d * d, device, "cross");
  if (rows == 0 || d == 0) return;
  const DeviceLimits lim = device_limits(device);
  const cudaStream_t s = as_stream(stream);
  column_sums(x, nullptr, rows, d, sum, lim, s);

  CovarianceParams p;
  p.x = x;
  p.rows = rows;
  p.d = d;
  p.cross = cross;
  p.sides = ceil_div(d, kCovTile);
  p.pairs = p.sides * (p.sides + 1) / 2;
  int per_sm = 0;
  PLMSCOPE_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, covariance_kernel,
                                                                    kCovThreads, 0));
  choose_splits(rows, p.pairs, std::int64_t(std::max(per_sm, 1)) * lim.sms * 2, 256,
                kCovRowsPerStage, p.splits, p.rows_per_split);
  StreamBuffer partial(std::size_t(p.splits) * p.pairs * kCovTile * kCovTile * sizeof(double), s);
  p.partial = partial.as<double>();
  const int grid = resident_grid(covariance_kernel, kCovThreads, 0, p.work_items(), lim);
  covariance_kernel<<<grid, kCovThreads, 0, s>>>(p);
  PLMSCOPE_CUDA_CHECK_LAUNCH("covariance_kernel");
  covariance_reduce_kernel<<<linear_grid(p.pairs * kCovTile * kCovTile, kReduceThreads, lim),
                             kReduceThreads, 0, s>>>(p);
  PLMSCOPE_CUDA_CHECK_LAUNCH("covariance_reduce_kernel");
}

double mean_pairwise_cosine(const float* x, std::int64_t N, std::int64_t d, int device,
                            std::uintptr_t stream) {
  PLMSCOPE_CHECK(N >= 2, "the mean pairwise cosine needs at least 2 rows, got N=" << N);
  PLMSCOPE_CHECK(d >= 1, "the mean pairwise cosine needs d >= 1, got d=" << d);
  DeviceGuard guard(device);
  check_matrix(x, N, d, device);
  const DeviceLimits lim = device_limits(device);
  const cudaStream_t s = as_stream(stream);
  StreamBuffer buf(std::size_t(N + d) * sizeof(double) + sizeof(unsigned long long), s);
  double* inv_norm = buf.as<double>();
  double* sum = inv_norm + N;
  auto* first_zero = reinterpret_cast<unsigned long long*>(sum + d);
  const unsigned long long none = static_cast<unsigned long long>(N);
  PLMSCOPE_CUDA_CHECK(cudaMemcpyAsync(first_zero, &none, sizeof(none), cudaMemcpyHostToDevice, s));
  PLMSCOPE_CUDA_CHECK(cudaMemsetAsync(sum, 0, d * sizeof(double), s));
  inverse_norms_kernel<<<linear_grid(N * kWarp, kRowThreads, lim), kRowThreads, 0, s>>>(
      x, N, d, inv_norm, first_zero);
  PLMSCOPE_CUDA_CHECK_LAUNCH("inverse_norms_kernel");
  column_sums(x, inv_norm, N, d, sum, lim, s);
  std::vector<double> host(d);
  unsigned long long zero_row = 0;
  PLMSCOPE_CUDA_CHECK(cudaMemcpyAsync(host.data(), sum, d * sizeof(double),
                                      cudaMemcpyDeviceToHost, s));
  PLMSCOPE_CUDA_CHECK(cudaMemcpyAsync(&zero_row, first_zero, sizeof(zero_row),
                                      cudaMemcpyDeviceToHost, s));
  PLMSCOPE_CUDA_CHECK(cudaStreamSynchronize(s));
  PLMSCOPE_CHECK(zero_row == none, "row " << zero_row
                                          << " of x has zero (or NaN) norm: its cosine similarity "
                                             "is undefined; drop such rows first");
  double s2 = 0.0;
  for (double v : host) s2 += v * v;
  return (s2 - double(N)) / (double(N) * double(N - 1));
}

void pair_distances(const float* x, std::int64_t N, std::int64_t d, const std::int64_t* pairs,
                    std::int64_t P, double* cosine, double* sq_euclidean, int device,
                    std::uintptr_t stream) {
  PLMSCOPE_CHECK(P >= 0, "P must be >= 0, got " << P);
  DeviceGuard guard(device);
  check_matrix(x, N, d, device);
  check_device_pointer(pairs, 2 * P, device, "pairs");
  if (cosine) check_device_pointer(cosine, P, device, "cosine");
  if (sq_euclidean) check_device_pointer(sq_euclidean, P, device, "sq_euclidean");
  if (P == 0) return;
  const DeviceLimits lim = device_limits(device);
  const cudaStream_t s = as_stream(stream);
  pair_distances_kernel<<<linear_grid(P * kWarp, kRowThreads, lim), kRowThreads, 0, s>>>(
      x, N, d, pairs, P, cosine, sq_euclidean);
  PLMSCOPE_CUDA_CHECK_LAUNCH("pair_distances_kernel");
}

}  // namespace plmscope::cuda
