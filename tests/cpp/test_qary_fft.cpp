// The core's transforms against a direct O(q^2n) DFT, without Python.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "plmscope/qary_fft.h"

namespace {

using cd = std::complex<double>;

// F[k] = q^-n sum_x f(x) exp(sg 2 pi i <k,x> / q), sites most significant first.
std::vector<cd> direct_dft(const std::vector<cd>& f, int q, int n, bool inverse) {
  const std::int64_t len = plmscope::qary_length(q, n);
  std::vector<cd> out(len);
  const double sg = inverse ? 1.0 : -1.0;
  for (std::int64_t k = 0; k < len; ++k) {
    cd acc = 0;
    for (std::int64_t x = 0; x < len; ++x) {
      std::int64_t dot = 0, kk = k, xx = x;
      for (int i = 0; i < n; ++i) {
        dot += (kk % q) * (xx % q);
        kk /= q;
        xx /= q;
      }
      acc += f[x] * std::polar(1.0, sg * 2.0 * M_PI * double(dot % q) / q);
    }
    out[k] = inverse ? acc : acc / double(len);
  }
  return out;
}

std::vector<cd> random_signal(std::int64_t len, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g;
  std::vector<cd> f(len);
  for (auto& v : f) v = {g(rng), g(rng)};
  return f;
}

class QaryFft : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(QaryFft, MatchesDirectDftBothDirections) {
  const auto [q, n] = GetParam();
  const std::int64_t len = plmscope::qary_length(q, n);
  for (bool inverse : {false, true}) {
    auto f = random_signal(len, 7 * q + n);
    auto want = direct_dft(f, q, n, inverse);
    plmscope::qary_fft(f.data(), 1, q, n, inverse, 2);
    for (std::int64_t k = 0; k < len; ++k)
      ASSERT_NEAR(std::abs(f[k] - want[k]), 0.0, 1e-9 * std::sqrt(double(len)))
          << "q=" << q << " n=" << n << " k=" << k << " inverse=" << inverse;
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, QaryFft,
                         ::testing::Values(std::pair{2, 1}, std::pair{2, 7}, std::pair{3, 4},
                                           std::pair{4, 3}, std::pair{5, 3}, std::pair{6, 2},
                                           std::pair{7, 2}, std::pair{8, 3}, std::pair{20, 2},
                                           std::pair{20, 1}, std::pair{3, 0}));

TEST(QaryFft, BatchRowsAreIndependentAndFloatAgrees) {
  const int q = 20, n = 3, batch = 3;
  const std::int64_t len = plmscope::qary_length(q, n);
  auto all = random_signal(len * batch, 3);
  std::vector<std::complex<float>> single(all.begin(), all.end());
  plmscope::qary_fft(all.data(), batch, q, n, false, 2);
  plmscope::qary_fft(single.data(), batch, q, n, false, 2);
  for (int b = 0; b < batch; ++b) {
    std::vector<cd> row(all.begin() + b * len, all.begin() + (b + 1) * len);
    auto f = random_signal(len * batch, 3);
    auto want = direct_dft(std::vector<cd>(f.begin() + b * len, f.begin() + (b + 1) * len), q, n,
                           false);
    for (std::int64_t k = 0; k < len; ++k) {
      ASSERT_NEAR(std::abs(row[k] - want[k]), 0.0, 1e-10);
      ASSERT_NEAR(std::abs(std::complex<double>(single[b * len + k]) - want[k]), 0.0, 1e-5);
    }
  }
}

TEST(WalshHadamard, LargeTransformRoundTripsAndMatchesComplexPath) {
  // n = 19 is past the cache block, so the column-panel path runs too.
  const int n = 19;
  const std::int64_t len = plmscope::qary_length(2, n);
  std::mt19937 rng(1);
  std::normal_distribution<double> g;
  std::vector<double> f(len);
  for (auto& v : f) v = g(rng);
  std::vector<cd> fc(f.begin(), f.end());
  auto orig = f;
  plmscope::walsh_hadamard(f.data(), 1, n, false, 2);
  plmscope::qary_fft(fc.data(), 1, 2, n, false, 2);
  for (std::int64_t k = 0; k < len; k += 997) ASSERT_NEAR(f[k], fc[k].real(), 1e-12);
  plmscope::walsh_hadamard(f.data(), 1, n, true, 2);
  for (std::int64_t k = 0; k < len; ++k) ASSERT_NEAR(f[k], orig[k], 1e-9);
}

TEST(QaryFft, LargeQ20UsesPanelsAndRoundTrips) {
  const int q = 20, n = 4;
  const std::int64_t len = plmscope::qary_length(q, n);
  auto f = random_signal(len, 11);
  auto orig = f;
  plmscope::qary_fft(f.data(), 1, q, n, false, 0);
  // F[0] is the mean.
  cd mean = 0;
  for (auto v : orig) mean += v;
  mean /= double(len);
  ASSERT_NEAR(std::abs(f[0] - mean), 0.0, 1e-12);
  plmscope::qary_fft(f.data(), 1, q, n, true, 0);
  for (std::int64_t k = 0; k < len; ++k) ASSERT_NEAR(std::abs(f[k] - orig[k]), 0.0, 1e-9);
}

// The baseline, AVX2 and AVX-512 kernels do the same IEEE operations in the same order, so
// they must agree bit for bit. PLMSCOPE_SIMD caps the instruction set; on a CPU without
// AVX2 or AVX-512 the capped runs take the same path as the uncapped one.
template <class E, class Run>
void expect_same_bits_for_every_simd_level(const std::vector<E>& data, Run run) {
  auto widest = data;
  ::unsetenv("PLMSCOPE_SIMD");
  run(widest.data());
  for (const char* cap : {"avx2", "baseline"}) {
    auto capped = data;
    ::setenv("PLMSCOPE_SIMD", cap, 1);
    run(capped.data());
    ::unsetenv("PLMSCOPE_SIMD");
    ASSERT_EQ(std::memcmp(widest.data(), capped.data(), data.size() * sizeof(E)), 0)
        << "PLMSCOPE_SIMD=" << cap;
  }
}

TEST(QaryFft, SimdKernelsAgreeBitForBit) {
  // Sizes past the cache block (panel path) and below it, every codelet, both directions.
  const std::vector<std::pair<int, int>> sizes = {{2, 17}, {3, 9}, {4, 9}, {5, 7}, {6, 3},
                                                  {8, 6}, {20, 4}, {20, 2}};
  for (const auto& [q, n] : sizes)
    for (bool inverse : {false, true}) {
      SCOPED_TRACE("q=" + std::to_string(q) + " n=" + std::to_string(n));
      const std::int64_t len = plmscope::qary_length(q, n);
      const int batch = 2;
      auto f = random_signal(len * batch, q + n);
      expect_same_bits_for_every_simd_level(
          f, [&](cd* p) { plmscope::qary_fft(p, batch, q, n, inverse, 2); });
      std::vector<std::complex<float>> f32(f.begin(), f.end());
      expect_same_bits_for_every_simd_level(
          f32, [&](std::complex<float>* p) { plmscope::qary_fft(p, batch, q, n, inverse, 2); });
      if (q == 2) {
        std::vector<double> r(len * batch);
        for (std::size_t i = 0; i < r.size(); ++i) r[i] = f[i].real();
        expect_same_bits_for_every_simd_level(
            r, [&](double* p) { plmscope::walsh_hadamard(p, batch, n, inverse, 2); });
        std::vector<float> r32(r.begin(), r.end());
        expect_same_bits_for_every_simd_level(
            r32, [&](float* p) { plmscope::walsh_hadamard(p, batch, n, inverse, 2); });
      }
    }
}

TEST(QaryFft, BatchedRowsMatchSingleRowsBitForBit) {
  // A batch of rows past the cache block is done one whole row per task; a single row is
  // done in two parallel sweeps (blocks, then column panels). Both must give the same bits.
  for (const auto& [q, n] : std::vector<std::pair<int, int>>{{20, 4}, {2, 17}, {4, 8}})
    for (int nthreads : {1, 2}) {
      SCOPED_TRACE("q=" + std::to_string(q) + " n=" + std::to_string(n));
      const std::int64_t len = plmscope::qary_length(q, n);
      const int batch = 4;
      auto all = random_signal(len * batch, 5);
      auto rows = all;
      plmscope::qary_fft(all.data(), batch, q, n, false, nthreads);
      for (int b = 0; b < batch; ++b) plmscope::qary_fft(rows.data() + b * len, 1, q, n, false, 2);
      ASSERT_EQ(std::memcmp(all.data(), rows.data(), all.size() * sizeof(cd)), 0);
    }
}

TEST(QaryFft, OutOfPlaceEqualsInPlaceBitForBit) {
  for (const auto& [q, n, batch] : {std::tuple{20, 4, 2}, std::tuple{4, 9, 1}, std::tuple{7, 2, 3}}) {
    const std::int64_t len = plmscope::qary_length(q, n);
    const std::vector<cd> x = random_signal(len * batch, 7);
    std::vector<cd> in_place = x, out(x.size());
    plmscope::qary_fft(in_place.data(), batch, q, n, false, 2);
    plmscope::qary_fft(x.data(), out.data(), batch, q, n, false, 2);
    EXPECT_EQ(0, std::memcmp(in_place.data(), out.data(), x.size() * sizeof(cd))) << q << " " << n;
  }
  std::vector<double> w(1 << 18), wi, wo(w.size());
  std::mt19937_64 rng(3);
  std::normal_distribution<double> z;
  for (double& v : w) v = z(rng);
  wi = w;
  plmscope::walsh_hadamard(wi.data(), 1, 18, false, 2);
  plmscope::walsh_hadamard(w.data(), wo.data(), 1, 18, false, 2);
  EXPECT_EQ(0, std::memcmp(wi.data(), wo.data(), w.size() * sizeof(double)));
}

TEST(QaryFft, LargeOutOfPlaceEqualsInPlaceBitForBit) {
  // Large outputs: q = 20 rows built in the output one row per task (36 MB), and one 2^21
  // row done in blocks, then panels (34 MB), single and multi-threaded.
  for (const auto& [q, n, batch] : {std::tuple{20, 4, 14}, std::tuple{2, 21, 1}})
    for (int nthreads : {1, 2}) {
      SCOPED_TRACE("q=" + std::to_string(q) + " n=" + std::to_string(n));
      const std::int64_t len = plmscope::qary_length(q, n);
      const std::vector<cd> x = random_signal(len * batch, 9);
      std::vector<cd> in_place = x, out(x.size());
      plmscope::qary_fft(in_place.data(), batch, q, n, false, nthreads);
      plmscope::qary_fft(x.data(), out.data(), batch, q, n, false, nthreads);
      ASSERT_EQ(0, std::memcmp(in_place.data(), out.data(), x.size() * sizeof(cd)));
    }
}

// out[r, x, j] = FFT over x of values[index[(r, j, x)]] - shift: the q-SFT bins layout.
TEST(QaryFftGather, EqualsGatherThenTransformThenTranspose) {
  const int q = 20, n = 3;
  const std::int64_t rows = 2, inner = 5, len = plmscope::qary_length(q, n);
  std::mt19937_64 rng(11);
  std::normal_distribution<double> z;
  std::vector<double> values(rows * inner * len - 4);
  for (double& v : values) v = z(rng);
  std::vector<std::int64_t> index(rows * inner * len);
  std::uniform_int_distribution<std::int64_t> pick(0, std::int64_t(values.size()) - 1);
  for (auto& i : index) i = pick(rng);
  std::vector<cd> out(index.size());
  plmscope::qary_fft_gather(values.data(), values.size(), index.data(), 0.5, rows, inner, q, n,
                            out.data(), 2);
  std::vector<cd> rowwise(index.size());
  for (std::size_t i = 0; i < index.size(); ++i) rowwise[i] = {values[index[i]] - 0.5, 0.0};
  plmscope::qary_fft(rowwise.data(), rows * inner, q, n, false, 1);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < inner; ++j)
      for (std::int64_t x = 0; x < len; ++x)
        ASSERT_EQ(rowwise[(r * inner + j) * len + x], out[(r * len + x) * inner + j]);
  index[17] = std::int64_t(values.size());
  EXPECT_THROW(plmscope::qary_fft_gather(values.data(), values.size(), index.data(), 0.0, rows,
                                         inner, q, n, out.data(), 1),
               std::invalid_argument);
}

TEST(QaryFft, RejectsBadArguments) {
  std::vector<cd> f(8);
  EXPECT_THROW(plmscope::qary_fft(f.data(), 1, 1, 3, false), std::invalid_argument);
  EXPECT_THROW(plmscope::qary_log(12, 5), std::invalid_argument);
  EXPECT_THROW(plmscope::qary_length(20, 40), std::invalid_argument);
  EXPECT_EQ(plmscope::qary_log(8000, 20), 3);
}

}  // namespace
