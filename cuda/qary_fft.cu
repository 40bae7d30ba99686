// Launchers of the q-ary FFT and Walsh-Hadamard kernels; the block program is in
// qary_fft_tile.h (shared with the host emulation test).
#include <cuda_runtime.h>

#include <limits>

#include "cuda_check.cuh"
#include "device_block.cuh"
#include "plmscope_cuda.h"
#include "qary_fft_tile.h"

namespace plmscope::cuda {
namespace {

constexpr int kMaxFftThreads = 512;   // __launch_bounds__: up to 128 registers per thread
constexpr int kDefaultThreads = 512;
constexpr int kSmallTileBytes = 64 * 1024 + 512;   // every arch from sm_75 opts in to this
constexpr int kLargeTileBytes = 128 * 1024 + 512;  // sm_80 / sm_90: two passes for 2^26, 20^5

template <class Traits>
__global__ void __launch_bounds__(kMaxFftThreads) qary_fft_pass_kernel(const QaryFftParams p) {
  using T = typename Traits::Real;
  extern __shared__ __align__(16) unsigned char smem[];
  auto* roots = reinterpret_cast<Cplx<T>*>(smem);
  auto* tile = reinterpret_cast<typename Traits::Elem*>(smem + kMaxFftRadix * sizeof(Cplx<T>));
  DeviceBlock<> blk;
  qary_fft_block<Traits>(p, tile, roots, blk);
}

template <class Traits>
void launch_pass(const QaryFftParams& p, int threads, const DeviceLimits& lim,
                 cudaStream_t stream) {
  auto kernel = qary_fft_pass_kernel<Traits>;
  const std::size_t smem = fft_shared_bytes<typename Traits::Elem>(p.tile_elements());
  PLMSCOPE_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  const int grid = resident_grid(kernel, threads, smem, p.tiles, lim);
  kernel<<<grid, threads, smem, stream>>>(p);
  PLMSCOPE_CUDA_CHECK_LAUNCH("qary_fft_pass_kernel");
}

template <class E>
void transform(E* data, std::int64_t batch, int q, int n, bool inverse, int device,
               std::uintptr_t stream, const FftTuning& tuning) {
  PLMSCOPE_CHECK(q >= 2 && q <= kMaxFftRadix,
                 "the GPU qary_fft handles 2 <= q <= 32, got q=" << q << "; use the CPU path");
  PLMSCOPE_CHECK(n >= 0, "n must be >= 0, got n=" << n);
  PLMSCOPE_CHECK(batch >= 0, "batch must be >= 0, got " << batch);
  std::int64_t len = 1;
  for (int i = 0; i < n; ++i) {
    PLMSCOPE_CHECK(len <= std::numeric_limits<std::int64_t>::max() / q / std::max<std::int64_t>(batch, 1),
                   "batch * q^n overflows int64 for q=" << q << ", n=" << n);
    len *= q;
  }
  if (batch == 0 || n == 0) return;
  DeviceGuard guard(device);
  check_device_pointer(data, batch * len, device, "data");
  PLMSCOPE_CHECK(reinterpret_cast<std::uintptr_t>(data) % alignof(E) == 0,
                 "data is not aligned to " << alignof(E) << " bytes");
  const DeviceLimits lim = device_limits(device);

  int tile_bytes = tuning.tile_bytes;
  if (tile_bytes == 0)
    tile_bytes = lim.smem_optin >= kLargeTileBytes ? kLargeTileBytes
                                                   : std::min(kSmallTileBytes, lim.smem_optin);
  const int root_bytes = int(fft_shared_bytes<E>(0));
  const int min_width = std::max<int>(1, 32 / int(sizeof(E)));  // one 32-byte sector
  PLMSCOPE_CHECK(tile_bytes <= lim.smem_optin && tile_bytes - root_bytes >=
                     int(sizeof(E)) * q * min_width,
                 "tile_bytes=" << tile_bytes << " must be in [" << root_bytes + sizeof(E) * q * min_width
                               << ", " << lim.smem_optin << "] on this device");
  const int capacity = (tile_bytes - root_bytes) / int(sizeof(E));
  const int threads = tuning.threads ? tuning.threads : kDefaultThreads;
  PLMSCOPE_CHECK(threads >= 32 && threads <= kMaxFftThreads && threads % 32 == 0,
                 "threads=" << threads << " must be a multiple of 32 in [32, " << kMaxFftThreads
                            << "]");

  // Rows go through all passes a chunk at a time when a chunk fits in 60% of the L2 cache
  // (one q = 20, n = 5 complex64 row of 25.6 MB on an H100's 50 MB), so the second pass can
  // read what the first left there.
  std::int64_t chunk_rows = batch;
  const std::int64_t row_bytes = len * std::int64_t(sizeof(E));
  const std::int64_t chunk_bytes =
      tuning.chunk_bytes ? tuning.chunk_bytes : std::int64_t(lim.l2_bytes) * 3 / 5;
  if (chunk_bytes > 0 && row_bytes <= chunk_bytes &&
      plan_qary_fft(q, n, 1, capacity, min_width).size() > 1)
    chunk_rows = chunk_bytes / row_bytes;

  const cudaStream_t s = as_stream(stream);
  run_qary_fft(data, batch, q, n, inverse, capacity, min_width, chunk_rows,
               [&](const QaryFftParams& p) {
    bool ok;
    if constexpr (IsComplex<E>::value) {
      ok = dispatch_int<2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                        22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32>(q, [&](auto qc) {
        launch_pass<FftTraits<E, decltype(qc)::value>>(p, threads, lim, s);
      });
    } else {
      ok = dispatch_int<2>(q, [&](auto qc) {
        launch_pass<FftTraits<E, decltype(qc)::value>>(p, threads, lim, s);
      });
    }
    PLMSCOPE_CHECK(ok, "no GPU qary_fft kernel for q=" << q);
  });
}

}  // namespace

void qary_fft(std::complex<float>* data, std::int64_t batch, int q, int n, bool inverse,
              int device, std::uintptr_t stream, const FftTuning& tuning) {
  transform(reinterpret_cast<Cplx<float>*>(data), batch, q, n, inverse, device, stream, tuning);
}
void qary_fft(std::complex<double>* data, std::int64_t batch, int q, int n, bool inverse,
              int device, std::uintptr_t stream, const FftTuning& tuning) {
  transform(reinterpret_cast<Cplx<double>*>(data), batch, q, n, inverse, device, stream, tuning);
}
void walsh_hadamard(float* data, std::int64_t batch, int n, bool inverse, int device,
                    std::uintptr_t stream, const FftTuning& tuning) {
  transform(data, batch, 2, n, inverse, device, stream, tuning);
}
void walsh_hadamard(double* data, std::int64_t batch, int n, bool inverse, int device,
                    std::uintptr_t stream, const FftTuning& tuning) {
  transform(data, batch, 2, n, inverse, device, stream, tuning);
}

}  // namespace plmscope::cuda
