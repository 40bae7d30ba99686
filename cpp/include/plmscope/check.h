#pragma once
/// Argument checks for the core. A failed check throws std::invalid_argument carrying the
/// failed expression and a message; the bindings turn it into Python's ValueError.
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
