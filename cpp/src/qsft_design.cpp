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
  // Chunks of l: M_c l is computed once per chunk into a small buffer, then every delay
  // writes its rows of the chunk contiguously.
  constexpr std::int64_t kChunk = 2048;
  const std::int64_t chunks = (B + kChunk - 1) / kChunk;
  const double work = double(num_groups) * num_delays * B * n;
  parallel_for(num_groups * chunks, threads_for_work(work, nthreads), [&](std::int64_t task, int) {
    const int c = static_cast<int>(task / chunks);
    const std::int64_t l0 = (task % chunks) * kChunk, l1 = std::min(B, l0 + kChunk);
    const std::uint8_t* M = matrices + std::int64_t(c) * n * b;
    // table[(t * q + v) * n + i] = M[i][t] v mod q
    std::vector<std::uint8_t> table(std::size_t(b) * q * n);
    for (int t = 0; t < b; ++t)
      for (int v = 0; v < q; ++v)
        for (int i = 0; i < n; ++i)
          table[(std::size_t(t) * q + v) * n + i] = static_cast<std::uint8_t>((M[i * b + t] * v) % q);
    std::vector<int> digits(b);
    std::int64_t rest = l0;
    for (int t = b - 1; t >= 0; --t) {
      digits[t] = static_cast<int>(rest % q);
      rest /= q;
    }
    std::vector<std::uint8_t> base((l1 - l0) * n);
    for (std::int64_t l = l0; l < l1; ++l) {
      std::uint8_t* x = base.data() + (l - l0) * n;
      for (int i = 0; i < n; ++i) x[i] = 0;
      for (int t = 0; t < b; ++t) {
        const std::uint8_t* row = table.data() + (std::size_t(t) * q + digits[t]) * n;
        for (int i = 0; i < n; ++i) {
          const int v = x[i] + row[i];
          x[i] = static_cast<std::uint8_t>(v >= q ? v - q : v);
        }
      }
      for (int t = b - 1; t >= 0; --t) {  // odometer: l + 1
        if (++digits[t] < q) break;
        digits[t] = 0;
      }
    }
    for (int p = 0; p < num_delays; ++p) {
      const std::uint8_t* d = delays + std::int64_t(p) * n;
      const std::int64_t row0 = (std::int64_t(c) * num_delays + p) * B;
      for (std::int64_t l = l0; l < l1; ++l) {
        const std::uint8_t* src = base.data() + (l - l0) * n;
        std::uint8_t* x = points + (row0 + l) * n;
        std::int64_t code = 0;
        for (int i = 0; i < n; ++i) {
          int v = src[i] + d[i];
          v = v >= q ? v - q : v;
          x[i] = static_cast<std::uint8_t>(v);
          code = code * q + v;
        }
        if (codes) codes[row0 + l] = code;
      }
    }
  });
}

std::int64_t unique_codes(const std::int64_t* codes, std::int64_t count, std::int64_t* unique,
                          std::int64_t* inverse, std::int64_t* first, int nthreads) {
  if (count == 0) return 0;
  std::int64_t maxv = 0;
  for (std::int64_t i = 0; i < count; ++i) {
    PLMSCOPE_CHECK(codes[i] >= 0, "codes must be >= 0, got codes[" << i << "] = " << codes[i]);
    maxv = std::max(maxv, codes[i]);
  }
  int bits = 0;
  while (bits < 63 && (maxv >> bits) != 0) ++bits;
  // One scatter by the top bits into up to 4096 buckets, then each bucket (small, in
  // cache) is sorted on its own thread; (code, index) order makes the first index of each
  // distinct code its earliest occurrence.
  const int bucket_bits = std::min(bits, 12);
  const int shift = bits - bucket_bits;
  const std::int64_t nb = std::int64_t(1) << bucket_bits;
  struct Item {
    std::int64_t code, index;
    bool operator<(const Item& o) const {
      return code < o.code || (code == o.code && index < o.index);
    }
  };
  std::vector<std::int64_t> offset(nb + 1, 0);
  for (std::int64_t i = 0; i < count; ++i) ++offset[(codes[i] >> shift) + 1];
  for (std::int64_t k = 0; k < nb; ++k) offset[k + 1] += offset[k];
  std::vector<Item> items(count);
  {
    std::vector<std::int64_t> next(offset.begin(), offset.end() - 1);
    for (std::int64_t i = 0; i < count; ++i) items[next[codes[i] >> shift]++] = {codes[i], i};
  }
  const int nt = threads_for_work(double(count) * 8, nthreads);
  std::vector<std::int64_t> distinct(nb + 1, 0);
  parallel_for(nb, nt, [&](std::int64_t k, int) {
    Item* lo = items.data() + offset[k];
    Item* hi = items.data() + offset[k + 1];
    std::sort(lo, hi);
    std::int64_t d = 0;
    for (Item* it = lo; it < hi; ++it) d += (it == lo || it->code != (it - 1)->code);
    distinct[k + 1] = d;
  });
  for (std::int64_t k = 0; k < nb; ++k) distinct[k + 1] += distinct[k];
  parallel_for(nb, nt, [&](std::int64_t k, int) {
    std::int64_t u = distinct[k] - 1;
    for (std::int64_t j = offset[k]; j < offset[k + 1]; ++j) {
      const Item& it = items[j];
      if (j == offset[k] || it.code != items[j - 1].code) {
        unique[++u] = it.code;
        if (first) first[u] = it.index;
      }
      inverse[it.index] = u;
    }
  });
  return distinct[nb];
}

}  // namespace plmscope
