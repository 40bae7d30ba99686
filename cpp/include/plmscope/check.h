#pragma once
/// Argument checks for the core. A failed check throws std::invalid_argument carrying the
/// failed expression and a message; the bindings turn it into Python's ValueError.
#include <cstdint>
#include <limits>
#include <sstream>
#include <stdexcept>

#define PLMSCOPE_CHECK(cond, msg)                                                   \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::ostringstream plmscope_check_os_;                                        \
      plmscope_check_os_ << msg << " (check failed: " #cond ")";                    \
      throw std::invalid_argument(plmscope_check_os_.str());                        \
    }                                                                               \
  } while (0)

namespace plmscope {

/// Checks an (n, d) row array's sizes: both >= 0 and n * d within int64.
inline void check_rows(std::int64_t n, std::int64_t d, const char* what) {
  PLMSCOPE_CHECK(n >= 0, what << ": the number of rows must be >= 0, got n=" << n);
  PLMSCOPE_CHECK(d >= 0, what << ": the dimension must be >= 0, got d=" << d);
  PLMSCOPE_CHECK(d == 0 || n <= std::numeric_limits<std::int64_t>::max() / d,
                 what << ": n*d overflows int64 for n=" << n << ", d=" << d);
}

}  // namespace plmscope
