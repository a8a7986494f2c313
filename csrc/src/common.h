// Host-side helpers shared by the C ABI translation units: the thread-local error string and
// per-device properties.
#pragma once
#include <cuda_runtime.h>

#include <cstdarg>
#include <cstdio>
#include <string>

namespace marlin {
namespace host {

std::string& last_error();

// printf-style; always returns 1 so that `return fail(...)` reads naturally.
inline int fail(const char* fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  last_error() = buf;
  return 1;
}

inline int cuda_fail(cudaError_t e, const char* what) {
  return fail("CUDA error in %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

struct DeviceInfo {
  int sms = 0;
  int max_smem_optin = 0;
  int smem_per_sm = 0;        // shared memory of one SM, and what the driver reserves per block
  int smem_reserved = 0;
  int cc_major = 0, cc_minor = 0;
};

// Cached per device; returns non-zero (and sets the error) on failure.
int device_info(int device, DeviceInfo* out);

}  // namespace host
}  // namespace marlin
