#include "plmscope/simd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "plmscope/check.h"

namespace plmscope {

namespace {

Simd cpu_level() {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  static const Simd cpu = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return Simd::Avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Simd::Avx2;
    return Simd::Baseline;
  }();
  return cpu;
#else
  return Simd::Baseline;
#endif
}

}  // namespace

Simd simd_level() {
  const char* cap = std::getenv("PLMSCOPE_SIMD");
  if (!cap || !*cap) return cpu_level();
  for (const Simd level : {Simd::Baseline, Simd::Avx2, Simd::Avx512})
    if (std::strcmp(cap, simd_name(level)) == 0) return std::min(cpu_level(), level);
  PLMSCOPE_CHECK(false, "PLMSCOPE_SIMD must be 'baseline', 'avx2' or 'avx512' (or unset for "
                        "the widest this CPU has), got '" << cap << "'");
  return Simd::Baseline;
}

const char* simd_name(Simd level) {
  switch (level) {
    case Simd::Avx512: return "avx512";
    case Simd::Avx2: return "avx2";
    default: return "baseline";
  }
}

}  // namespace plmscope
