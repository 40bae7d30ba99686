#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "plmscope/simd.h"
#include "plmscope/similarity.h"

namespace {

std::vector<float> random_rows(std::int64_t n, std::int64_t d, float offset, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> x(n * d);
  for (auto& v : x) v = g(rng) + offset;
  return x;
}

}  // namespace

TEST(Similarity, ReportsAnInstructionSet) {
  const std::string isa = plmscope::simd_name(plmscope::simd_level());
  EXPECT_TRUE(isa == "avx512" || isa == "avx2" || isa == "baseline") << isa;
}

class CovarianceIsa : public ::testing::TestWithParam<const char*> {
 protected:
  // PLMSCOPE_SIMD caps the instruction set; a CPU without the named one runs its widest.
  void SetUp() override { ::setenv("PLMSCOPE_SIMD", GetParam(), 1); }
  void TearDown() override { ::unsetenv("PLMSCOPE_SIMD"); }
};

INSTANTIATE_TEST_SUITE_P(Kernels, CovarianceIsa,
                         ::testing::Values("avx512", "avx2", "baseline"));

TEST(Similarity, RejectsUnknownInstructionSet) {
  ::setenv("PLMSCOPE_SIMD", "sse9", 1);
  EXPECT_THROW(plmscope::simd_level(), std::invalid_argument);
  ::unsetenv("PLMSCOPE_SIMD");
}

TEST_P(CovarianceIsa, UpperTriangleMatchesDirectSums) {
  // Sizes straddle the tile widths (16, 24, 48) and the 256-row block.
  for (auto [n, d] : {std::pair<std::int64_t, std::int64_t>{1, 1}, {3, 2}, {257, 17},
                      {600, 50}, {300, 97}}) {
    const auto x = random_rows(n, d, 5.0f, static_cast<unsigned>(n + d));
    std::vector<double> shift(d, 5.0), sum(d, 0.0), scatter(d * d, -7.0);
    for (std::int64_t i = 0; i < d; ++i)
      for (std::int64_t j = i; j < d; ++j) scatter[i * d + j] = 0.0;
    plmscope::covariance_accumulate(x.data(), n, d, shift.data(), sum.data(), scatter.data(), 2);
    for (std::int64_t i = 0; i < d; ++i) {
      double s = 0.0;
      for (std::int64_t k = 0; k < n; ++k) s += x[k * d + i] - 5.0;
      // float32 sums over blocks of 256 rows of values ~N(0, 1).
      ASSERT_NEAR(sum[i], s, 1e-6 * n) << "n=" << n << " d=" << d << " i=" << i;
      for (std::int64_t j = 0; j < d; ++j) {
        if (j < i) {
          ASSERT_EQ(scatter[i * d + j], -7.0) << "lower triangle was written at " << i << "," << j;
          continue;
        }
        double g = 0.0;
        for (std::int64_t k = 0; k < n; ++k)
          g += (x[k * d + i] - 5.0) * static_cast<double>(x[k * d + j] - 5.0);
        ASSERT_NEAR(scatter[i * d + j], g, 1e-5 * n) << "n=" << n << " d=" << d;
      }
    }
  }
}

TEST_P(CovarianceIsa, ChunksAddUpAndThreadsDoNotChangeBits) {
  const std::int64_t n = 700, d = 61;
  const auto x = random_rows(n, d, 0.0f, 3);
  std::vector<double> shift(d, 0.1);
  std::vector<double> s1(d, 0.0), g1(d * d, 0.0), s2(d, 0.0), g2(d * d, 0.0);
  plmscope::covariance_accumulate(x.data(), n, d, shift.data(), s1.data(), g1.data(), 1);
  plmscope::covariance_accumulate(x.data(), n, d, shift.data(), s2.data(), g2.data(), 3);
  EXPECT_EQ(g1, g2);
  EXPECT_EQ(s1, s2);
  std::vector<double> s3(d, 0.0), g3(d * d, 0.0);
  plmscope::covariance_accumulate(x.data(), 256, d, shift.data(), s3.data(), g3.data(), 2);
  plmscope::covariance_accumulate(x.data() + 256 * d, n - 256, d, shift.data(), s3.data(),
                                  g3.data(), 2);
  EXPECT_EQ(g1, g3);  // the 256-row blocks are the same, so the sums are too
}

