// The CUDA kernels' block programs run on the host, thread by thread between barriers, and
// compared with the CPU core. This checks the tiling, index arithmetic and codelets of
// cuda/*_tile.h on machines without a GPU; tests/test_gpu.py checks the real kernels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "../../cuda/qary_fft_tile.h"
#include "plmscope/qary_fft.h"

namespace pc = plmscope::cuda;

namespace {

/// A CUDA block emulated on the host: each() runs the phase on every thread in turn.
struct HostBlock {
  int nthreads;
  std::int64_t block, grid;
  std::int64_t first_tile() const { return block; }
  std::int64_t tile_step() const { return grid; }
  template <class F>
  void each(F&& f) {
    for (int t = 0; t < nthreads; ++t) f(t, nthreads);
  }
};

template <class E>
void emulate_qary_fft(E* data, std::int64_t rows, int q, int n, bool inverse, int capacity,
                      int min_width, std::int64_t chunk_rows, int nthreads, int grid) {
  using T = typename pc::RealOf<E>::type;
  pc::run_qary_fft(data, rows, q, n, inverse, capacity, min_width, chunk_rows,
                   [&](const pc::QaryFftParams& p) {
    ASSERT_LE(p.tile_elements(), std::max(capacity, q * min_width));
    const bool ok = pc::dispatch_int<2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
                                     18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
                                     32>(q, [&](auto qc) {
      constexpr int Q = decltype(qc)::value;
      if constexpr (pc::IsComplex<E>::value || Q == 2) {
        std::vector<E> tile(p.tile_elements());
        std::vector<pc::Cplx<T>> roots(pc::kMaxFftRadix);
        for (int b = 0; b < grid; ++b) {
          HostBlock blk{nthreads, b, grid};
          pc::qary_fft_block<pc::FftTraits<E, Q>>(p, tile.data(), roots.data(), blk);
        }
      }
    });
    ASSERT_TRUE(ok) << "q=" << q;
  });
}

template <class T>
std::vector<std::complex<T>> random_complex(std::size_t size, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> nd;
  std::vector<std::complex<T>> v(size);
  for (auto& z : v) z = {T(nd(gen)), T(nd(gen))};
  return v;
}

std::int64_t ipow(int q, int n) {
  std::int64_t v = 1;
  for (int i = 0; i < n; ++i) v *= q;
  return v;
}

template <class T>
double max_abs_diff(const std::vector<std::complex<T>>& a, const std::vector<std::complex<T>>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::abs(a[i] - b[i])));
  return m;
}

struct FftCase {
  int q, n, rows, capacity, min_width, chunk_rows, nthreads, grid;
};

class EmulatedFft : public ::testing::TestWithParam<FftCase> {};

TEST_P(EmulatedFft, MatchesCpuCoreBothDirectionsDouble) {
  const FftCase c = GetParam();
  const std::int64_t len = ipow(c.q, c.n);
  for (bool inverse : {false, true}) {
    auto x = random_complex<double>(c.rows * len, 17 * c.q + c.n);
    auto ref = x;
    plmscope::qary_fft(ref.data(), c.rows, c.q, c.n, inverse, 1);
    emulate_qary_fft(reinterpret_cast<pc::Cplx<double>*>(x.data()), c.rows, c.q, c.n, inverse,
                     c.capacity, c.min_width, c.chunk_rows, c.nthreads, c.grid);
    const double tol = 1e-12 * (inverse ? double(len) : 1.0) * (c.q > 8 ? c.q : 8);
    EXPECT_LT(max_abs_diff(x, ref), tol) << "q=" << c.q << " n=" << c.n << " inverse=" << inverse;
  }
}

TEST_P(EmulatedFft, MatchesCpuCoreSingle) {
  const FftCase c = GetParam();
  const std::int64_t len = ipow(c.q, c.n);
  auto x = random_complex<float>(c.rows * len, 5 * c.q + c.n);
  auto ref = x;
  plmscope::qary_fft(ref.data(), c.rows, c.q, c.n, false, 1);
  emulate_qary_fft(reinterpret_cast<pc::Cplx<float>*>(x.data()), c.rows, c.q, c.n, false,
                   c.capacity, c.min_width, c.chunk_rows, c.nthreads, c.grid);
  EXPECT_LT(max_abs_diff(x, ref), 2e-5 * std::max(1, c.q / 4));
}

