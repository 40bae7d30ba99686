#include "plmscope/sparse_series.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "plmscope/check.h"
#include "plmscope/parallel.h"

namespace plmscope {

namespace {
constexpr std::int64_t kPointBlock = 1024;  // points per task; their sums stay in L1
constexpr double kPi = 3.14159265358979323846;
}  // namespace

void sparse_series_evaluate(const std::uint8_t* freqs, const std::complex<double>* values,
                            std::int64_t K, int n, int q, const std::uint8_t* x,
                            std::int64_t M, double* out, int nthreads) {
  PLMSCOPE_CHECK(q >= 2 && q <= 256, "q must be in [2, 256], got q=" << q);
  PLMSCOPE_CHECK(n >= 0, "n must be >= 0, got n=" << n);
  PLMSCOPE_CHECK(K >= 0 && M >= 0, "K and M must be >= 0, got K=" << K << ", M=" << M);
  for (std::int64_t i = 0; i < K * n; ++i)
    PLMSCOPE_CHECK(freqs[i] < q, "frequencies[" << i / n << ", " << i % n << "] = "
                                    << int(freqs[i]) << " is outside [0, q=" << q << ")");
  for (std::int64_t i = 0; i < M * n; ++i)
    PLMSCOPE_CHECK(x[i] < q, "x[" << i / n << ", " << i % n << "] = " << int(x[i])
                                  << " is outside [0, q=" << q << ")");
  if (M == 0) return;

  // Frequencies as lists of their nonzero sites (CSR), and Re(F[k] omega^d) per residue d.
  std::vector<std::int64_t> start(K + 1, 0);
  std::vector<int> site;
  std::vector<int> mult;
  for (std::int64_t k = 0; k < K; ++k) {
    for (int i = 0; i < n; ++i)
      if (freqs[k * n + i]) {
        site.push_back(i);
        mult.push_back(freqs[k * n + i]);
      }
    start[k + 1] = static_cast<std::int64_t>(site.size());
  }
  std::vector<double> table(K * q);
  for (std::int64_t k = 0; k < K; ++k)
    for (int d = 0; d < q; ++d) {
      const double a = 2.0 * kPi * d / q;
      table[k * q + d] = values[k].real() * std::cos(a) - values[k].imag() * std::sin(a);
    }
  std::vector<std::uint8_t> mulmod(q * q);  // (a * b) mod q without a division per point
  for (int a = 0; a < q; ++a)
    for (int b = 0; b < q; ++b) mulmod[a * q + b] = static_cast<std::uint8_t>((a * b) % q);

  const std::int64_t blocks = (M + kPointBlock - 1) / kPointBlock;
  const double work = double(M) * double(K + 1) * 2;
  parallel_for(blocks, threads_for_work(work, nthreads), [&](std::int64_t blk, int) {
    const std::int64_t m0 = blk * kPointBlock, B = std::min(kPointBlock, M - m0);
    std::vector<std::uint8_t> xs(n * B);  // site-major, so each site's values are contiguous
    for (std::int64_t m = 0; m < B; ++m)
      for (int i = 0; i < n; ++i) xs[i * B + m] = x[(m0 + m) * n + i];
    std::vector<double> acc(B, 0.0);
    std::vector<int> d(B);
    for (std::int64_t k = 0; k < K; ++k) {
      const double* tab = table.data() + k * q;
      const std::int64_t s0 = start[k], order = start[k + 1] - s0;
      if (order == 0) {
        for (std::int64_t m = 0; m < B; ++m) acc[m] += tab[0];
        continue;
      }
      const std::uint8_t* mm = mulmod.data() + mult[s0] * q;
      const std::uint8_t* xi = xs.data() + site[s0] * B;
      if (order == 1) {
        for (std::int64_t m = 0; m < B; ++m) acc[m] += tab[mm[xi[m]]];
        continue;
      }
      for (std::int64_t m = 0; m < B; ++m) d[m] = mm[xi[m]];
      for (std::int64_t j = s0 + 1; j < s0 + order; ++j) {
        mm = mulmod.data() + mult[j] * q;
        xi = xs.data() + site[j] * B;
        for (std::int64_t m = 0; m < B; ++m) {
          int v = d[m] + mm[xi[m]];
          d[m] = v >= q ? v - q : v;
        }
      }
      for (std::int64_t m = 0; m < B; ++m) acc[m] += tab[d[m]];
    }
    std::copy(acc.begin(), acc.end(), out + m0);
  });
}

}  // namespace plmscope
