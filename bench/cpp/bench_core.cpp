// Google Benchmark microbenchmarks of the C++ core, without Python in the way.
//
// Cases follow bench/bench_fft.py and bench/bench_series.py: qary_fft for q = 20, n = 4,
// batch 22 (q-SFT's inner transform); q = 4, n = 10; q = 2, n = 20 (complex, and the real
// Walsh-Hadamard transform); sparse_series_evaluate for q = 20, n = 10, K = 500 q-SFT-like
// coefficients at 10^5 points. The argument is nthreads (0 = all cores).
//
// bytes_per_second counts the array once per transform (batch x q^n x element size); for
// the series it counts the points read and the values written (M x (n + 8) bytes).
// The in-place transforms alternate forward and inverse so that repeated forward scaling
// by q^-n cannot drive the data into denormals.
//
// Build and run: cmake -S . -B build/bench -G Ninja -DPLMSCOPE_BUILD_BENCH=ON
//                -DPLMSCOPE_BUILD_PYTHON=OFF && cmake --build build/bench
//                && build/bench/plmscope_bench
#include <benchmark/benchmark.h>

#include <algorithm>
#include <complex>
#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include "plmscope/qary_fft.h"
#include "plmscope/sparse_series.h"

namespace {

template <class E>
std::vector<E> random_rows(std::int64_t size, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  std::vector<E> data(size);
  for (auto& v : data) {
    if constexpr (std::is_floating_point_v<E>) {
      v = static_cast<E>(g(rng));
    } else {
      using T = typename E::value_type;
      v = E(static_cast<T>(g(rng)), static_cast<T>(g(rng)));
    }
  }
  return data;
}

template <class T>
void BM_qary_fft(benchmark::State& state, int q, int n, std::int64_t batch) {
  const std::int64_t len = plmscope::qary_length(q, n);
  auto data = random_rows<std::complex<T>>(batch * len, 0);
  const int nthreads = static_cast<int>(state.range(0));
  bool inverse = false;
  for (auto _ : state) {
    plmscope::qary_fft(data.data(), batch, q, n, inverse, nthreads);
    inverse = !inverse;
    benchmark::DoNotOptimize(data.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * batch * len * std::int64_t(sizeof(data[0])));
}

template <class T>
void BM_walsh_hadamard(benchmark::State& state, int n, std::int64_t batch) {
  const std::int64_t len = plmscope::qary_length(2, n);
  auto data = random_rows<T>(batch * len, 0);
  const int nthreads = static_cast<int>(state.range(0));
  bool inverse = false;
  for (auto _ : state) {
    plmscope::walsh_hadamard(data.data(), batch, n, inverse, nthreads);
    inverse = !inverse;
    benchmark::DoNotOptimize(data.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * batch * len * std::int64_t(sizeof(T)));
}

// Frequencies shaped like a q-SFT result: one constant, then mostly orders 1 and 2.
void BM_sparse_series_evaluate(benchmark::State& state) {
  const int q = 20, n = 10;
  const std::int64_t K = 500, M = 100000;
  std::mt19937_64 rng(0);
  std::discrete_distribution<int> order_of({0.0, 0.40, 0.35, 0.17, 0.08});
  std::uniform_int_distribution<int> residue(1, q - 1), value(0, q - 1);
  std::normal_distribution<double> g;
  std::vector<std::uint8_t> freqs(K * n, 0), x(M * n);
  std::vector<std::complex<double>> values(K);
  for (std::int64_t k = 1; k < K; ++k) {
    std::vector<int> sites(n);
    for (int i = 0; i < n; ++i) sites[i] = i;
    std::shuffle(sites.begin(), sites.end(), rng);
    const int order = order_of(rng);
    for (int j = 0; j < order; ++j) freqs[k * n + sites[j]] = residue(rng);
  }
  for (auto& v : values) v = {g(rng), g(rng)};
  for (auto& v : x) v = value(rng);
  std::vector<double> out(M);
  const int nthreads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    plmscope::sparse_series_evaluate(freqs.data(), values.data(), K, n, q, x.data(), M,
                                     out.data(), nthreads);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * M * (n + std::int64_t(sizeof(double))));
  state.SetItemsProcessed(state.iterations() * M * K);  // point-coefficient pairs
}

void BM_qary_fft_c128(benchmark::State& s, int q, int n, std::int64_t b) { BM_qary_fft<double>(s, q, n, b); }
void BM_qary_fft_c64(benchmark::State& s, int q, int n, std::int64_t b) { BM_qary_fft<float>(s, q, n, b); }
void BM_walsh_hadamard_f64(benchmark::State& s, int n, std::int64_t b) { BM_walsh_hadamard<double>(s, n, b); }
void BM_walsh_hadamard_f32(benchmark::State& s, int n, std::int64_t b) { BM_walsh_hadamard<float>(s, n, b); }

}  // namespace

BENCHMARK_CAPTURE(BM_qary_fft_c128, q20_n4_batch22, 20, 4, 22)->Arg(1)->Arg(0)->UseRealTime();
BENCHMARK_CAPTURE(BM_qary_fft_c64, q20_n4_batch22, 20, 4, 22)->Arg(1)->Arg(0)->UseRealTime();
BENCHMARK_CAPTURE(BM_qary_fft_c128, q4_n10, 4, 10, 1)->Arg(1)->Arg(0)->UseRealTime();
BENCHMARK_CAPTURE(BM_qary_fft_c128, q2_n20, 2, 20, 1)->Arg(1)->Arg(0)->UseRealTime();
BENCHMARK_CAPTURE(BM_walsh_hadamard_f64, n20, 20, 1)->Arg(1)->Arg(0)->UseRealTime();
BENCHMARK_CAPTURE(BM_walsh_hadamard_f32, n20, 20, 1)->Arg(1)->Arg(0)->UseRealTime();
BENCHMARK(BM_sparse_series_evaluate)->Arg(1)->Arg(0)->UseRealTime()->Unit(benchmark::kMillisecond);
