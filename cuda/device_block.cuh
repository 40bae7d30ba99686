#pragma once
// The device side of the block interface that the block programs in cuda/*_tile.h are
// written against (the host emulation in tests/cpp/test_cuda_emulation.cpp has the other):
//   first_tile(), tile_step()  the grid-stride loop over work items;
//   each(f)        f(tid, nthreads) on every thread of the block, then a barrier;
//   each_local(f)  the same with f(tid, nthreads, local): `local` is the thread's own state,
//                  kept across phases (registers here, one entry per thread on the host).
#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_common.h"

namespace plmscope::cuda {

struct NoLocal {};

template <class Local = NoLocal>
struct DeviceBlock {
  Local local{};
  PLMSCOPE_HD std::int64_t first_tile() const {
#ifdef __CUDA_ARCH__
    return blockIdx.x;
#else
    return 0;
#endif
  }
  PLMSCOPE_HD std::int64_t tile_step() const {
#ifdef __CUDA_ARCH__
    return gridDim.x;
#else
    return 1;
#endif
  }
  template <class F>
  PLMSCOPE_HD void each(F&& f) {
#ifdef __CUDA_ARCH__
    f(int(threadIdx.x), int(blockDim.x));
    __syncthreads();
#endif
  }
  template <class F>
  PLMSCOPE_HD void each_local(F&& f) {
#ifdef __CUDA_ARCH__
    f(int(threadIdx.x), int(blockDim.x), local);
    __syncthreads();
#endif
  }
};

}  // namespace plmscope::cuda
