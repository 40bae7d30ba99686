// Launchers of the sparse-series kernels; the block programs are in sparse_series_tile.h
// (shared with the host emulation test).
#include <cuda_runtime.h>

#include "cuda_check.cuh"
#include "device_block.cuh"
#include "plmscope_cuda.h"
#include "sparse_series_tile.h"

namespace plmscope::cuda {
namespace {

constexpr int kPrepareThreads = 128;

__global__ void series_prepare_kernel(const SparseSeriesParams p) {
  for (std::int64_t k = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; k < p.K;
       k += std::int64_t(gridDim.x) * blockDim.x)
    series_prepare_one(p, k);
}

template <class Traits>
__global__ void __launch_bounds__(kSeriesPoints) series_evaluate_kernel(const SparseSeriesParams p) {
  extern __shared__ __align__(16) unsigned char smem[];
  DeviceBlock<> blk;
  sparse_series_block<Traits>(p, smem, blk);
}

template <class Traits>
void launch_evaluate(const SparseSeriesParams& p, const DeviceLimits& lim, cudaStream_t s) {
  auto kernel = series_evaluate_kernel<Traits>;
  const std::size_t smem = p.shared_bytes();
  const int grid = resident_grid(kernel, p.points, smem, p.tiles(), lim);
  kernel<<<grid, p.points, smem, s>>>(p);
  PLMSCOPE_CUDA_CHECK_LAUNCH("series_evaluate_kernel");
}

}  // namespace

void sparse_series_evaluate(const std::uint8_t* freqs, const std::complex<double>* values,
                            std::int64_t K, int n, int q, const std::uint8_t* x, std::int64_t M,
                            double* out, int device, std::uintptr_t stream) {
  PLMSCOPE_CHECK(q >= 2 && q <= 256, "q must be in [2, 256], got q=" << q);
  PLMSCOPE_CHECK(n >= 0 && n <= kSeriesMaxSites,
                 "the GPU evaluate handles n <= " << kSeriesMaxSites << " sites, got n=" << n
                                                  << "; use the CPU path");
  PLMSCOPE_CHECK(K >= 0 && M >= 0, "K and M must be >= 0, got K=" << K << ", M=" << M);
  if (M == 0) return;
  DeviceGuard guard(device);
  check_device_pointer(freqs, K * n, device, "frequencies");
  check_device_pointer(values, K, device, "values");
  check_device_pointer(x, M * n, device, "x");
  check_device_pointer(out, M, device, "out");
  PLMSCOPE_CHECK(reinterpret_cast<std::uintptr_t>(values) % 16 == 0 &&
                     reinterpret_cast<std::uintptr_t>(out) % 8 == 0,
                 "values and out must be aligned to their element size");
  const DeviceLimits lim = device_limits(device);
  const cudaStream_t s = as_stream(stream);
  if (K == 0) {
    PLMSCOPE_CUDA_CHECK(cudaMemsetAsync(out, 0, M * sizeof(double), s));
    return;
  }

  // Scratch for the prepared frequencies: table (8-byte aligned) first.
  const std::size_t table_bytes = std::size_t(K) * q * sizeof(double);
  const std::size_t order_bytes = std::size_t(K) * sizeof(int);
  const std::size_t bytes_n = std::size_t(K) * n;
  StreamBuffer scratch(table_bytes + order_bytes + 2 * bytes_n + 16, s);
  unsigned char* base = scratch.as<unsigned char>();

  SparseSeriesParams p;
  p.freqs = freqs;
  p.values = reinterpret_cast<const Cplx<double>*>(values);
  p.table = reinterpret_cast<double*>(base);
  p.order = reinterpret_cast<int*>(base + table_bytes);
  p.sites = base + table_bytes + order_bytes;
  p.mults = p.sites + bytes_n;
  p.K = K;
  p.n = n;
  p.q = q;
  p.x = x;
  p.out = out;
  p.M = M;
  p.points = kSeriesPoints;
  p.k_chunk = series_k_chunk(n, q, p.points);

  const int prep_grid = static_cast<int>(std::min<std::int64_t>(ceil_div(K, kPrepareThreads),
                                                                 std::int64_t(lim.sms) * 8));
  series_prepare_kernel<<<prep_grid, kPrepareThreads, 0, s>>>(p);
  PLMSCOPE_CUDA_CHECK_LAUNCH("series_prepare_kernel");

  const bool specialised = dispatch_int<2, 3, 4, 5, 8, 20>(q, [&](auto qc) {
    launch_evaluate<SeriesTraits<decltype(qc)::value>>(p, lim, s);
  });
  if (!specialised) launch_evaluate<SeriesTraits<0>>(p, lim, s);
}

}  // namespace plmscope::cuda
