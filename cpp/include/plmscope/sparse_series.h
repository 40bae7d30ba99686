#pragma once
/// Evaluation of a sparse q-ary Fourier series at many points.
///
/// f(x) = Re sum_k F[k] omega^<k,x>, omega = exp(2 pi i / q), for K frequencies k in Z_q^n
/// (row-major K x n bytes) and M points x in Z_q^n (row-major M x n bytes).
///
/// Each frequency is reduced to its nonzero sites (its order), and Re(F[k] omega^d) is
/// tabulated for d in [0, q), so one point-frequency pair costs order(k) byte loads and
/// one table lookup, no trigonometry and no division. O(M (K + sum order) ), threaded over
/// blocks of points. Thread-safe; uses up to `nthreads` threads (0 = all cores).
#include <complex>
#include <cstdint>

namespace plmscope {

/// out[m] = Re sum_k values[k] omega^(<freqs[k], x[m]> mod q).
/// Requires 2 <= q <= 256 and every entry of freqs and x in [0, q).
void sparse_series_evaluate(const std::uint8_t* freqs, const std::complex<double>* values,
                            std::int64_t K, int n, int q, const std::uint8_t* x,
                            std::int64_t M, double* out, int nthreads = 0);

}  // namespace plmscope
