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
  std::int64_t chunk_bytes = 0;  ///< rows taken together through all passes (<0: all rows)
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

/// Streaming covariance: sum[j] += sum_i x[i, j] and cross[j, l] += sum_i x[i, j] x[i, l]
/// over the rows of one row-major float32 chunk x (rows x d), accumulated in float64 (both
/// triangles of cross written; deterministic: no atomics). O(rows d^2).
void covariance_accumulate(const float* x, std::int64_t rows, std::int64_t d, double* sum,
                           double* cross, int device, std::uintptr_t stream);

/// Mean cosine similarity over the N (N - 1) ordered pairs of distinct rows of x (N x d,
/// float32), as (||sum_i u_i||^2 - N) / (N (N - 1)) with u_i = x_i / ||x_i|| in float64.
/// Needs N >= 2 and no zero row (std::invalid_argument names the first). Waits for the
/// stream (the result is returned). O(N d).
double mean_pairwise_cosine(const float* x, std::int64_t N, std::int64_t d, int device,
                            std::uintptr_t stream);

/// For each of the P pairs (i, j) (row-major P x 2 int64 indices into the N rows of x):
/// cosine[p] = <x_i, x_j> / (||x_i|| ||x_j||) (NaN when either norm is 0) and
/// sq_euclidean[p] = ||x_i - x_j||^2, float64 accumulation; either output may be null.
/// Indices must be in [0, N) (the caller checks; others give NaN, never a fault). O(P d).
void pair_distances(const float* x, std::int64_t N, std::int64_t d, const std::int64_t* pairs,
                    std::int64_t P, double* cosine, double* sq_euclidean, int device,
                    std::uintptr_t stream);

}  // namespace plmscope::cuda
