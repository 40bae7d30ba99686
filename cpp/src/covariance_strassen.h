#pragma once
// Private to the core: the Strassen path of covariance_accumulate (see similarity.h).
#include <cstdint>

namespace plmscope::detail {

/// Rows the Strassen path consumes per step: two halves of 512 rows that Strassen's
/// 2 x 2 split pairs along the summed (row) dimension.
constexpr std::int64_t kStrassenStep = 1024;

/// Adds the first `steps * kStrassenStep` rows of x to sum and the upper triangle of scatter
/// (meaning as covariance_accumulate), with `isa` "avx512" or "avx2", on `threads` threads.
/// Returns false, touching nothing, when the split would not save work for this d (then the
/// caller's plain kernel does the rows).
bool covariance_strassen(const float* x, std::int64_t steps, std::int64_t d,
                         const float* shift32, double* sum, double* scatter, int threads,
                         const char* isa);

/// The relative multiply-add count of the Strassen plan for dimension d (1 = plain
/// upper-triangle kernel; above 1 means the plan is not used), for tests and benchmarks.
double covariance_strassen_work(std::int64_t d, const char* isa);

}  // namespace plmscope::detail
