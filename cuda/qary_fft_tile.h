#pragma once
/// The GPU q-ary FFT as tiles in shared memory: plan, params, codelets and the block's
/// phase sequence. Shared by cuda/qary_fft.cu (one CUDA block per tile) and by the host
/// emulation in tests/cpp/test_cuda_emulation.cpp, which runs the same phases thread by
/// thread; see cpp/include/plmscope/qary_fft.h for the layout and the normalisation.
///
/// A row of q^n values has digits (sites) 0..n-1 counted from the least significant, digit
/// d at stride q^d. A pass transforms `digits` consecutive digits d0.. at once: for every
/// (hi, lo) with lo < stride = q^d0, the `span` = q^digits values at
/// (hi * span + r) * stride + lo, r < span, are one small n-D transform. A tile is `groups`
/// consecutive hi times `width` consecutive lo (width > 1 only when stride > 1, so global
/// reads come in runs of `width` elements, >= one 32-byte sector). The tile is read into
/// shared memory, each digit is a sweep of radix-q butterflies (q = 2: radix-8/4/2
/// Hadamard butterflies, three binary digits per sweep), and the tile is written back.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernel_common.h"

namespace plmscope::cuda {

constexpr int kMaxFftRadix = 32;

// ---- compile-time number theory for the codelets --------------------------------------

PLMSCOPE_HDC int smallest_prime_factor(int n) {
  for (int p = 2; p * p <= n; ++p)
    if (n % p == 0) return p;
  return n;
}
/// The largest power of n's smallest prime that divides n (n itself for a prime power).
PLMSCOPE_HDC int prime_power_part(int n) {
  const int p = smallest_prime_factor(n);
  int a = 1;
  while (n % p == 0) {
    n /= p;
    a *= p;
  }
  return a;
}
PLMSCOPE_HDC int inverse_mod(int a, int m) {
  for (int x = 1; x < m; ++x)
    if ((a * x) % m == 1) return x;
  return 0;
}
/// Sizes with a hand-written butterfly; other primes use the direct O(N^2) sum, other prime
/// powers Cooley-Tukey, and sizes with two coprime factors the prime-factor algorithm.
PLMSCOPE_HDC bool has_codelet(int n) { return n == 2 || n == 3 || n == 4 || n == 5 || n == 8; }
PLMSCOPE_HDC bool is_direct(int n) { return !has_codelet(n) && smallest_prime_factor(n) == n; }

// ---- DFT codelets on values in registers; roots[k] = exp(sg 2 pi i k / Q) -----------------
// A size-N sub-transform of the size-Q one uses roots[(j k mod N) * step], step = Q / N.

template <class T>
PLMSCOPE_HD void dft4_vals(Cplx<T>& a, Cplx<T>& b, Cplx<T>& c, Cplx<T>& d, T sg) {
  const Cplx<T> apc = a + c, amc = a - c, bpd = b + d, wbmd = times_i(b - d, sg);
  a = apc + bpd;
  b = amc + wbmd;
  c = apc - bpd;
  d = amc - wbmd;
}

template <int N, class T>
PLMSCOPE_HD void dft_regs(Cplx<T>* v, const Cplx<T>* roots, int step, T sg) {
  static_assert(N >= 1 && N <= kMaxFftRadix, "DFT codelets cover sizes 1..32");
  if constexpr (N == 1) {
    return;
  } else if constexpr (N == 2) {
    const Cplx<T> a = v[0], b = v[1];
    v[0] = a + b;
    v[1] = a - b;
  } else if constexpr (N == 3) {
    const T h = T(0.86602540378443864676);
    const Cplx<T> a = v[0], b = v[1], c = v[2];
    const Cplx<T> m = a - T(0.5) * (b + c), r = times_i(h * (b - c), sg);
    v[0] = a + b + c;
    v[1] = m + r;
    v[2] = m - r;
  } else if constexpr (N == 4) {
    dft4_vals(v[0], v[1], v[2], v[3], sg);
  } else if constexpr (N == 5) {
    const T c1 = T(0.30901699437494742410), c2 = T(-0.80901699437494742410);
    const T s1 = T(0.95105651629515357212), s2 = T(0.58778525229247312917);
    const Cplx<T> a1 = v[1] + v[4], b1 = v[1] - v[4], a2 = v[2] + v[3], b2 = v[2] - v[3];
    const Cplx<T> r1 = v[0] + c1 * a1 + c2 * a2, r2 = v[0] + c2 * a1 + c1 * a2;
    const Cplx<T> i1 = times_i(s1 * b1 + s2 * b2, sg), i2 = times_i(s2 * b1 - s1 * b2, sg);
    v[0] = v[0] + a1 + a2;
    v[1] = r1 + i1;
    v[4] = r1 - i1;
    v[2] = r2 + i2;
    v[3] = r2 - i2;
  } else if constexpr (N == 8) {
    const T r = T(0.70710678118654752440);
    Cplx<T> e0 = v[0], e1 = v[2], e2 = v[4], e3 = v[6];
    Cplx<T> o0 = v[1], o1 = v[3], o2 = v[5], o3 = v[7];
    dft4_vals(e0, e1, e2, e3, sg);
    dft4_vals(o0, o1, o2, o3, sg);
    o1 = cmul(o1, Cplx<T>{r, sg * r});   // w8^1 = (1 + sg i) / sqrt 2
    o2 = times_i(o2, sg);                // w8^2 = sg i
    o3 = cmul(o3, Cplx<T>{-r, sg * r});  // w8^3 = (-1 + sg i) / sqrt 2
    v[0] = e0 + o0;
    v[4] = e0 - o0;
    v[1] = e1 + o1;
    v[5] = e1 - o1;
    v[2] = e2 + o2;
    v[6] = e2 - o2;
    v[3] = e3 + o3;
    v[7] = e3 - o3;
  } else if constexpr (smallest_prime_factor(N) == N) {  // other primes: direct sum
    Cplx<T> out[N];
    PLMSCOPE_UNROLL
    for (int k = 0; k < N; ++k) {
      Cplx<T> acc = v[0];
      PLMSCOPE_UNROLL
      for (int j = 1; j < N; ++j) acc = acc + cmul(v[j], roots[((j * k) % N) * step]);
      out[k] = acc;
    }
    PLMSCOPE_UNROLL
    for (int k = 0; k < N; ++k) v[k] = out[k];
  } else if constexpr (prime_power_part(N) == N) {
    // Prime powers 9, 16, 25, 27, 32: Cooley-Tukey, N = N1 N2, input n = N2 n1 + n2, output
    // k = k1 + N1 k2; length-N1 transforms over n1, twiddles omega_N^(n2 k1), then length-N2
    // transforms over n2.
    constexpr int p = smallest_prime_factor(N);
    constexpr int N1 = (N % (p * p) == 0 && N / (p * p) > 1) ? p * p : p;
    constexpr int N2 = N / N1;
    static_assert(N1 * N2 == N && N2 > 1, "Cooley-Tukey split");
    Cplx<T> y[N];  // y[k1 N2 + n2]
    PLMSCOPE_UNROLL
    for (int n2 = 0; n2 < N2; ++n2) {
      Cplx<T> t[N1];
      PLMSCOPE_UNROLL
      for (int n1 = 0; n1 < N1; ++n1) t[n1] = v[N2 * n1 + n2];
      dft_regs<N1>(t, roots, step * N2, sg);
      PLMSCOPE_UNROLL
      for (int k1 = 0; k1 < N1; ++k1)
        y[k1 * N2 + n2] = (n2 * k1) % N == 0 ? t[k1] : cmul(t[k1], roots[((n2 * k1) % N) * step]);
    }
    PLMSCOPE_UNROLL
    for (int k1 = 0; k1 < N1; ++k1) {
      Cplx<T> t[N2];
      PLMSCOPE_UNROLL
      for (int n2 = 0; n2 < N2; ++n2) t[n2] = y[k1 * N2 + n2];
      dft_regs<N2>(t, roots, step * N1, sg);
      PLMSCOPE_UNROLL
      for (int k2 = 0; k2 < N2; ++k2) v[k1 + N1 * k2] = t[k2];
    }
  } else {
    // Prime-factor algorithm, N = A B with gcd(A, B) = 1: input n = (B n1 + A n2) mod N,
    // output k = (B (B^-1 mod A) k1 + A (A^-1 mod B) k2) mod N (the CRT map), so
    // omega_N^(nk) = omega_A^(n1 k1) omega_B^(n2 k2) and no twiddle factors are needed.
    constexpr int A = prime_power_part(N), B = N / A;
    constexpr int kBinvA = inverse_mod(B % A, A), kAinvB = inverse_mod(A % B, B);
    static_assert(A * B == N && kBinvA > 0 && kAinvB > 0, "prime-factor split");
    Cplx<T> y[N];  // y[n1 B + k2]
    PLMSCOPE_UNROLL
    for (int n1 = 0; n1 < A; ++n1) {
      Cplx<T> t[B];
      PLMSCOPE_UNROLL
      for (int n2 = 0; n2 < B; ++n2) t[n2] = v[(B * n1 + A * n2) % N];
      dft_regs<B>(t, roots, step * A, sg);
      PLMSCOPE_UNROLL
      for (int k2 = 0; k2 < B; ++k2) y[n1 * B + k2] = t[k2];
    }
    PLMSCOPE_UNROLL
    for (int k2 = 0; k2 < B; ++k2) {
      Cplx<T> t[A];
      PLMSCOPE_UNROLL
      for (int n1 = 0; n1 < A; ++n1) t[n1] = y[n1 * B + k2];
      dft_regs<A>(t, roots, step * B, sg);
      PLMSCOPE_UNROLL
      for (int k1 = 0; k1 < A; ++k1)
        v[(B * ((kBinvA * k1) % A) + A * ((kAinvB * k2) % B)) % N] = t[k1];
    }
  }
}

/// Walsh-Hadamard butterfly of RR = 2, 4 or 8 values (one, two or three binary digits).
template <int RR, class E>
PLMSCOPE_HD void hadamard_regs(E* v) {
  static_assert(RR == 2 || RR == 4 || RR == 8, "Hadamard butterflies fuse 1 to 3 digits");
  PLMSCOPE_UNROLL
  for (int len = 1; len < RR; len <<= 1) {
    PLMSCOPE_UNROLL
    for (int i = 0; i < RR; ++i) {
      if (i & len) continue;
      const E a = v[i], b = v[i + len];
      v[i] = a + b;
      v[i + len] = a - b;
    }
  }
}

/// One butterfly on the RR values p[0], p[st], ..., p[(RR - 1) st] of shared memory.
template <int RR, bool kHadamard, class E, class T>
PLMSCOPE_HD void butterfly(E* p, int st, const Cplx<T>* roots, T sg) {
  E v[RR];
  PLMSCOPE_UNROLL
  for (int j = 0; j < RR; ++j) v[j] = p[j * st];
  if constexpr (kHadamard) {
    hadamard_regs<RR>(v);
  } else if constexpr (is_direct(RR)) {
    // Primes > 5. Outputs go straight back to shared memory: the inputs stay in registers, and no
    // second array of RR values is live (RR = 31 in double would spill).
    PLMSCOPE_UNROLL
    for (int k = 0; k < RR; ++k) {
      Cplx<T> acc = v[0];
      PLMSCOPE_UNROLL
      for (int j = 1; j < RR; ++j) acc = acc + cmul(v[j], roots[(j * k) % RR]);
      p[k * st] = acc;
    }
  } else {
    dft_regs<RR>(v, roots, 1, sg);
  }
  if constexpr (kHadamard || !is_direct(RR)) {
    PLMSCOPE_UNROLL
    for (int j = 0; j < RR; ++j) p[j * st] = v[j];
  }
}

// ---- plan and launch parameters ----------------------------------------------------------

/// One pass over the data: digits [d0, d0 + digits), tiles of groups x span x width.
struct FftPass {
  int d0 = 0, digits = 0, span = 1, width = 1, groups = 1;
  std::int64_t stride = 1;    // q^d0
  std::int64_t hi_count = 0;  // rows * q^n / (stride * span)
};

/// Passes for `rows` transforms of q^n values with at most `capacity` elements per tile and
/// runs of `width` elements in global memory, width the largest power of two <= min(stride,
/// min_width) (min_width a power of two). Greedy: each pass takes as many digits as fit.
inline std::vector<FftPass> plan_qary_fft(int q, int n, std::int64_t rows, int capacity,
                                          int min_width) {
  std::vector<FftPass> passes;
  std::int64_t len = 1;
  for (int i = 0; i < n; ++i) len *= q;
  std::int64_t stride = 1;
  int d = 0;
  while (d < n) {
    FftPass p;
    p.d0 = d;
    p.stride = stride;
    p.width = 1;  // a power of two (index arithmetic by shifts), <= stride, <= min_width
    while (stride > 1 && std::int64_t(p.width) * 2 <= std::min<std::int64_t>(stride, min_width))
      p.width *= 2;
    while (d + p.digits < n && std::int64_t(p.span) * q * p.width <= capacity) {
      p.span *= q;
      ++p.digits;
    }
    if (p.digits == 0) {  // capacity < q * width: still make progress, one digit
      p.span = q;
      p.digits = 1;
    }
    p.hi_count = rows * (len / (stride * p.span));
    if (stride == 1)
      p.groups = static_cast<int>(
          std::max<std::int64_t>(1, std::min<std::int64_t>(capacity / p.span, p.hi_count)));
    passes.push_back(p);
    d += p.digits;
    stride *= p.span;
  }
  return passes;
}

/// The kernel's arguments for one pass (plain data: copied into the launch).
struct QaryFftParams {
  void* data = nullptr;  // the pass's rows, in place
  std::int64_t hi_count = 0, stride = 1, lo_tiles = 1, tiles = 0;
  int q = 2, span = 1, digits = 0, width = 1, log_width = 0, groups = 1;
  double scale = 1.0;  // applied on the way out (the last pass of a forward transform)
  double sign = -1.0;  // -1 forward, +1 inverse
  double root_re[kMaxFftRadix] = {}, root_im[kMaxFftRadix] = {};  // exp(sign 2 pi i k / q)

