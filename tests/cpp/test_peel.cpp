// The peeling decoder and the query design, without Python.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <map>
#include <random>
#include <vector>

#include "plmscope/peel.h"
#include "plmscope/qary_fft.h"
#include "plmscope/qsft_design.h"

namespace {

using cd = std::complex<double>;

struct Problem {
  int q, n, b, C, R;
  std::vector<std::uint8_t> M, D;
  std::map<std::vector<std::uint8_t>, cd> truth;
};

// Bins computed straight from the definition U[c][j][p] = sum_{M_c^T k = j} F[k] w^<k,d_p>.
std::vector<cd> make_bins(const Problem& pr) {
  const std::int64_t B = plmscope::qary_length(pr.q, pr.b);
  const int P = pr.R * (pr.n + 1);
  std::vector<cd> U(pr.C * B * P, 0.0);
  for (const auto& [k, v] : pr.truth)
    for (int c = 0; c < pr.C; ++c) {
      std::int64_t j = 0;
      for (int t = 0; t < pr.b; ++t) {
        int s = 0;
        for (int i = 0; i < pr.n; ++i) s += k[i] * pr.M[(c * pr.n + i) * pr.b + t];
        j = j * pr.q + s % pr.q;
      }
      for (int p = 0; p < P; ++p) {
        int s = 0;
        for (int i = 0; i < pr.n; ++i) s += k[i] * pr.D[p * pr.n + i];
        U[(c * B + j) * P + p] += v * std::polar(1.0, 2 * M_PI * (s % pr.q) / pr.q);
      }
    }
  return U;
}

Problem random_problem(int q, int n, int b, int C, int R, int K, unsigned seed) {
  Problem pr{q, n, b, C, R, {}, {}, {}};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> val(0, q - 1), site(0, n - 1);
  std::normal_distribution<double> g;
  pr.M.resize(C * n * b);
  for (auto& m : pr.M) m = static_cast<std::uint8_t>(val(rng));
  pr.D.resize(R * (n + 1) * n, 0);
  for (int r = 0; r < R; ++r) {
    std::vector<int> base(n);
    for (auto& x : base) x = val(rng);
    for (int s = 0; s <= n; ++s)
      for (int i = 0; i < n; ++i)
        pr.D[(r * (n + 1) + s) * n + i] = (base[i] + (s == i + 1 ? 1 : 0)) % q;
  }
  while (static_cast<int>(pr.truth.size()) < K) {
    std::vector<std::uint8_t> k(n, 0);
    for (int o = 0; o < 2; ++o) k[site(rng)] = static_cast<std::uint8_t>(val(rng));
    pr.truth[k] = cd(g(rng), g(rng));
  }
  return pr;
}

TEST(Peel, RecoversNoiselessSparseSpectrum) {
  for (int q : {2, 3, 20}) {
    auto pr = random_problem(q, 8, 3, 3, 2, 12, 100 + q);
    auto U = make_bins(pr);
    plmscope::PeelParams p;
    p.q = q; p.n = 8; p.b = 3; p.num_groups = 3; p.num_repeats = 2;
    p.zeroton_energy = 1e-18; p.singleton_residual = 1e-18; p.nthreads = 2;
    auto r = plmscope::peel(U.data(), pr.M.data(), pr.D.data(), p);
    std::map<std::vector<std::uint8_t>, cd> got;
    for (std::size_t i = 0; i < r.values.size(); ++i)
      got[std::vector<std::uint8_t>(r.frequencies.begin() + i * 8,
                                    r.frequencies.begin() + (i + 1) * 8)] = r.values[i];
    std::size_t nonzero = 0;
    for (const auto& [k, v] : pr.truth) nonzero += std::abs(v) > 0;
    ASSERT_EQ(got.size(), pr.truth.size()) << "q=" << q;
    for (const auto& [k, v] : pr.truth) {
      ASSERT_TRUE(got.count(k)) << "q=" << q;
      EXPECT_NEAR(std::abs(got[k] - v), 0.0, 1e-12);
    }
    EXPECT_EQ(r.bins_left, 0);
    EXPECT_LT(r.residual_energy, 1e-20);
    (void)nonzero;
  }
}

TEST(Peel, SameResultWithOneOrTwoThreads) {
  auto pr = random_problem(4, 6, 2, 2, 1, 20, 7);  // crowded: many multitons
  plmscope::PeelParams p;
  p.q = 4; p.n = 6; p.b = 2; p.num_groups = 2; p.num_repeats = 1;
  p.zeroton_energy = 1e-18; p.singleton_residual = 1e-18;
  auto U1 = make_bins(pr), U2 = U1;
  p.nthreads = 1;
  auto a = plmscope::peel(U1.data(), pr.M.data(), pr.D.data(), p);
  p.nthreads = 2;
  auto b = plmscope::peel(U2.data(), pr.M.data(), pr.D.data(), p);
  EXPECT_EQ(a.frequencies, b.frequencies);
  EXPECT_EQ(a.values, b.values);
  EXPECT_EQ(a.singletons_per_round, b.singletons_per_round);
}

// Overflowed or NaN bins carry no phase: the decoder must not round their NaN phase to a
// digit (signed overflow, undefined behaviour; UBSan flagged it) but treat them as multitons.
TEST(Peel, NonFiniteBinsAreMultitons) {
  for (double bad : {std::nan(""), HUGE_VAL, -HUGE_VAL}) {
    auto pr = random_problem(3, 5, 2, 2, 1, 4, 11);
    auto U = make_bins(pr);
    const int P = 6;
    for (int p = 0; p < P; ++p) U[4 * P + p] = cd(bad, p % 2 ? bad : 1.0);  // group 0, bin 4
    plmscope::PeelParams p;
    p.q = 3; p.n = 5; p.b = 2; p.num_groups = 2; p.num_repeats = 1;
    p.zeroton_energy = 1e-18; p.singleton_residual = 1e-18; p.nthreads = 1;
    auto r = plmscope::peel(U.data(), pr.M.data(), pr.D.data(), p);
    for (const auto& v : r.values) EXPECT_TRUE(std::isfinite(v.real()) && std::isfinite(v.imag()));
  }
}

TEST(Peel, RejectsBadArguments) {
  std::vector<cd> U(4 * 2);
  std::vector<std::uint8_t> M = {1, 0}, D = {0, 0, 1, 0, 0, 1};
  plmscope::PeelParams p;
  p.q = 2; p.n = 2; p.b = 3;
  EXPECT_THROW(plmscope::peel(U.data(), M.data(), D.data(), p), std::invalid_argument);
  p.b = 1; M = {1, 5};
  EXPECT_THROW(plmscope::peel(U.data(), M.data(), D.data(), p), std::invalid_argument);
}

TEST(QsftDesign, UniqueCodesSortsAndInverts) {
  std::vector<std::int64_t> codes = {5, 3, 5, 0, 1LL << 40, 3, 7};
  std::vector<std::int64_t> uniq(codes.size()), inv(codes.size()), first(codes.size());
  const auto m = plmscope::unique_codes(codes.data(), codes.size(), uniq.data(), inv.data(),
                                        first.data());
  ASSERT_EQ(m, 5);
  EXPECT_EQ(std::vector<std::int64_t>(uniq.begin(), uniq.begin() + m),
            (std::vector<std::int64_t>{0, 3, 5, 7, 1LL << 40}));
  for (std::size_t i = 0; i < codes.size(); ++i) EXPECT_EQ(uniq[inv[i]], codes[i]);
  EXPECT_EQ(first[1], 1);  // the first 3 is at index 1
  EXPECT_EQ(first[2], 0);
}

TEST(QsftDesign, PointsFollowTheDefinition) {
  const int q = 5, n = 3, b = 2, C = 2, P = 4;
  std::vector<std::uint8_t> M = {1, 2, 3, 4, 0, 1, 2, 2, 1, 0, 4, 3};
  std::vector<std::uint8_t> D = {0, 0, 0, 1, 0, 0, 0, 1, 0, 4, 4, 4};
  const int B = 25;
  std::vector<std::uint8_t> pts(C * P * B * n);
  std::vector<std::int64_t> codes(C * P * B);
  plmscope::qsft_query_points(M.data(), C, n, b, D.data(), P, q, pts.data(), codes.data(), 2);
  for (int c = 0; c < C; ++c)
    for (int p = 0; p < P; ++p)
      for (int l = 0; l < B; ++l) {
        const int l0 = l / 5, l1 = l % 5;
        std::int64_t code = 0;
        for (int i = 0; i < n; ++i) {
          const int x = (M[(c * n + i) * b] * l0 + M[(c * n + i) * b + 1] * l1 + D[p * n + i]) % q;
          ASSERT_EQ(pts[((c * P + p) * B + l) * n + i], x);
          code = code * q + x;
        }
        ASSERT_EQ(codes[(c * P + p) * B + l], code);
      }
}

}  // namespace
