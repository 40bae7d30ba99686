// Launchers of the similarity kernels: covariance accumulation and column sums (block
// programs in similarity_tile.h, shared with the host emulation test), row norms and
// pair-list similarity (one warp per row or pair, device-only).
#include <cuda_runtime.h>
#include <math_constants.h>

#include <cmath>

#include "cuda_check.cuh"
#include "device_block.cuh"
#include "plmscope_cuda.h"
#include "similarity_tile.h"

namespace plmscope::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kRowThreads = 256;  // 8 warps: 8 rows or pairs per block at a time
constexpr int kReduceThreads = 256;
constexpr unsigned long long kNone = ~0ull;

__global__ void __launch_bounds__(kCovThreads) covariance_kernel(const CovarianceParams p) {
  __shared__ double a[kCovRowsPerStage * kCovTile];
  __shared__ double b[kCovRowsPerStage * kCovTile];
  DeviceBlock<CovLocal> blk;
  covariance_block(p, a, b, blk);
}

__global__ void covariance_reduce_kernel(const CovarianceParams p) {
  const std::int64_t total = p.pairs * kCovTile * kCovTile;
  for (std::int64_t e = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; e < total;
       e += std::int64_t(gridDim.x) * blockDim.x)
    covariance_reduce_one(p, e);
}

template <class X>
__global__ void __launch_bounds__(kColumnThreads) column_sum_kernel(const ColumnSumParams<X> p) {
  DeviceBlock<> blk;
  column_sum_block(p, blk);
}

template <class X>
__global__ void column_sum_reduce_kernel(const ColumnSumParams<X> p) {
  for (std::int64_t j = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; j < p.d;
       j += std::int64_t(gridDim.x) * blockDim.x)
    column_sum_reduce_one(p, j);
}

