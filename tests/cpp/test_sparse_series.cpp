#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <random>
#include <stdexcept>
#include <vector>

#include "plmscope/sparse_series.h"

TEST(SparseSeries, MatchesDirectSum) {
  const int q = 20, n = 6, K = 37, M = 2500;  // M spans several point blocks
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> site(0, q - 1);
  std::bernoulli_distribution nonzero(0.3);
  std::normal_distribution<double> g;
  std::vector<std::uint8_t> freqs(K * n), x(M * n);
  std::vector<std::complex<double>> values(K);
  for (auto& v : freqs) v = nonzero(rng) ? site(rng) : 0;
  for (auto& v : x) v = site(rng);
  for (auto& v : values) v = {g(rng), g(rng)};
  std::vector<double> out(M);
  plmscope::sparse_series_evaluate(freqs.data(), values.data(), K, n, q, x.data(), M,
                                   out.data(), 2);
  for (int m = 0; m < M; ++m) {
    std::complex<double> acc = 0;
    for (int k = 0; k < K; ++k) {
      int dot = 0;
      for (int i = 0; i < n; ++i) dot += freqs[k * n + i] * x[m * n + i];
      acc += values[k] * std::polar(1.0, 2 * M_PI * (dot % q) / q);
    }
    ASSERT_NEAR(out[m], acc.real(), 1e-10) << "m=" << m;
  }
}

TEST(SparseSeries, RejectsOutOfRangeValues) {
  std::vector<std::uint8_t> freqs = {0, 3}, x = {1, 1};
  std::vector<std::complex<double>> values = {1.0};
  std::vector<double> out(1);
  EXPECT_THROW(plmscope::sparse_series_evaluate(freqs.data(), values.data(), 1, 2, 3, x.data(),
                                                1, out.data()),
               std::invalid_argument);
  EXPECT_THROW(plmscope::sparse_series_evaluate(freqs.data(), values.data(), 1, 2, 1, x.data(),
                                                1, out.data()),
               std::invalid_argument);
}
