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
#include "../../cuda/similarity_tile.h"
#include "../../cuda/sparse_series_tile.h"
#include "plmscope/qary_fft.h"
#include "plmscope/sparse_series.h"

namespace pc = plmscope::cuda;

namespace {

struct NoLocal {};

/// A CUDA block emulated on the host: each() runs the phase on every thread in turn (the
/// barrier is the end of the loop); each_local() also hands each thread its own state.
template <class Local = NoLocal>
struct HostBlock {
  int nthreads;
  std::int64_t block, grid;
  std::vector<Local> locals = std::vector<Local>(nthreads);
  std::int64_t first_tile() const { return block; }
  std::int64_t tile_step() const { return grid; }
  template <class F>
  void each(F&& f) {
    for (int t = 0; t < nthreads; ++t) f(t, nthreads);
  }
  template <class F>
  void each_local(F&& f) {
    for (int t = 0; t < nthreads; ++t) f(t, nthreads, locals[t]);
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
          HostBlock<> blk{nthreads, b, grid};
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

// ---- sparse series --------------------------------------------------------------------

std::vector<double> emulate_series(const std::vector<std::uint8_t>& freqs,
                                   const std::vector<std::complex<double>>& values, int n, int q,
                                   const std::vector<std::uint8_t>& x, int nthreads, int grid) {
  const std::int64_t K = values.size(), M = n ? x.size() / n : 0;
  std::vector<double> out(M, -1.0), table(K * q);
  std::vector<int> order(K);
  std::vector<std::uint8_t> sites(K * n), mults(K * n);
  pc::SparseSeriesParams p;
  p.freqs = freqs.data();
  p.values = reinterpret_cast<const pc::Cplx<double>*>(values.data());
  p.order = order.data();
  p.sites = sites.data();
  p.mults = mults.data();
  p.table = table.data();
  p.K = K;
  p.n = n;
  p.q = q;
  p.x = x.data();
  p.out = out.data();
  p.M = M;
  p.points = pc::kSeriesPoints;
  p.k_chunk = pc::series_k_chunk(n, q, p.points);
  EXPECT_LE(p.shared_bytes(), pc::kSeriesSharedBytes);
  for (std::int64_t k = 0; k < K; ++k) pc::series_prepare_one(p, k);
  std::vector<double> smem_words((p.shared_bytes() + 7) / 8);
  auto* smem = reinterpret_cast<unsigned char*>(smem_words.data());
  auto run = [&](auto traits) {
    for (int b = 0; b < grid; ++b) {
      HostBlock<> blk{nthreads, b, grid};
      pc::sparse_series_block<decltype(traits)>(p, smem, blk);
    }
  };
  if (!pc::dispatch_int<2, 3, 4, 5, 8, 20>(q, [&](auto qc) {
        run(pc::SeriesTraits<decltype(qc)::value>{});
      }))
    run(pc::SeriesTraits<0>{});
  return out;
}

TEST(EmulatedSparseSeries, MatchesCpuCore) {
  struct Case { int q, n, K, M, nthreads, grid; };
  for (const Case c : {Case{2, 1, 2, 5, 128, 1}, Case{3, 4, 10, 300, 128, 2},
                       Case{20, 10, 228, 1000, 128, 3}, Case{20, 10, 150, 257, 64, 2},
                       Case{5, 6, 0, 10, 128, 1}, Case{256, 2, 5, 50, 128, 1},
                       Case{7, 200, 70, 140, 128, 2}, Case{13, 3, 1, 129, 32, 1}}) {
    std::mt19937 gen(c.q * 1000 + c.n + c.K);
    std::uniform_int_distribution<int> site(0, c.q - 1), coin(0, 3);
    std::normal_distribution<double> nd;
    std::vector<std::uint8_t> freqs(c.K * c.n), x(c.M * c.n);
    for (auto& f : freqs) f = coin(gen) ? 0 : std::uint8_t(site(gen));  // low orders
    for (auto& v : x) v = std::uint8_t(site(gen));
    std::vector<std::complex<double>> values(c.K);
    for (auto& v : values) v = {nd(gen), nd(gen)};
    std::vector<double> ref(c.M);
    plmscope::sparse_series_evaluate(freqs.data(), values.data(), c.K, c.n, c.q, x.data(), c.M,
                                     ref.data(), 1);
    const auto got = emulate_series(freqs, values, c.n, c.q, x, c.nthreads, c.grid);
    for (int m = 0; m < c.M; ++m)
      ASSERT_NEAR(got[m], ref[m], 1e-10) << "q=" << c.q << " n=" << c.n << " m=" << m;
  }
}

// ---- similarity ---------------------------------------------------------------------------

TEST(EmulatedCovariance, MatchesDirectSums) {
  struct Case { std::int64_t rows, d, splits_target; };
  for (const Case c : {Case{1, 1, 1}, Case{37, 5, 4}, Case{300, 70, 7}, Case{65, 130, 1},
                       Case{33, 64, 40}, Case{0, 3, 1}}) {
    std::mt19937 gen(c.rows * 7 + c.d);
    std::normal_distribution<float> nd(0.5f, 2.0f);
    std::vector<float> x(c.rows * c.d);
    for (auto& v : x) v = nd(gen);
    // Accumulate onto nonzero starting values, as a streaming caller would.
    std::vector<double> scatter(c.d * c.d, 1.5), sum(c.d, -2.0), shift(c.d);
    for (std::int64_t j = 0; j < c.d; ++j) shift[j] = 0.25 * double(j % 5);

    pc::CovarianceParams p;
    p.x = x.data();
    p.rows = c.rows;
    p.d = c.d;
    p.scatter = scatter.data();
    p.shift = shift.data();
    p.sides = pc::ceil_div(c.d, pc::kCovTile);
    p.pairs = p.sides * (p.sides + 1) / 2;
    pc::choose_splits(c.rows, p.pairs, c.splits_target, 16, pc::kCovRowsPerStage, p.splits,
                      p.rows_per_split);
    ASSERT_GE(p.splits * p.rows_per_split, c.rows);
    std::vector<double> partial(p.splits * p.pairs * pc::kCovTile * pc::kCovTile, 99.0);
    p.partial = partial.data();
    std::vector<double> a(pc::kCovRowsPerStage * pc::kCovTile), b(a.size());
    const int grid = 3;
    for (int blk_id = 0; blk_id < grid; ++blk_id) {
      HostBlock<pc::CovLocal> blk{pc::kCovThreads, blk_id, grid};
      pc::covariance_block(p, a.data(), b.data(), blk);
    }
    for (std::int64_t e = 0; e < p.pairs * pc::kCovTile * pc::kCovTile; ++e)
      pc::covariance_reduce_one(p, e);

    pc::ColumnSumParams<float> cp;
    cp.x = x.data();
    cp.shift = shift.data();
    cp.rows = c.rows;
    cp.d = c.d;
    cp.out = sum.data();
    cp.col_blocks = pc::ceil_div(c.d, pc::kColumnThreads);
    pc::choose_splits(c.rows, cp.col_blocks, c.splits_target, 8, 1, cp.splits, cp.rows_per_split);
    std::vector<double> cpartial(cp.splits * c.d, 99.0);
    cp.partial = cpartial.data();
    for (int blk_id = 0; blk_id < grid; ++blk_id) {
      HostBlock<> blk{pc::kColumnThreads, blk_id, grid};
      pc::column_sum_block(cp, blk);
    }
    for (std::int64_t j = 0; j < c.d; ++j) pc::column_sum_reduce_one(cp, j);

    for (std::int64_t i = 0; i < c.d; ++i) {
      double s = -2.0;
      for (std::int64_t r = 0; r < c.rows; ++r) s += double(x[r * c.d + i]) - shift[i];
      ASSERT_NEAR(sum[i], s, 1e-9 * (1 + c.rows)) << "column " << i;
      for (std::int64_t j = 0; j < c.d; ++j) {
        double v = 1.5;
        for (std::int64_t r = 0; j >= i && r < c.rows; ++r)
          v += (double(x[r * c.d + i]) - shift[i]) * (double(x[r * c.d + j]) - shift[j]);
        // Upper triangle accumulated, lower triangle untouched.
        ASSERT_NEAR(scatter[i * c.d + j], v, 1e-9 * (1 + c.rows))
            << "rows=" << c.rows << " d=" << c.d << " (" << i << ", " << j << ")";
      }
    }
  }
}

TEST(EmulatedCovariance, TilePairsListUpperTriangleOnce) {
  for (std::int64_t sides : {1, 2, 5, 16}) {
    std::int64_t t = 0;
    for (std::int64_t i = 0; i < sides; ++i)
      for (std::int64_t j = i; j < sides; ++j, ++t) {
        std::int64_t ti, tj;
        pc::tile_pair(t, sides, ti, tj);
        EXPECT_EQ(ti, i);
        EXPECT_EQ(tj, j);
      }
  }
}

}  // namespace
