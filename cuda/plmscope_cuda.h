#pragma once
/// Host-side entry points of the CUDA kernels. Plain C++: no CUDA types, so the bindings
/// can include it without nvcc. Pointers are device pointers (device or managed memory of
/// `device`, checked); `stream` is a cudaStream_t as an integer (0 = the legacy default
/// stream). Work is queued on `stream` and the calls return without waiting for it, except
/// where a result is returned by value. Argument errors throw std::invalid_argument, CUDA
/// errors std::runtime_error. Thread-safe for distinct outputs.
#include <complex>
#include <cstdint>

namespace plmscope::cuda {

/// Number of CUDA devices visible to this process (0 when no driver or device).
int device_count();

/// Ordinal of the device owning `ptr` (device or managed memory); throws
/// std::invalid_argument for host or unknown memory.
int pointer_device(std::uintptr_t ptr);

/// Launch shape of the transform; 0 means automatic. Exposed for the benchmark's sweeps.
struct FftTuning {
  int tile_bytes = 0;            ///< shared memory per block (tile plus root table)
  std::int64_t chunk_bytes = 0;  ///< bytes of rows taken through all passes together (0: 60%
                                 ///< of L2, <0: all rows at once)
  int threads = 0;               ///< threads per block (32..512, multiple of 32)
};

/// In-place batched q-ary FFT of `batch` contiguous rows of q^n values, 2 <= q <= 32, with
/// the layout and normalisation of plmscope::qary_fft (cpp/include/plmscope/qary_fft.h).
/// About ceil(n / digits-per-tile) passes over the data (two for q = 20, n = 5).
void qary_fft(std::complex<float>* data, std::int64_t batch, int q, int n, bool inverse,
              int device, std::uintptr_t stream, const FftTuning& tuning = {});
void qary_fft(std::complex<double>* data, std::int64_t batch, int q, int n, bool inverse,
              int device, std::uintptr_t stream, const FftTuning& tuning = {});

/// In-place batched Walsh-Hadamard transform of real rows of 2^n values (forward divides
/// by 2^n), as plmscope::walsh_hadamard.
void walsh_hadamard(float* data, std::int64_t batch, int n, bool inverse, int device,
                    std::uintptr_t stream, const FftTuning& tuning = {});
void walsh_hadamard(double* data, std::int64_t batch, int n, bool inverse, int device,
                    std::uintptr_t stream, const FftTuning& tuning = {});

/// out[m] = Re sum_k values[k] omega^(<freqs[k], x[m]> mod q), as
/// plmscope::sparse_series_evaluate: freqs K x n and x M x n bytes (every entry < q),
/// values K complex128, out M float64. 2 <= q <= 256, n <= 256. Entries >= q are not
/// checked on the device (the caller checks); they give wrong values, never a fault.
void sparse_series_evaluate(const std::uint8_t* freqs, const std::complex<double>* values,
                            std::int64_t K, int n, int q, const std::uint8_t* x, std::int64_t M,
                            double* out, int device, std::uintptr_t stream);

// ---- similarity kernels: the meaning of cpp/include/plmscope/similarity.h -------------

/// Streaming covariance about a fixed shift, float64 throughout:
///   sum[j] += sum_i (x[i,j] - shift[j]),
///   scatter[j*d+k] += sum_i (x[i,j] - shift[j]) (x[i,k] - shift[k])  for j <= k
/// (upper triangle only; the lower one is left untouched), x row-major n x d float32.
/// Deterministic (no atomics). O(n d^2) multiply-adds on the GPU's float64 units.
void covariance_accumulate(const float* x, std::int64_t n, std::int64_t d, const double* shift,
                           double* sum, double* scatter, int device, std::uintptr_t stream);

/// unit_sum[j] += sum_i x[i,j] / ||x_i|| in float64. Waits for the stream, to throw
/// std::invalid_argument naming the first row of zero (or non-finite) norm. O(n d).
void unit_sum_accumulate(const float* x, std::int64_t n, std::int64_t d, double* unit_sum,
                         int device, std::uintptr_t stream);
void unit_sum_accumulate(const double* x, std::int64_t n, std::int64_t d, double* unit_sum,
                         int device, std::uintptr_t stream);

/// For the pair p = (pairs[2p], pairs[2p+1]) of rows of x (n x d):
/// cosine[p] = <x_a, x_b> / (||x_a|| ||x_b||), sqdist[p] = ||x_a - x_b||^2 (summed directly),
/// float64 accumulation, one warp per pair; either output may be null. Waits for the stream,
/// to throw std::invalid_argument for an index outside [0, n) or, when cosine is requested, a
/// pair with a zero-norm row. O(npairs d).
void pair_similarity(const float* x, std::int64_t n, std::int64_t d, const std::int64_t* pairs,
                     std::int64_t npairs, double* cosine, double* sqdist, int device,
                     std::uintptr_t stream);
void pair_similarity(const double* x, std::int64_t n, std::int64_t d,
                     const std::int64_t* pairs, std::int64_t npairs, double* cosine,
                     double* sqdist, int device, std::uintptr_t stream);

}  // namespace plmscope::cuda
