#pragma once
/// The instruction set of the kernels compiled in several copies (qary_fft, the covariance):
/// the widest the CPU supports, capped by the environment variable PLMSCOPE_SIMD. Wheels
/// are built without -march, so this run-time choice is what puts wide vectors to use.

namespace plmscope {

enum class Simd { Baseline, Avx2, Avx512 };

/// The instruction set the next kernel call uses. PLMSCOPE_SIMD = baseline | avx2 | avx512
/// caps it (to compare the copies, or to rule out a wide one); unset or empty = the widest
/// this CPU has (AVX2 needs FMA too). Read at each call, so a process can switch between
/// calls. Throws std::invalid_argument for any other value. Thread-safe.
Simd simd_level();

/// "baseline", "avx2" or "avx512".
const char* simd_name(Simd level);

}  // namespace plmscope