  /// Elements of shared memory a block needs for its tile.
  PLMSCOPE_HD int tile_elements() const { return groups * span * width; }
};

inline QaryFftParams make_fft_params(const FftPass& pass, void* data, int q, int n,
                                     bool inverse, bool last) {
  QaryFftParams p;
  p.data = data;
  p.q = q;
  p.hi_count = pass.hi_count;
  p.stride = pass.stride;
  p.span = pass.span;
  p.digits = pass.digits;
  p.width = pass.width;
  while ((1 << p.log_width) < p.width) ++p.log_width;
  p.groups = pass.groups;
  p.lo_tiles = ceil_div(pass.stride, pass.width);
  p.tiles = ceil_div(pass.hi_count, pass.groups) * p.lo_tiles;
  p.sign = inverse ? 1.0 : -1.0;
  if (!inverse && last) p.scale = 1.0 / std::pow(double(q), double(n));
  const double kPi = 3.14159265358979323846;
  for (int k = 0; k < q && k < kMaxFftRadix; ++k) {
    p.root_re[k] = std::cos(2.0 * kPi * k / q);
    p.root_im[k] = p.sign * std::sin(2.0 * kPi * k / q);
  }
  return p;
}

// ---- the block's work: phases separated by barriers ------------------------------------

/// Compile-time description of one kernel instantiation.
template <class E, int Q>
struct FftTraits {
  using Elem = E;
  using Real = typename RealOf<E>::type;
  static constexpr int kQ = Q;
  static constexpr bool kHadamard = Q == 2;  // q = 2: additions only, three digits a sweep
  static_assert(Q >= 2 && Q <= kMaxFftRadix, "the GPU qary_fft handles 2 <= q <= 32");
  static_assert(IsComplex<E>::value || Q == 2,
                "real elements only arise in the Walsh-Hadamard (q = 2) transform");
  static_assert(std::is_same_v<Real, float> || std::is_same_v<Real, double>,
                "float32 and float64 only");
};

/// Transforms every tile this block owns. `Block` supplies first_tile(), tile_step() and
/// each(f): run f(tid, nthreads) on every thread of the block, then a barrier.
/// `tile` holds tile_elements() elements, `roots` kQ complex values.
template <class Traits, class Block>
PLMSCOPE_HD void qary_fft_block(const QaryFftParams& p, typename Traits::Elem* tile,
                                Cplx<typename Traits::Real>* roots, Block& blk) {
  using E = typename Traits::Elem;
  using T = typename Traits::Real;
  constexpr int Q = Traits::kQ;
  E* data = static_cast<E*>(p.data);
  const T sg = T(p.sign);
  blk.each([&](int tid, int) {
    if (tid < Q) roots[tid] = Cplx<T>{T(p.root_re[tid]), T(p.root_im[tid])};
  });
  const int n_el = p.tile_elements();
  for (std::int64_t tile_id = blk.first_tile(); tile_id < p.tiles; tile_id += blk.tile_step()) {
    const std::int64_t hi0 = (tile_id / p.lo_tiles) * p.groups;
    const std::int64_t lo0 = (tile_id % p.lo_tiles) * p.width;
    // Tile element e is (h, r, w) = e as (groups, span, width) digits. With stride 1 the
    // tile is contiguous in memory; otherwise groups == 1 and width is a power of two, so no
    // division is needed per element.
    const int wm = p.width - 1, lw = p.log_width;
    const std::int64_t base = hi0 * p.span * p.stride + lo0;
    const std::int64_t contiguous_end = (p.hi_count * p.span - hi0 * p.span);
    blk.each([&](int tid, int nt) {
      if (p.stride == 1) {
        for (int e = tid; e < n_el; e += nt) tile[e] = e < contiguous_end ? data[base + e] : E{};
      } else {
        for (int e = tid; e < n_el; e += nt) {
          const int w = e & wm;
          tile[e] = lo0 + w < p.stride ? data[base + std::int64_t(e >> lw) * p.stride + w] : E{};
        }
      }
    });
    // One sweep per digit (q > 2) or per group of up to three binary digits (q = 2).
    // Butterfly b is (h, high, low, w): `per` = span / RR butterflies per (h, w), split at
    // the digit's step into the digits above and below it. q = 2: every size is a power of
    // two and shifts replace the divisions.
    int j = 0, step = 1;
    while (j < p.digits) {
      auto sweep = [&](auto rr) {
        constexpr int RR = decltype(rr)::value;
        constexpr int kLogRR = RR == 8 ? 3 : RR == 4 ? 2 : 1;
        const int per = p.span / RR;
        const int nb = p.groups * per * p.width;
        const int st = step * p.width;
        [[maybe_unused]] const int log_step = j, log_per = p.digits - kLogRR;
        blk.each([&](int tid, int nt) {
          for (int b = tid; b < nb; b += nt) {
            const int w = b & wm, t = b >> lw;
            int rest = t, h = 0;
            if (p.groups > 1) {
              if constexpr (Traits::kHadamard) {
                rest = t & (per - 1);
                h = t >> log_per;
              } else {
                h = t / per;
                rest = t - h * per;
              }
            }
            int r0;
            if constexpr (Traits::kHadamard) {
              r0 = ((rest >> log_step) << (log_step + kLogRR)) | (rest & (step - 1));
            } else {
              const int high = rest / step;
              r0 = high * step * RR + (rest - high * step);
            }
            butterfly<RR, Traits::kHadamard>(tile + ((h * p.span + r0) << lw) + w, st, roots, sg);
          }
        });
        j += Traits::kHadamard ? kLogRR : 1;
        step *= RR;
      };
      if constexpr (Traits::kHadamard) {
        const int left = p.digits - j;
        if (left >= 3) sweep(std::integral_constant<int, 8>{});
        else if (left == 2) sweep(std::integral_constant<int, 4>{});
        else sweep(std::integral_constant<int, 2>{});
      } else {
        sweep(std::integral_constant<int, Q>{});
      }
    }
    const T scale = T(p.scale);
    blk.each([&](int tid, int nt) {
      if (p.stride == 1) {
        for (int e = tid; e < n_el && e < contiguous_end; e += nt)
          data[base + e] = scale == T(1) ? tile[e] : scale * tile[e];
      } else {
        for (int e = tid; e < n_el; e += nt) {
          const int w = e & wm;
          if (lo0 + w < p.stride)
            data[base + std::int64_t(e >> lw) * p.stride + w] =
                scale == T(1) ? tile[e] : scale * tile[e];
        }
      }
    });
  }
}

/// The whole transform as a sequence of passes: rows are taken `chunk_rows` at a time (so a
/// chunk that fits in L2 stays there between its passes), and run_pass(params) is called for
/// each pass of each chunk, in order. Shared by the launcher and the emulation.
template <class E, class RunPass>
void run_qary_fft(E* data, std::int64_t rows, int q, int n, bool inverse, int capacity,
                  int min_width, std::int64_t chunk_rows, RunPass&& run_pass) {
  if (rows <= 0 || n == 0) return;  // n = 0: the transform of one value is the identity
  std::int64_t len = 1;
  for (int i = 0; i < n; ++i) len *= q;
  chunk_rows = std::max<std::int64_t>(1, std::min(chunk_rows, rows));
  for (std::int64_t r0 = 0; r0 < rows; r0 += chunk_rows) {
    const std::int64_t cr = std::min(chunk_rows, rows - r0);
    const auto passes = plan_qary_fft(q, n, cr, capacity, min_width);
    for (std::size_t i = 0; i < passes.size(); ++i)
      run_pass(make_fft_params(passes[i], data + r0 * len, q, n, inverse,
                               i + 1 == passes.size()));
  }
}

/// Bytes of dynamic shared memory for a tile of `elements` E plus the root table.
template <class E>
constexpr std::size_t fft_shared_bytes(int elements) {
  return kMaxFftRadix * sizeof(Cplx<typename RealOf<E>::type>) + std::size_t(elements) * sizeof(E);
}

}  // namespace plmscope::cuda
