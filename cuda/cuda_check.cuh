#pragma once
// CUDA error handling for the launchers: every runtime call and launch is checked, and a
// failure becomes std::runtime_error naming the call and CUDA's message.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#include "plmscope/check.h"

namespace plmscope::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t err, const char* what, const char* file,
                                          int line) {
  std::ostringstream os;
  os << "CUDA error " << cudaGetErrorName(err) << " (" << cudaGetErrorString(err) << ") in "
     << what << " at " << file << ":" << line;
  throw std::runtime_error(os.str());
}

#define PLMSCOPE_CUDA_CHECK(expr)                                                      \
  do {                                                                                 \
    const cudaError_t plmscope_cuda_err_ = (expr);                                     \
    if (plmscope_cuda_err_ != cudaSuccess)                                             \
      ::plmscope::cuda::throw_cuda_error(plmscope_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)

/// Checks the launch just made (bad configuration, missing kernel image, ...).
#define PLMSCOPE_CUDA_CHECK_LAUNCH(name) PLMSCOPE_CUDA_CHECK(cudaGetLastError())

/// Makes `device` current for the scope and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    PLMSCOPE_CUDA_CHECK(cudaGetDevice(&previous_));
    if (device != previous_) PLMSCOPE_CUDA_CHECK(cudaSetDevice(device));
  }
  ~DeviceGuard() { cudaSetDevice(previous_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

/// Scratch memory ordered on a stream (cudaMallocAsync / cudaFreeAsync): usable by work
/// queued on that stream after the allocation and released after it.
class StreamBuffer {
 public:
  StreamBuffer(std::size_t bytes, cudaStream_t stream) : stream_(stream) {
    if (bytes) PLMSCOPE_CUDA_CHECK(cudaMallocAsync(&ptr_, bytes, stream));
  }
  ~StreamBuffer() {
    if (ptr_) cudaFreeAsync(ptr_, stream_);
  }
  StreamBuffer(const StreamBuffer&) = delete;
  StreamBuffer& operator=(const StreamBuffer&) = delete;
  template <class T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_;
};

/// What the launchers need to know about the current device.
struct DeviceLimits {
  int sms = 1;
  int smem_optin = 48 * 1024;  // dynamic shared memory a block may opt in to, bytes
  int l2_bytes = 0;
};

inline DeviceLimits device_limits(int device) {
  DeviceLimits lim;
  PLMSCOPE_CUDA_CHECK(cudaDeviceGetAttribute(&lim.sms, cudaDevAttrMultiProcessorCount, device));
  PLMSCOPE_CUDA_CHECK(cudaDeviceGetAttribute(&lim.smem_optin,
                                             cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  PLMSCOPE_CUDA_CHECK(cudaDeviceGetAttribute(&lim.l2_bytes, cudaDevAttrL2CacheSize, device));
  return lim;
}

/// Checks that `ptr` is memory of `device` (device or managed), unless count == 0.
void check_device_pointer(const void* ptr, std::int64_t count, int device, const char* name);

/// Threads and blocks for a grid-stride kernel: as many resident blocks as fit, at most
/// `work_items` of them.
template <class Kernel>
int resident_grid(Kernel kernel, int threads, std::size_t smem, std::int64_t work_items,
                  const DeviceLimits& lim) {
  int per_sm = 0;
  PLMSCOPE_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads,
                                                                    smem));
  if (per_sm < 1)
    throw std::runtime_error("plmscope CUDA: a block of " + std::to_string(threads) +
                             " threads with " + std::to_string(smem) +
                             " bytes of shared memory cannot run on this device");
  const std::int64_t blocks = std::int64_t(per_sm) * lim.sms;
  return static_cast<int>(std::max<std::int64_t>(1, std::min(blocks, work_items)));
}

inline cudaStream_t as_stream(std::uintptr_t stream) {
  return reinterpret_cast<cudaStream_t>(stream);
}

}  // namespace plmscope::cuda
