#pragma once
/// Host-side entry points of the CUDA kernels. Plain C++: no CUDA types, so the bindings
/// can include it without nvcc.

namespace plmscope::cuda {

/// Number of CUDA devices visible to this process (0 when no driver or device).
int device_count();

}  // namespace plmscope::cuda
