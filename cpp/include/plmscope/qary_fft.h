#pragma once
/// The q-ary Fourier transform over Z_q^n.
///
/// A function on Z_q^n is stored flat, most-significant site first:
/// index(x) = sum_i x_i q^(n-1-i). With omega = exp(2 pi i / q):
///   forward  F[k] = q^-n sum_x f(x) omega^-<k,x>
///   inverse  f(x) =      sum_k F[k] omega^+<k,x>
/// (numpy: fftn(f.reshape([q]*n)) / q**n, and ifftn(...) * q**n).
///
/// The transform runs in place, one n-dimensional transform per row of a (batch, q^n)
/// array. Work is O(batch q^n n c(q)), where c(q) is the cost of one length-q DFT per point:
/// hand-written butterflies for q in {2, 3, 4, 5, 8, 20} (20 = 4 x 5 by the prime-factor
/// algorithm, no twiddles), a direct O(q) product otherwise. Sites whose stride fits in cache
/// are done block by block; the remaining sites are done on column panels gathered into a
/// per-thread buffer, so the data crosses memory about twice whatever n is.
///
/// Thread-safe (distinct arrays); uses up to `nthreads` threads (0 = all cores).
#include <complex>
#include <cstdint>

namespace plmscope {

/// Length q^n after checking q >= 2, n >= 0 and that q^n fits in int64.
std::int64_t qary_length(int q, int n);

/// n such that q^n == length; throws std::invalid_argument if length is not a power of q.
int qary_log(std::int64_t length, int q);

/// In-place batched transform of `batch` contiguous rows of q^n complex values.
void qary_fft(std::complex<double>* data, std::int64_t batch, int q, int n, bool inverse,
              int nthreads = 0);
void qary_fft(std::complex<float>* data, std::int64_t batch, int q, int n, bool inverse,
              int nthreads = 0);

/// In-place batched Walsh-Hadamard transform (the q = 2 transform of real data). Forward
/// divides by 2^n, inverse does not.
void walsh_hadamard(double* data, std::int64_t batch, int n, bool inverse, int nthreads = 0);
void walsh_hadamard(float* data, std::int64_t batch, int n, bool inverse, int nthreads = 0);

/// Out of place: `out` = the transform of `in` (both `batch` rows of q^n, not overlapping).
/// Each cache block is copied just before it is transformed, so the data crosses memory
/// once less than a copy followed by the in-place transform; bit for bit the same result.
void qary_fft(const std::complex<double>* in, std::complex<double>* out, std::int64_t batch,
              int q, int n, bool inverse, int nthreads = 0);
void qary_fft(const std::complex<float>* in, std::complex<float>* out, std::int64_t batch,
              int q, int n, bool inverse, int nthreads = 0);
void walsh_hadamard(const double* in, double* out, std::int64_t batch, int n, bool inverse,
                    int nthreads = 0);
void walsh_hadamard(const float* in, float* out, std::int64_t batch, int n, bool inverse,
                    int nthreads = 0);

/// The forward transform of gathered, shifted real values, written with an untransformed
/// inner axis: for every row r < rows, transform position x < q^n and j < inner,
///   out[(r * q^n + x) * inner + j] = values[index[(r * inner + j) * q^n + x]] - shift,
/// then the forward q-ary transform of each (r, j) over x (bit for bit what qary_fft gives
/// on that gathered row). One fused pass gathers each cache block and transforms it while
/// it is still in cache, and the inner layout spares a transposed copy afterwards (q-SFT:
/// rows = groups, inner = delays, out = the bins the peeling decoder reads). Every index
/// must lie in [0, num_values) (std::invalid_argument otherwise). Thread-safe; uses up to
/// `nthreads` threads (0 = all cores).
void qary_fft_gather(const double* values, std::int64_t num_values, const std::int64_t* index,
                     double shift, std::int64_t rows, std::int64_t inner, int q, int n,
                     std::complex<double>* out, int nthreads = 0);

}  // namespace plmscope
