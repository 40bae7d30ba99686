#pragma once
/// The q-SFT query design: the points x = M_c l + d_p (mod q) and their de-duplication.
#include <cstdint>

namespace plmscope {

/// Writes the C x P x q^b x n points x = M_c l + d_p mod q (l flattened most-significant
/// first) to `points`, and, when `codes` is not null, their flat indices
/// sum_i x_i q^(n-1-i) (requires q^n < 2^63). `matrices`: C x n x b; `delays`: P x n.
/// O(C q^b (n b + P n)); threaded over (group, block of l); thread-safe.
void qsft_query_points(const std::uint8_t* matrices, int num_groups, int n, int b,
                       const std::uint8_t* delays, int num_delays, int q,
                       std::uint8_t* points, std::int64_t* codes, int nthreads = 0);

/// Sorted distinct values of `codes` (all >= 0) into `unique` (capacity count); for every
/// input, the position of its value in `unique` into `inverse`; when `first` is not null,
/// the index of each distinct value's first occurrence. Returns the number of distinct
/// values. One bucket pass on the top 12 bits, then the buckets are sorted in parallel:
/// O(count log(count / 4096)); uses up to `nthreads` threads (0 = all cores).
std::int64_t unique_codes(const std::int64_t* codes, std::int64_t count, std::int64_t* unique,
                          std::int64_t* inverse, std::int64_t* first = nullptr,
                          int nthreads = 0);

}  // namespace plmscope