// Every q of the GPU path (codelets 2, 3, 4, 5, 8; prime-factor splits 6, 10, 12, 14, 15,
// 18, 20, 21, 22, 24, 26, 28, 30; direct sums for the other prime powers), small and
// awkward capacities so that several passes, partial tiles and chunking all occur.
std::vector<FftCase> fft_cases() {
  std::vector<FftCase> cases;
  for (int q = 2; q <= 32; ++q) {
    const int n = q <= 4 ? 4 : q <= 8 ? 3 : 2;
    cases.push_back({q, n, 2, 64 * 32, 4, 8, 64, 3});
    cases.push_back({q, n, 3, q * 4, 4, 2, 33, 2});  // one digit per pass
  }
  cases.push_back({2, 1, 1, 64, 4, 1, 7, 1});
  cases.push_back({2, 12, 2, 256, 8, 1, 128, 5});   // q = 2: radix-8/4/2 sweeps, 3 passes
  cases.push_back({2, 11, 3, 1024, 4, 3, 32, 4});
  cases.push_back({3, 7, 2, 100, 4, 1, 17, 3});     // capacity not a power of q
  cases.push_back({20, 3, 2, 8192, 4, 2, 512, 4});  // the q-SFT shape, one pass
  cases.push_back({20, 4, 1, 8192, 4, 1, 512, 4});  // two passes: 8000 then 20 x 20 x 4
  cases.push_back({20, 1, 5, 8192, 4, 5, 64, 2});   // many rows in one tile (groups > 1)
  cases.push_back({5, 0, 3, 64, 4, 3, 32, 1});      // n = 0: identity
  cases.push_back({7, 3, 0, 64, 4, 3, 32, 1});      // no rows
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllQ, EmulatedFft, ::testing::ValuesIn(fft_cases()));

TEST(EmulatedFft, WalshHadamardRealMatchesCpu) {
  for (int n : {1, 2, 3, 7, 13}) {
    const int rows = 3;
    std::mt19937 gen(n);
    std::normal_distribution<double> nd;
    std::vector<float> x(rows << n);
    for (auto& v : x) v = float(nd(gen));
    for (bool inverse : {false, true}) {
      auto ref = x;
      auto got = x;
      plmscope::walsh_hadamard(ref.data(), rows, n, inverse, 1);
      emulate_qary_fft(got.data(), rows, 2, n, inverse, 512, 8, 2, 64, 3);
      for (std::size_t i = 0; i < x.size(); ++i)
        ASSERT_NEAR(got[i], ref[i], 1e-4 * (inverse ? (1 << n) : 1)) << "n=" << n << " i=" << i;
    }
  }
}

TEST(EmulatedFft, PlanCoversEveryDigitOnce) {
  for (int q : {2, 3, 20, 32})
    for (int n : {1, 5, 9})
      for (int capacity : {q * 4, 512, 8192}) {
        const auto passes = pc::plan_qary_fft(q, n, 2, capacity, 4);
        int d = 0;
        std::int64_t stride = 1;
        for (const auto& p : passes) {
          EXPECT_EQ(p.d0, d);
          EXPECT_EQ(p.stride, stride);
          EXPECT_GE(p.digits, 1);
          EXPECT_LE(std::int64_t(p.groups) * p.span * p.width, std::max(capacity, q * 4));
          d += p.digits;
          stride *= p.span;
        }
        EXPECT_EQ(d, n);
      }
  // The benchmark shapes take two passes with 128 KiB tiles.
  EXPECT_EQ(pc::plan_qary_fft(20, 5, 64, 16384, 4).size(), 2u);
  EXPECT_EQ(pc::plan_qary_fft(2, 26, 1, 16384, 4).size(), 2u);
}

}  // namespace
