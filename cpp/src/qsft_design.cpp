#include "plmscope/qsft_design.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "plmscope/check.h"
#include "plmscope/parallel.h"
#include "plmscope/qary_fft.h"

namespace plmscope {

void qsft_query_points(const std::uint8_t* matrices, int num_groups, int n, int b,
                       const std::uint8_t* delays, int num_delays, int q,
                       std::uint8_t* points, std::int64_t* codes, int nthreads) {
  PLMSCOPE_CHECK(q >= 2 && q <= 256, "q must be in [2, 256], got q=" << q);
  PLMSCOPE_CHECK(n >= 1 && b >= 1 && b <= n, "need 1 <= b <= n, got n=" << n << ", b=" << b);
  PLMSCOPE_CHECK(num_groups >= 1 && num_delays >= 1,
                 "need at least one group and one delay, got " << num_groups << " and "
                                                               << num_delays);
  if (codes) (void)qary_length(q, n);  // throws when q^n overflows int64
  const std::int64_t B = qary_length(q, b);
  constexpr std::int64_t kChunk = 4096;
  const std::int64_t chunks = (B + kChunk - 1) / kChunk;
  parallel_for(num_groups * chunks, nthreads, [&](std::int64_t task, int) {
    const int c = static_cast<int>(task / chunks);
    const std::int64_t l0 = (task % chunks) * kChunk, l1 = std::min(B, l0 + kChunk);
    const std::uint8_t* M = matrices + std::int64_t(c) * n * b;
    std::vector<int> digits(b), base(n);
    for (std::int64_t l = l0; l < l1; ++l) {
      std::int64_t rest = l;
      for (int t = b - 1; t >= 0; --t) {
        digits[t] = static_cast<int>(rest % q);
        rest /= q;
      }
      for (int i = 0; i < n; ++i) {
        int s = 0;
        for (int t = 0; t < b; ++t) s += M[i * b + t] * digits[t];
        base[i] = s % q;
      }
      for (int p = 0; p < num_delays; ++p) {
        const std::int64_t row = (std::int64_t(c) * num_delays + p) * B + l;
        std::uint8_t* x = points + row * n;
        const std::uint8_t* d = delays + std::int64_t(p) * n;
        std::int64_t code = 0;
        for (int i = 0; i < n; ++i) {
          int v = base[i] + d[i];
          v = v >= q ? v - q : v;
          x[i] = static_cast<std::uint8_t>(v);
          code = code * q + v;
        }
        if (codes) codes[row] = code;
      }
    }
  });
}

std::int64_t unique_codes(const std::int64_t* codes, std::int64_t count, std::int64_t* unique,
                          std::int64_t* inverse, std::int64_t* first) {
  if (count == 0) return 0;
  std::int64_t maxv = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    PLMSCOPE_CHECK(codes[i] >= 0, "codes must be >= 0, got codes[" << i << "] = " << codes[i]);
    maxv = std::max(maxv, codes[i]);
  }
  int bits = 0;
  while (bits < 63 && (maxv >> bits) != 0) ++bits;
  std::vector<std::int64_t> key(codes, codes + count), key2(count);
  std::vector<std::int64_t> idx(count), idx2(count);
  for (std::int64_t i = 0; i < count; ++i) idx[i] = i;
  // 11-bit digits: 2048 scatter targets stay within L1/L2 and the TLB.
  constexpr int kDigit = 11;
  constexpr std::int64_t kMask = (1 << kDigit) - 1;
  std::vector<std::int64_t> hist(1 << kDigit);
  for (int shift = 0; shift < bits; shift += kDigit) {
    std::fill(hist.begin(), hist.end(), 0);
    for (std::int64_t i = 0; i < count; ++i) ++hist[(key[i] >> shift) & kMask];
    std::int64_t sum = 0;
    for (auto& h : hist) {
      const std::int64_t c = h;
      h = sum;
      sum += c;
    }
    for (std::int64_t i = 0; i < count; ++i) {
      const std::int64_t pos = hist[(key[i] >> shift) & kMask]++;
      key2[pos] = key[i];
      idx2[pos] = idx[i];
    }
    key.swap(key2);
    idx.swap(idx2);
  }
  std::int64_t u = -1;
  for (std::int64_t i = 0; i < count; ++i) {
    if (u < 0 || key[i] != unique[u]) {
      unique[++u] = key[i];
      if (first) first[u] = idx[i];  // the sort is stable: the earliest occurrence
    }
    inverse[idx[i]] = u;
  }
  return u + 1;
}

}  // namespace plmscope