TEST_P(CovarianceIsa, WideColumnsMatchDirectSumsForAnyThreadCount) {
  // d = 999: the last panel clipped; 2100 rows: eight full 256-row blocks and a 52-row tail.
  const std::int64_t n = 2100, d = 999;
  auto x = random_rows(n, d, 0.0f, 11);
  for (std::int64_t k = 0; k < n; ++k)
    for (std::int64_t j = 0; j < d; ++j)  // column scales from 1/32 to 32
      x[k * d + j] = (x[k * d + j] + 2.0f) * std::ldexp(1.0f, static_cast<int>(j % 11) - 5);
  std::vector<double> shift(d, 0.0), sum(d, 0.0), scatter(d * d, 0.0);
  plmscope::covariance_accumulate(x.data(), n, d, shift.data(), sum.data(), scatter.data(), 1);
  std::vector<double> col(n);
  for (std::int64_t i = 0; i < d; i += 7) {  // every 7th row of the scatter, all columns
    double sii = 0.0;
    for (std::int64_t k = 0; k < n; ++k) sii += double(x[k * d + i]) * x[k * d + i];
    for (std::int64_t j = i; j < d; ++j) {
      double g = 0.0, sjj = 0.0;
      for (std::int64_t k = 0; k < n; ++k) {
        g += double(x[k * d + i]) * x[k * d + j];
        sjj += double(x[k * d + j]) * x[k * d + j];
      }
      ASSERT_NEAR(scatter[i * d + j], g, 2e-6 * std::sqrt(sii * sjj)) << i << "," << j;
    }
  }
  for (const int threads : {2, 5}) {
    std::vector<double> s2(d, 0.0), g2(d * d, 0.0);
    plmscope::covariance_accumulate(x.data(), n, d, shift.data(), s2.data(), g2.data(),
                                    threads);
    EXPECT_EQ(g2, scatter) << threads << " threads";
    EXPECT_EQ(s2, sum) << threads << " threads";
  }
}

TEST(Covariance, MomentsOfTheUpperTriangle) {
  // C = (S - s s^T / m) / (m - 1) for S = [[4, 1], [., 9]] (lower ignored), s = (2, -2), m = 4
  const std::vector<double> scatter{4.0, 1.0, 1e300, 9.0}, sum{2.0, -2.0};
  const auto r = plmscope::covariance_moments(scatter.data(), sum.data(), 2, 4);
  const double c00 = (4.0 - 1.0) / 3.0, c01 = (1.0 + 1.0) / 3.0, c11 = (9.0 - 1.0) / 3.0;
  EXPECT_DOUBLE_EQ(r.trace, c00 + c11);
  EXPECT_DOUBLE_EQ(r.frobenius2, c00 * c00 + 2.0 * c01 * c01 + c11 * c11);
  EXPECT_THROW(plmscope::covariance_moments(scatter.data(), sum.data(), 2, 1),
               std::invalid_argument);
}

TEST(Covariance, EmptyInputIsANoOpAndBadSizesThrow) {
  std::vector<double> shift(2, 0.0), sum(2, 0.0), scatter(4, 0.0);
  plmscope::covariance_accumulate(nullptr, 0, 2, shift.data(), sum.data(), scatter.data());
  EXPECT_EQ(sum, std::vector<double>(2, 0.0));
  EXPECT_THROW(plmscope::covariance_accumulate(nullptr, -1, 2, shift.data(), sum.data(),
                                               scatter.data()),
               std::invalid_argument);
}

TEST(UnitSum, MatchesNormalisedRowsAndRejectsZeroRows) {
  const std::int64_t n = 20000, d = 65;  // enough work for several threads
  const auto x = random_rows(n, d, 0.3f, 4);
  std::vector<double> u1(d, 0.0), u2(d, 0.0);
  plmscope::unit_sum_accumulate(x.data(), n, d, u1.data(), 1);
  plmscope::unit_sum_accumulate(x.data(), n, d, u2.data(), 3);
  EXPECT_EQ(u1, u2);
  for (std::int64_t j = 0; j < d; ++j) {
    double s = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      double norm = 0.0;
      for (std::int64_t k = 0; k < d; ++k) norm += double(x[i * d + k]) * x[i * d + k];
      s += x[i * d + j] / std::sqrt(norm);
    }
    ASSERT_NEAR(u1[j], s, 1e-9);
  }
  std::vector<float> z = {1.0f, 0.0f, 0.0f, 0.0f};
  std::vector<double> u(2, 0.0);
  EXPECT_THROW(plmscope::unit_sum_accumulate(z.data(), 2, 2, u.data()), std::invalid_argument);
}

TEST(PairSimilarity, MatchesDirectFormulas) {
  const std::int64_t n = 50, d = 19, P = 600;
  const auto x = random_rows(n, d, 0.0f, 5);
  std::mt19937 rng(6);
  std::uniform_int_distribution<std::int64_t> pick(0, n - 1);
  std::vector<std::int64_t> pairs(2 * P);
  for (auto& v : pairs) v = pick(rng);
  std::vector<double> cosine(P), sqdist(P);
  plmscope::pair_similarity(x.data(), n, d, pairs.data(), P, cosine.data(), sqdist.data(), 2);
  for (std::int64_t p = 0; p < P; ++p) {
    const float* a = x.data() + pairs[2 * p] * d;
    const float* b = x.data() + pairs[2 * p + 1] * d;
    double ab = 0, aa = 0, bb = 0, dd = 0;
    for (std::int64_t j = 0; j < d; ++j) {
      ab += double(a[j]) * b[j];
      aa += double(a[j]) * a[j];
      bb += double(b[j]) * b[j];
      dd += (double(a[j]) - b[j]) * (double(a[j]) - b[j]);
    }
    ASSERT_NEAR(cosine[p], ab / std::sqrt(aa * bb), 1e-12);
    ASSERT_NEAR(sqdist[p], dd, 1e-10);
  }
  std::vector<std::int64_t> bad = {0, n};
  EXPECT_THROW(plmscope::pair_similarity(x.data(), n, d, bad.data(), 1, cosine.data(),
                                         nullptr),
               std::invalid_argument);
}
