// CUDA runtime queries for the bindings; the kernels live beside this file.
#include <cuda_runtime.h>

#include "plmscope_cuda.h"

namespace plmscope::cuda {

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver / no device" error
    return 0;
  }
  return count;
}

}  // namespace plmscope::cuda
