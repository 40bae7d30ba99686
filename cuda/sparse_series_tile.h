#pragma once
/// Sparse q-ary Fourier series evaluation on the GPU as block programs, shared by
/// cuda/sparse_series.cu and the host emulation test (see cuda/device_block.cuh for the
/// block interface). Same result as plmscope::sparse_series_evaluate
/// (cpp/include/plmscope/sparse_series.h):
///   out[m] = Re sum_k F[k] omega^(<k, x[m]> mod q).
///
/// A prepare step turns each frequency into its nonzero sites and their values (its order)
/// and a row Re(F[k] omega^d), d < q, of a table, so a point-frequency pair costs order(k)
/// byte products, one reduction mod q and one table lookup. The evaluate step gives each
/// block `points` consecutive points, one per thread, staged site-major in shared memory,
/// and streams the prepared frequencies through shared memory `k_chunk` at a time.
#include <cmath>
#include <cstdint>

#include "kernel_common.h"

namespace plmscope::cuda {

constexpr int kSeriesPoints = 128;            // points per block = threads per block
constexpr int kSeriesMaxSites = 256;          // n (sites are stored as bytes)
constexpr int kSeriesSharedBytes = 46 * 1024;  // under the 48 KiB every device gives a block

struct SparseSeriesParams {
  // prepared frequencies
  const std::uint8_t* freqs = nullptr;  // K x n
  const Cplx<double>* values = nullptr; // K
  int* order = nullptr;                 // K: number of nonzero sites
  std::uint8_t* sites = nullptr;        // K x n: the nonzero sites first
  std::uint8_t* mults = nullptr;        // K x n: their values
  double* table = nullptr;              // K x q: Re(F[k] omega^d)
  std::int64_t K = 0;
  int n = 0, q = 2;
  // points
  const std::uint8_t* x = nullptr;  // M x n
  double* out = nullptr;            // M
  std::int64_t M = 0;
  int points = kSeriesPoints;
  int k_chunk = 1;  // frequencies per shared-memory stage

  PLMSCOPE_HD std::int64_t tiles() const { return ceil_div(M, points); }
  /// Shared memory of the evaluate step, in bytes.
  PLMSCOPE_HD int shared_bytes() const {
    return points * 8 + n * points + k_chunk * (4 + 2 * n + 8 * q);
  }
};

/// Largest k_chunk (<= 64) whose stage fits next to the points in kSeriesSharedBytes.
inline int series_k_chunk(int n, int q, int points) {
  const int left = kSeriesSharedBytes - points * 8 - n * points;
  const int per = 4 + 2 * n + 8 * q;
  int kc = left / per;
  return kc < 1 ? 1 : kc > 64 ? 64 : kc;
}

/// Compile-time q for the common alphabets (cheap reductions mod q); 0 = q at run time.
template <int Q>
struct SeriesTraits {
  static constexpr int kQ = Q;
  static_assert(Q == 0 || (Q >= 2 && Q <= 256), "q in [2, 256]");
  static PLMSCOPE_HD int q(const SparseSeriesParams& p) { return Q ? Q : p.q; }
};

/// Prepare frequency k (one thread each; no shared memory).
PLMSCOPE_HD void series_prepare_one(const SparseSeriesParams& p, std::int64_t k) {
  const std::uint8_t* f = p.freqs + k * p.n;
  std::uint8_t* s = p.sites + k * p.n;
  std::uint8_t* v = p.mults + k * p.n;
  int order = 0;
  for (int i = 0; i < p.n; ++i)
    if (f[i]) {
      s[order] = static_cast<std::uint8_t>(i);
      v[order] = f[i];
      ++order;
    }
  p.order[k] = order;
  const Cplx<double> val = p.values[k];
  for (int d = 0; d < p.q; ++d) {
    double sn, cs;
#ifdef __CUDA_ARCH__
    sincospi(2.0 * d / p.q, &sn, &cs);
#else
    const double a = 2.0 * 3.14159265358979323846 * d / p.q;
    sn = std::sin(a);
    cs = std::cos(a);
#endif
    p.table[k * p.q + d] = val.re * cs - val.im * sn;
  }
}

/// The evaluate step's block program. `smem` holds shared_bytes() bytes (8-byte aligned).
template <class Traits, class Block>
PLMSCOPE_HD void sparse_series_block(const SparseSeriesParams& p, unsigned char* smem,
                                     Block& blk) {
  const int q = Traits::q(p), n = p.n, P = p.points, KC = p.k_chunk;
  double* acc = reinterpret_cast<double*>(smem);                       // P
  double* tab = acc + P;                                               // KC x q
  int* ord = reinterpret_cast<int*>(tab + KC * q);                     // KC
  std::uint8_t* xs = reinterpret_cast<std::uint8_t*>(ord + KC);        // n x P, site-major
  std::uint8_t* sit = xs + n * P;                                      // KC x n
  std::uint8_t* mul = sit + KC * n;                                    // KC x n
  const std::int64_t tiles = p.tiles();
  for (std::int64_t tile = blk.first_tile(); tile < tiles; tile += blk.tile_step()) {
    const std::int64_t m0 = tile * P;
    const int pts = static_cast<int>(p.M - m0 < P ? p.M - m0 : P);
    blk.each([&](int tid, int nt) {
      const std::uint8_t* xg = p.x + m0 * n;  // the tile's points, contiguous
      for (int e = tid; e < pts * n; e += nt) xs[(e % n) * P + e / n] = xg[e];
      for (int m = tid; m < P; m += nt) acc[m] = 0.0;
    });
    for (std::int64_t k0 = 0; k0 < p.K; k0 += KC) {
      const int kc = static_cast<int>(p.K - k0 < KC ? p.K - k0 : KC);
      blk.each([&](int tid, int nt) {
        for (int e = tid; e < kc * q; e += nt) tab[e] = p.table[k0 * q + e];
        for (int e = tid; e < kc * n; e += nt) {
          sit[e] = p.sites[k0 * n + e];
          mul[e] = p.mults[k0 * n + e];
        }
        for (int e = tid; e < kc; e += nt) ord[e] = p.order[k0 + e];
      });
      blk.each([&](int tid, int nt) {
        for (int m = tid; m < pts; m += nt) {
          double a = acc[m];
          for (int k = 0; k < kc; ++k) {
            int d = 0;
            const int o = ord[k];
            for (int i = 0; i < o; ++i) d += int(mul[k * n + i]) * int(xs[sit[k * n + i] * P + m]);
            a += tab[k * q + d % q];
          }
          acc[m] = a;
        }
      });
    }
    blk.each([&](int tid, int nt) {
      for (int m = tid; m < pts; m += nt) p.out[m0 + m] = acc[m];
    });
  }
}

}  // namespace plmscope::cuda
