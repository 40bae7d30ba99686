// CUDA runtime queries for the bindings and the launchers' pointer checks.
#include <cuda_runtime.h>

#include "cuda_check.cuh"
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

int pointer_device(std::uintptr_t ptr) {
  cudaPointerAttributes attr{};
  const cudaError_t err = cudaPointerGetAttributes(&attr, reinterpret_cast<const void*>(ptr));
  if (err == cudaErrorInvalidValue) {  // not a pointer CUDA knows
    cudaGetLastError();
    attr.type = cudaMemoryTypeUnregistered;
  } else if (err != cudaSuccess) {
    throw_cuda_error(err, "cudaPointerGetAttributes", __FILE__, __LINE__);
  }
  PLMSCOPE_CHECK(attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged,
                 "pointer 0x" << std::hex << ptr << std::dec
                              << " is not CUDA device memory (host or unknown memory); pass a "
                                 "torch CUDA tensor or a CuPy array");
  return attr.device;
}

void check_device_pointer(const void* ptr, std::int64_t count, int device, const char* name) {
  if (count == 0) return;
  PLMSCOPE_CHECK(ptr != nullptr, name << " is a null device pointer");
  const int owner = pointer_device(reinterpret_cast<std::uintptr_t>(ptr));
  PLMSCOPE_CHECK(owner == device, name << " lives on cuda:" << owner
                                       << " but the kernel runs on cuda:" << device
                                       << "; move it with .to(device) / cupy.asarray");
}

}  // namespace plmscope::cuda