__device__ __forceinline__ double warp_sum(double v) {
  for (int off = kWarp / 2; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

/// inv_norm[i] = 1 / ||x_i|| (float64); the first row of zero or non-finite norm in *bad.
template <class X>
__global__ void inverse_norms_kernel(const X* x, std::int64_t n, std::int64_t d,
                                     double* inv_norm, unsigned long long* bad) {
  const int lane = threadIdx.x % kWarp;
  const std::int64_t warps = std::int64_t(gridDim.x) * (blockDim.x / kWarp);
  for (std::int64_t i = (blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x) / kWarp; i < n;
       i += warps) {
    const X* row = x + i * d;
    double s = 0.0;
    for (std::int64_t j = lane; j < d; j += kWarp) {
      const double v = row[j];
      s += v * v;
    }
    s = warp_sum(s);
    if (lane == 0) {
      const bool ok = s > 0.0 && isfinite(s);
      inv_norm[i] = ok ? 1.0 / sqrt(s) : 0.0;
      if (!ok) atomicMin(bad, static_cast<unsigned long long>(i));
    }
  }
}

/// One warp per pair: dot, both squared norms and the squared distance in float64. The
/// first pair with an index outside [0, n) goes to bad[0], the first with a zero-norm row
/// (when cosine is wanted) to bad[1].
template <class X>
__global__ void pair_similarity_kernel(const X* x, std::int64_t n, std::int64_t d,
                                       const std::int64_t* pairs, std::int64_t npairs,
                                       double* cosine, double* sqdist, unsigned long long* bad) {
  const int lane = threadIdx.x % kWarp;
  const std::int64_t warps = std::int64_t(gridDim.x) * (blockDim.x / kWarp);
  for (std::int64_t p = (blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x) / kWarp;
       p < npairs; p += warps) {
    const std::int64_t i = pairs[2 * p], j = pairs[2 * p + 1];
    if (i < 0 || i >= n || j < 0 || j >= n) {
      if (lane == 0) {
        atomicMin(bad, static_cast<unsigned long long>(p));
        if (cosine) cosine[p] = CUDART_NAN;
        if (sqdist) sqdist[p] = CUDART_NAN;
      }
      continue;
    }
    const X* a = x + i * d;
    const X* b = x + j * d;
    double dot = 0.0, aa = 0.0, bb = 0.0, dd = 0.0;
    for (std::int64_t c = lane; c < d; c += kWarp) {
      const double u = a[c], v = b[c];
      dot += u * v;
      aa += u * u;
      bb += v * v;
      dd += (u - v) * (u - v);
    }
    dd = warp_sum(dd);
    if (cosine) {
      dot = warp_sum(dot);
      aa = warp_sum(aa);
      bb = warp_sum(bb);
    }
    if (lane == 0) {
      if (cosine) {
        const bool ok = aa > 0.0 && bb > 0.0 && isfinite(aa * bb);
        cosine[p] = ok ? dot / sqrt(aa * bb) : CUDART_NAN;
        if (!ok) atomicMin(bad + 1, static_cast<unsigned long long>(p));
      }
      if (sqdist) sqdist[p] = dd;
    }
  }
}

int linear_grid(std::int64_t items, int threads, const DeviceLimits& lim) {
  return static_cast<int>(
      std::max<std::int64_t>(1, std::min<std::int64_t>(ceil_div(items, threads),
                                                        std::int64_t(lim.sms) * 16)));
}

template <class X>
void check_matrix(const X* x, std::int64_t n, std::int64_t d, int device) {
  PLMSCOPE_CHECK(n >= 0, "the number of rows must be >= 0, got n=" << n);
  PLMSCOPE_CHECK(d >= 0, "the dimension must be >= 0, got d=" << d);
  check_device_pointer(x, n * d, device, "x");
  PLMSCOPE_CHECK(reinterpret_cast<std::uintptr_t>(x) % sizeof(X) == 0,
                 "x is not aligned to " << sizeof(X) << " bytes");
}

/// out[j] += sum_i w_i (x[i, j] - shift[j]) in float64 (w = 1, shift = 0 when null).
template <class X>
void column_sums(const X* x, const double* weights, const double* shift, std::int64_t rows,
                 std::int64_t d, double* out, const DeviceLimits& lim, cudaStream_t s) {
  ColumnSumParams<X> p;
  p.x = x;
  p.weights = weights;
  p.shift = shift;
  p.rows = rows;
  p.d = d;
  p.out = out;
  p.col_blocks = ceil_div(d, kColumnThreads);
  choose_splits(rows, p.col_blocks, std::int64_t(lim.sms) * 8, 64, 1, p.splits,
                p.rows_per_split);
  StreamBuffer partial(std::size_t(p.splits) * d * sizeof(double), s);
  p.partial = partial.as<double>();
  const int grid = resident_grid(column_sum_kernel<X>, kColumnThreads, 0, p.work_items(), lim);
  column_sum_kernel<X><<<grid, kColumnThreads, 0, s>>>(p);
  PLMSCOPE_CUDA_CHECK_LAUNCH("column_sum_kernel");
  column_sum_reduce_kernel<X><<<linear_grid(d, kReduceThreads, lim), kReduceThreads, 0, s>>>(p);
  PLMSCOPE_CUDA_CHECK_LAUNCH("column_sum_reduce_kernel");
}

/// Device flags initialised to kNone, read back after the queued work (waits for s).
class Flags {
 public:
  Flags(int count, cudaStream_t s) : count_(count), s_(s), buf_(count * sizeof(unsigned long long), s) {
    PLMSCOPE_CUDA_CHECK(cudaMemsetAsync(buf_.as<void>(), 0xff, count * sizeof(unsigned long long), s));
  }
  unsigned long long* device() const { return buf_.as<unsigned long long>(); }
  void read(unsigned long long* host) const {
    PLMSCOPE_CUDA_CHECK(cudaMemcpyAsync(host, device(), count_ * sizeof(unsigned long long),
                                        cudaMemcpyDeviceToHost, s_));
    PLMSCOPE_CUDA_CHECK(cudaStreamSynchronize(s_));
  }

 private:
  int count_;
  cudaStream_t s_;
  StreamBuffer buf_;
};

template <class X>
void unit_sum_impl(const X* x, std::int64_t n, std::int64_t d, double* unit_sum, int device,
                   std::uintptr_t stream) {
  DeviceGuard guard(device);
  check_matrix(x, n, d, device);
  check_device_pointer(unit_sum, d, device, "unit_sum");
  if (n == 0) return;
  const DeviceLimits lim = device_limits(device);
  const cudaStream_t s = as_stream(stream);
  StreamBuffer inv_norm(std::size_t(n) * sizeof(double), s);
  Flags bad(1, s);
  inverse_norms_kernel<X><<<linear_grid(n * kWarp, kRowThreads, lim), kRowThreads, 0, s>>>(
      x, n, d, inv_norm.as<double>(), bad.device());
  PLMSCOPE_CUDA_CHECK_LAUNCH("inverse_norms_kernel");
  unsigned long long first = kNone;
  bad.read(&first);  // before touching unit_sum: a failed call leaves it unchanged
  PLMSCOPE_CHECK(first == kNone, "row " << first
                                        << " has norm 0 (or non-finite): the cosine of a zero "
                                           "(or non-finite) vector is undefined; drop such rows "
                                           "first");
  if (d > 0) column_sums(x, inv_norm.as<double>(), nullptr, n, d, unit_sum, lim, s);
}

template <class X>
void pair_similarity_impl(const X* x, std::int64_t n, std::int64_t d, const std::int64_t* pairs,
                          std::int64_t npairs, double* cosine, double* sqdist, int device,
                          std::uintptr_t stream) {
  PLMSCOPE_CHECK(npairs >= 0, "npairs must be >= 0, got " << npairs);
  DeviceGuard guard(device);
  check_matrix(x, n, d, device);
  check_device_pointer(pairs, 2 * npairs, device, "pairs");
  if (cosine) check_device_pointer(cosine, npairs, device, "cosine");
  if (sqdist) check_device_pointer(sqdist, npairs, device, "sqdist");
  if (npairs == 0) return;
  const DeviceLimits lim = device_limits(device);
  const cudaStream_t s = as_stream(stream);
  Flags bad(2, s);
  pair_similarity_kernel<X><<<linear_grid(npairs * kWarp, kRowThreads, lim), kRowThreads, 0, s>>>(
      x, n, d, pairs, npairs, cosine, sqdist, bad.device());
  PLMSCOPE_CUDA_CHECK_LAUNCH("pair_similarity_kernel");
  unsigned long long first[2] = {kNone, kNone};
  bad.read(first);
  if (first[0] != kNone) {
    std::int64_t ij[2];
    PLMSCOPE_CUDA_CHECK(cudaMemcpy(ij, pairs + 2 * first[0], sizeof(ij), cudaMemcpyDeviceToHost));
    const int col = ij[0] >= 0 && ij[0] < n ? 1 : 0;
    PLMSCOPE_CHECK(false, "pairs[" << first[0] << ", " << col << "] = " << ij[col]
                                   << " is not a row index in [0, n=" << n << ")");
  }
  if (first[1] != kNone) {
    std::int64_t ij[2];
    PLMSCOPE_CUDA_CHECK(cudaMemcpy(ij, pairs + 2 * first[1], sizeof(ij), cudaMemcpyDeviceToHost));
    PLMSCOPE_CHECK(false, "pair " << first[1] << " (rows " << ij[0] << ", " << ij[1]
                                  << ") has a row of norm 0 (or non-finite): its cosine is "
                                     "undefined; drop zero rows first");
  }
}

}  // namespace

void covariance_accumulate(const float* x, std::int64_t n, std::int64_t d, const double* shift,
                           double* sum, double* scatter, int device, std::uintptr_t stream) {
  DeviceGuard guard(device);
  check_matrix(x, n, d, device);
  check_device_pointer(shift, d, device, "shift");
  check_device_pointer(sum, d, device, "sum");
  check_device_pointer(scatter, d * d, device, "scatter");
  if (n == 0 || d == 0) return;
  const DeviceLimits lim = device_limits(device);
  const cudaStream_t s = as_stream(stream);
  column_sums(x, nullptr, shift, n, d, sum, lim, s);

  CovarianceParams p;
  p.x = x;
  p.shift = shift;
  p.rows = n;
  p.d = d;
  p.scatter = scatter;
  p.sides = ceil_div(d, kCovTile);
  p.pairs = p.sides * (p.sides + 1) / 2;
  int per_sm = 0;
  PLMSCOPE_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, covariance_kernel,
                                                                    kCovThreads, 0));
  choose_splits(n, p.pairs, std::int64_t(std::max(per_sm, 1)) * lim.sms * 2, 256,
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

void unit_sum_accumulate(const float* x, std::int64_t n, std::int64_t d, double* unit_sum,
                         int device, std::uintptr_t stream) {
  unit_sum_impl(x, n, d, unit_sum, device, stream);
}
void unit_sum_accumulate(const double* x, std::int64_t n, std::int64_t d, double* unit_sum,
                         int device, std::uintptr_t stream) {
  unit_sum_impl(x, n, d, unit_sum, device, stream);
}
void pair_similarity(const float* x, std::int64_t n, std::int64_t d, const std::int64_t* pairs,
                     std::int64_t npairs, double* cosine, double* sqdist, int device,
                     std::uintptr_t stream) {
  pair_similarity_impl(x, n, d, pairs, npairs, cosine, sqdist, device, stream);
}
void pair_similarity(const double* x, std::int64_t n, std::int64_t d,
                     const std::int64_t* pairs, std::int64_t npairs, double* cosine,
                     double* sqdist, int device, std::uintptr_t stream) {
  pair_similarity_impl(x, n, d, pairs, npairs, cosine, sqdist, device, stream);
}

}  // namespace plmscope::cuda
