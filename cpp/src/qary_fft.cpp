// q-ary FFT over Z_q^n: a mixed-radix, cache-blocked, in-place transform.
//
// The n sites are grouped into "digits", each transformed by one butterfly (codelet). For
// q = 2 consecutive sites are fused into radix-8 Hadamard digits, so there are a third as
// many passes. The lowest digits (small strides) are done block by block while the block
// sits in cache; the remaining digits are done on column panels copied into a per-thread
// buffer, which keeps power-of-two row strides from thrashing cache sets.
#include "plmscope/qary_fft.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "plmscope/check.h"
#include "plmscope/parallel.h"

namespace plmscope {

std::int64_t qary_length(int q, int n) {
  PLMSCOPE_CHECK(q >= 2, "q must be >= 2, got q=" << q);
  PLMSCOPE_CHECK(n >= 0, "n must be >= 0, got n=" << n);
  std::int64_t len = 1;
  for (int i = 0; i < n; ++i) {
    PLMSCOPE_CHECK(len <= std::numeric_limits<std::int64_t>::max() / q,
                   "q^n overflows int64 for q=" << q << ", n=" << n);
    len *= q;
  }
  return len;
}

int qary_log(std::int64_t length, int q) {
  PLMSCOPE_CHECK(q >= 2, "q must be >= 2, got q=" << q);
  PLMSCOPE_CHECK(length >= 1, "length must be a power of q=" << q << ", got " << length);
  int n = 0;
  std::int64_t v = length;
  while (v % q == 0) {
    v /= q;
    ++n;
  }
  PLMSCOPE_CHECK(v == 1, "length " << length << " is not a power of q=" << q);
  return n;
}

namespace {

// Blocks of this many bytes are transformed in cache before moving on; column panels of
// the remaining digits are gathered into buffers of about kPanelBytes.
constexpr std::int64_t kBlockBytes = 128 * 1024;
constexpr std::int64_t kPanelBytes = 256 * 1024;
constexpr std::int64_t kMinPanelWidth = 8;
constexpr double kPi = 3.14159265358979323846;

enum class Kind { H2, H4, H8, D3, D4, D5, D8, D20, Direct };

struct Digit {
  Kind kind;
  int radix;
  std::int64_t stride;  // in elements, within the full row
};

template <class T>
inline std::complex<T> times_i(std::complex<T> v, T sg) {  // v * (sg * i)
  return {-sg * v.imag(), sg * v.real()};
}

template <class T>
inline std::complex<T> cmul(std::complex<T> a, T wr, T wi) {
  return {a.real() * wr - a.imag() * wi, a.real() * wi + a.imag() * wr};
}

// ---- Hadamard codelets: only additions, valid for real and complex elements ----------

template <class E>
inline void h2(E* p, std::int64_t s, std::int64_t count) {
  for (std::int64_t t = 0; t < count; ++t) {
    E a = p[t], b = p[t + s];
    p[t] = a + b;
    p[t + s] = a - b;
  }
}

template <class E>
inline void h4(E* p, std::int64_t s, std::int64_t count) {
  for (std::int64_t t = 0; t < count; ++t) {
    E a = p[t], b = p[t + s], c = p[t + 2 * s], d = p[t + 3 * s];
    E ab = a + b, amb = a - b, cd = c + d, cmd = c - d;
    p[t] = ab + cd;
    p[t + s] = amb + cmd;
    p[t + 2 * s] = ab - cd;
    p[t + 3 * s] = amb - cmd;
  }
}

template <class E>
inline void h8(E* p, std::int64_t s, std::int64_t count) {
  for (std::int64_t t = 0; t < count; ++t) {
    E x0 = p[t], x1 = p[t + s], x2 = p[t + 2 * s], x3 = p[t + 3 * s];
    E x4 = p[t + 4 * s], x5 = p[t + 5 * s], x6 = p[t + 6 * s], x7 = p[t + 7 * s];
    E a0 = x0 + x1, a1 = x0 - x1, a2 = x2 + x3, a3 = x2 - x3;
    E a4 = x4 + x5, a5 = x4 - x5, a6 = x6 + x7, a7 = x6 - x7;
    E b0 = a0 + a2, b1 = a1 + a3, b2 = a0 - a2, b3 = a1 - a3;
    E b4 = a4 + a6, b5 = a5 + a7, b6 = a4 - a6, b7 = a5 - a7;
    p[t] = b0 + b4;
    p[t + s] = b1 + b5;
    p[t + 2 * s] = b2 + b6;
    p[t + 3 * s] = b3 + b7;
    p[t + 4 * s] = b0 - b4;
    p[t + 5 * s] = b1 - b5;
    p[t + 6 * s] = b2 - b6;
    p[t + 7 * s] = b3 - b7;
  }
}

// ---- DFT butterflies on values in registers; sg = -1 forward, +1 inverse ---------------

template <class T>
inline void dft4_vals(std::complex<T>& a, std::complex<T>& b, std::complex<T>& c,
                      std::complex<T>& d, T sg) {
  auto apc = a + c, amc = a - c, bpd = b + d, wbmd = times_i(b - d, sg);
  a = apc + bpd;
  b = amc + wbmd;
  c = apc - bpd;
  d = amc - wbmd;
}

template <class T>
inline void dft5_vals(std::complex<T>* x, T sg) {
  const T c1 = T(0.30901699437494742410), c2 = T(-0.80901699437494742410);
  const T s1 = T(0.95105651629515357212), s2 = T(0.58778525229247312917);
  auto a1 = x[1] + x[4], b1 = x[1] - x[4], a2 = x[2] + x[3], b2 = x[2] - x[3];
  auto r1 = x[0] + c1 * a1 + c2 * a2, r2 = x[0] + c2 * a1 + c1 * a2;
  auto i1 = times_i(s1 * b1 + s2 * b2, sg), i2 = times_i(s2 * b1 - s1 * b2, sg);
  x[0] = x[0] + a1 + a2;
  x[1] = r1 + i1;
  x[4] = r1 - i1;
  x[2] = r2 + i2;
  x[3] = r2 - i2;
}

template <class T>
inline void d3(std::complex<T>* p, std::int64_t s, std::int64_t count, T sg) {
  const T h = T(0.86602540378443864676);
  for (std::int64_t t = 0; t < count; ++t) {
    auto a = p[t], b = p[t + s], c = p[t + 2 * s];
    auto m = a - T(0.5) * (b + c), r = times_i(h * (b - c), sg);
    p[t] = a + b + c;
    p[t + s] = m + r;
    p[t + 2 * s] = m - r;
  }
}

template <class T>
inline void d4(std::complex<T>* p, std::int64_t s, std::int64_t count, T sg) {
  for (std::int64_t t = 0; t < count; ++t)
    dft4_vals(p[t], p[t + s], p[t + 2 * s], p[t + 3 * s], sg);
}

template <class T>
inline void d5(std::complex<T>* p, std::int64_t s, std::int64_t count, T sg) {
  for (std::int64_t t = 0; t < count; ++t) {
    std::complex<T> x[5];
    for (int j = 0; j < 5; ++j) x[j] = p[t + j * s];
    dft5_vals(x, sg);
    for (int j = 0; j < 5; ++j) p[t + j * s] = x[j];
  }
}

template <class T>
inline void d8(std::complex<T>* p, std::int64_t s, std::int64_t count, T sg) {
  const T r = T(0.70710678118654752440);
  for (std::int64_t t = 0; t < count; ++t) {
    std::complex<T> e0 = p[t], e1 = p[t + 2 * s], e2 = p[t + 4 * s], e3 = p[t + 6 * s];
    std::complex<T> o0 = p[t + s], o1 = p[t + 3 * s], o2 = p[t + 5 * s], o3 = p[t + 7 * s];
    dft4_vals(e0, e1, e2, e3, sg);
    dft4_vals(o0, o1, o2, o3, sg);
    o1 = cmul(o1, r, sg * r);    // w8^1 = (1 + sg i) / sqrt 2
    o2 = times_i(o2, sg);        // w8^2 = sg i
    o3 = cmul(o3, -r, sg * r);   // w8^3 = (-1 + sg i) / sqrt 2
    p[t] = e0 + o0;
    p[t + 4 * s] = e0 - o0;
    p[t + s] = e1 + o1;
    p[t + 5 * s] = e1 - o1;
    p[t + 2 * s] = e2 + o2;
    p[t + 6 * s] = e2 - o2;
    p[t + 3 * s] = e3 + o3;
    p[t + 7 * s] = e3 - o3;
  }
}

// 20 = 4 x 5, coprime: the prime-factor (Good-Thomas) map turns one length-20 DFT into
// five length-4 and four length-5 DFTs with no twiddle factors. Input n = (5 n1 + 4 n2)
// mod 20, output k = (5 k1 + 16 k2) mod 20. Done as two sweeps over the group's rows, so
// each sweep keeps at most five values live per point and the t loops stay vectorisable;
// for a fixed k1 the length-5 inputs and outputs occupy the same five rows, so it is in place.
struct Pfa20 {
  int in4[5][4];   // rows of the length-4 DFTs (one per n2)
  int in5[4][5];   // rows read by the length-5 DFTs (one per k1)
  int out5[4][5];  // rows they write
  constexpr Pfa20() : in4(), in5(), out5() {
    for (int n1 = 0; n1 < 4; ++n1)
      for (int n2 = 0; n2 < 5; ++n2) {
        in4[n2][n1] = (5 * n1 + 4 * n2) % 20;
        in5[n1][n2] = (5 * n1 + 4 * n2) % 20;
        out5[n1][n2] = (5 * n1 + 16 * n2) % 20;
      }
  }
};
constexpr Pfa20 kPfa20{};

template <class T>
inline void d20(std::complex<T>* p, std::int64_t s, std::int64_t count, T sg) {
  for (int n2 = 0; n2 < 5; ++n2) {
    std::complex<T>* r0 = p + kPfa20.in4[n2][0] * s;
    std::complex<T>* r1 = p + kPfa20.in4[n2][1] * s;
    std::complex<T>* r2 = p + kPfa20.in4[n2][2] * s;
    std::complex<T>* r3 = p + kPfa20.in4[n2][3] * s;
    for (std::int64_t t = 0; t < count; ++t) dft4_vals(r0[t], r1[t], r2[t], r3[t], sg);
  }
  for (int k1 = 0; k1 < 4; ++k1) {
    std::complex<T>* in[5];
    std::complex<T>* out[5];
    for (int j = 0; j < 5; ++j) {
      in[j] = p + kPfa20.in5[k1][j] * s;
      out[j] = p + kPfa20.out5[k1][j] * s;
    }
    for (std::int64_t t = 0; t < count; ++t) {
      std::complex<T> x[5] = {in[0][t], in[1][t], in[2][t], in[3][t], in[4][t]};
      dft5_vals(x, sg);
      for (int j = 0; j < 5; ++j) out[j][t] = x[j];
    }
  }
}

template <class T>
struct DirectDft {
  int q;
  std::vector<std::complex<T>> roots;  // roots[j] = exp(sg 2 pi i j / q)
  DirectDft(int q_, T sg) : q(q_), roots(q_) {
    for (int j = 0; j < q; ++j) {
      const double a = 2.0 * kPi * j / q;
      roots[j] = {T(std::cos(a)), T(sg * std::sin(a))};
    }
  }
  void operator()(std::complex<T>* p, std::int64_t s, std::int64_t count,
                  std::complex<T>* in) const {
    for (std::int64_t t = 0; t < count; ++t) {
      for (int j = 0; j < q; ++j) in[j] = p[t + j * s];
      for (int k = 0; k < q; ++k) {
        T re = 0, im = 0;
        int idx = 0;
        for (int j = 0; j < q; ++j) {
          const auto w = roots[idx];
          re += in[j].real() * w.real() - in[j].imag() * w.imag();
          im += in[j].real() * w.imag() + in[j].imag() * w.real();
          idx += k;
          if (idx >= q) idx -= q;
        }
        p[t + k * s] = {re, im};
      }
    }
  }
};

template <class E>
struct RealOf { using type = E; };
template <class T>
struct RealOf<std::complex<T>> { using type = T; };

template <class E>
struct Plan {
  using T = typename RealOf<E>::type;
  std::vector<Digit> digits;  // least significant (stride 1) first
  int low = 0;                // digits [0, low) are done in cache blocks
  std::int64_t len = 1, block = 1, panel_rows = 1, panel_width = 1;
  T sg = -1;
  T scale = 1;
  const DirectDft<T>* direct = nullptr;
};

template <class T>
inline void run_codelet(const Digit& d, T* p, std::int64_t s, std::int64_t count, T,
                        const DirectDft<T>*, T*) {
  switch (d.kind) {  // real elements only arise from the Walsh-Hadamard transform
    case Kind::H2: h2(p, s, count); break;
    case Kind::H4: h4(p, s, count); break;
    case Kind::H8: h8(p, s, count); break;
    default: throw std::logic_error("qary_fft: DFT codelet on real data");
  }
}

template <class T>
inline void run_codelet(const Digit& d, std::complex<T>* p, std::int64_t s,
                        std::int64_t count, T sg, const DirectDft<T>* direct,
                        std::complex<T>* scratch) {
  switch (d.kind) {
    case Kind::H2: h2(p, s, count); break;
    case Kind::H4: h4(p, s, count); break;
    case Kind::H8: h8(p, s, count); break;
    case Kind::D3: d3(p, s, count, sg); break;
    case Kind::D4: d4(p, s, count, sg); break;
    case Kind::D5: d5(p, s, count, sg); break;
    case Kind::D8: d8(p, s, count, sg); break;
    case Kind::D20: d20(p, s, count, sg); break;
    case Kind::Direct: (*direct)(p, s, count, scratch); break;
  }
}

// Applies one digit's butterfly to every group of a contiguous span of `len` elements,
// where the digit has stride s inside the span.
template <class E, class T>
void apply_digit(const Digit& d, E* data, std::int64_t len, std::int64_t s, T sg,
                 const DirectDft<T>* direct, E* scratch) {
  const std::int64_t group = d.radix * s;
  for (std::int64_t a = 0; a < len; a += group)
    run_codelet(d, data + a, s, s, sg, direct, scratch);
}

template <class E>
void execute(const Plan<E>& plan, E* data, std::int64_t batch, int nthreads) {
  using T = typename Plan<E>::T;
  const int nt = resolve_threads(nthreads);
  const std::int64_t L = plan.block, len = plan.len;
  const std::int64_t blocks_per_row = len / L;
  const int maxq = plan.direct ? plan.direct->q : 1;

  parallel_for(batch * blocks_per_row, nt, [&](std::int64_t task, int) {
    std::vector<E> scratch(maxq);
    E* blk = data + task * L;
    for (int i = 0; i < plan.low; ++i) {
      const Digit& d = plan.digits[i];
      apply_digit(d, blk, L, d.stride, plan.sg, plan.direct, scratch.data());
    }
    if (plan.scale != T(1))
      for (std::int64_t j = 0; j < L; ++j) blk[j] *= plan.scale;
  });

  if (plan.low == static_cast<int>(plan.digits.size())) return;
  const std::int64_t H = blocks_per_row, W = plan.panel_width;
  const std::int64_t panels = (L + W - 1) / W;
  std::vector<std::vector<E>> buffers(nt);
  parallel_for(batch * panels, nt, [&](std::int64_t task, int tid) {
    std::vector<E>& buf = buffers[tid];
    if (buf.empty()) buf.resize(H * W + maxq);
    E* scratch = buf.data() + H * W;
    E* row = data + (task / panels) * len;
    const std::int64_t c0 = (task % panels) * W, w = std::min(W, L - c0);
    for (std::int64_t h = 0; h < H; ++h)
      std::memcpy(buf.data() + h * w, row + h * L + c0, w * sizeof(E));
    for (std::size_t i = plan.low; i < plan.digits.size(); ++i) {
      const Digit& d = plan.digits[i];
      apply_digit(d, buf.data(), H * w, (d.stride / L) * w, plan.sg, plan.direct, scratch);
    }
    for (std::int64_t h = 0; h < H; ++h)
      std::memcpy(row + h * L + c0, buf.data() + h * w, w * sizeof(E));
  });
}

Kind dft_kind(int q) {
  switch (q) {
    case 2: return Kind::H2;
    case 3: return Kind::D3;
    case 4: return Kind::D4;
    case 5: return Kind::D5;
    case 8: return Kind::D8;
    case 20: return Kind::D20;
    default: return Kind::Direct;
  }
}

template <class E>
Plan<E> make_plan(int q, int n, bool inverse, bool hadamard) {
  Plan<E> plan;
  plan.len = qary_length(q, n);
  plan.sg = inverse ? 1 : -1;
  plan.scale = inverse ? 1 : static_cast<typename Plan<E>::T>(1.0 / double(plan.len));
  std::int64_t stride = 1;
  if (hadamard) {  // fuse up to three binary sites per digit
    int left = n;
    while (left > 0) {
      const int g = std::min(left, 3);
      const Kind k = g == 3 ? Kind::H8 : g == 2 ? Kind::H4 : Kind::H2;
      plan.digits.push_back({k, 1 << g, stride});
      stride <<= g;
      left -= g;
    }
  } else {
    for (int i = 0; i < n; ++i) {
      plan.digits.push_back({dft_kind(q), q, stride});
      stride *= q;
    }
  }
  const std::int64_t max_block = std::max<std::int64_t>(1, kBlockBytes / sizeof(E));
  plan.block = 1;
  for (const Digit& d : plan.digits) {
    if (plan.low > 0 && plan.block * d.radix > max_block) break;
    plan.block *= d.radix;
    ++plan.low;
  }
  const std::int64_t rows = plan.len / plan.block;
  const std::int64_t w = kPanelBytes / std::int64_t(sizeof(E)) / std::max<std::int64_t>(rows, 1);
  plan.panel_width = std::min(plan.block, std::max(kMinPanelWidth, w));
  return plan;
}

template <class E>
void check_args(const E* data, std::int64_t batch, int q, int n) {
  PLMSCOPE_CHECK(batch >= 0, "batch must be >= 0, got " << batch);
  PLMSCOPE_CHECK(data != nullptr || batch == 0, "data is null");
  (void)qary_length(q, n);
}

template <class T>
void complex_fft(std::complex<T>* data, std::int64_t batch, int q, int n, bool inverse,
                 int nthreads) {
  check_args(data, batch, q, n);
  if (batch == 0) return;
  auto plan = make_plan<std::complex<T>>(q, n, inverse, q == 2);
  std::unique_ptr<DirectDft<T>> direct;
  if (q != 2 && dft_kind(q) == Kind::Direct) {
    direct = std::make_unique<DirectDft<T>>(q, plan.sg);
    plan.direct = direct.get();
  }
  execute(plan, data, batch, nthreads);
}

template <class T>
void real_wht(T* data, std::int64_t batch, int n, bool inverse, int nthreads) {
  check_args(data, batch, 2, n);
  if (batch == 0) return;
  execute(make_plan<T>(2, n, inverse, true), data, batch, nthreads);
}

}  // namespace

void qary_fft(std::complex<double>* data, std::int64_t batch, int q, int n, bool inverse,
              int nthreads) {
  complex_fft(data, batch, q, n, inverse, nthreads);
}
void qary_fft(std::complex<float>* data, std::int64_t batch, int q, int n, bool inverse,
              int nthreads) {
  complex_fft(data, batch, q, n, inverse, nthreads);
}
void walsh_hadamard(double* data, std::int64_t batch, int n, bool inverse, int nthreads) {
  real_wht(data, batch, n, inverse, nthreads);
}
void walsh_hadamard(float* data, std::int64_t batch, int n, bool inverse, int nthreads) {
  real_wht(data, batch, n, inverse, nthreads);
}

}  // namespace plmscope
