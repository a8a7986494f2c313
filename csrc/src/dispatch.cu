// Shared pieces of the two GEMM dispatches (dispatch.h).
#include "dispatch.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace marlin {
namespace host {

const Tuning& tuning() {
  static const Tuning t = [] {
    Tuning t;
    if (const char* s = std::getenv("MARLIN_WAVES")) t.waves = std::max(1, std::atoi(s));
    if (const char* s = std::getenv("MARLIN_MAX_PARTIAL_KB")) t.max_partial_kb = std::max(1, std::atoi(s));
    if (const char* s = std::getenv("MARLIN_FORCE_STAGES")) t.force_stages = std::atoi(s);
    if (const char* s = std::getenv("MARLIN_WIDE_M")) t.wide_m = std::atoi(s);
    if (const char* s = std::getenv("MARLIN_PDL")) t.pdl = std::atoi(s);
    if (const char* s = std::getenv("MARLIN_SMALL_M_WGMMA")) t.small_m_wgmma = std::atoi(s);
    if (const char* s = std::getenv("MARLIN_REDUCE_TOGETHER")) t.reduce_together = std::atoi(s);
    if (const char* s = std::getenv("MARLIN_STREAM_K")) t.stream_k = std::atoi(s);
    if (const char* s = std::getenv("MARLIN_TMA")) t.tma = std::atoi(s);
    if (const char* s = std::getenv("MARLIN_TMA_NARROW")) t.tma_narrow = std::atoi(s);
    return t;
  }();
  return t;
}

const char* type_name(ScalarTypeId t) {
  using namespace type_id;
  if (t == kFloat16) return "float16";
  if (t == kBFloat16) return "bfloat16";
  if (t == kU4) return "u4";
  if (t == kU4B8) return "u4b8";
  if (t == kU8B128) return "u8b128";
  if (t == kU8) return "u8";
  if (t == kS4) return "s4";
  if (t == kS8) return "s8";
  if (t == kFE4M3fn) return "fe4m3fn";
  if (t == kFE2M1f) return "fe2m1f";
  if (t == kFE8M0fnu) return "fe8m0fnu";
  return "unknown";
}

int ensure_smem(int device, KernelFn fn, int bytes) {
  static std::mutex mu;
  static std::unordered_map<const void*, int> done[64];
  std::lock_guard<std::mutex> g(mu);
  auto& d = done[device & 63];
  auto it = d.find(reinterpret_cast<const void*>(fn));
  if (it != d.end() && it->second >= bytes) return 0;
  cudaError_t e = cudaFuncSetAttribute(reinterpret_cast<const void*>(fn),
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (e != cudaSuccess) return cuda_fail(e, "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
  d[reinterpret_cast<const void*>(fn)] = bytes;
  return 0;
}

namespace {
// The machine-code and PTX architectures of a kernel (cudaFuncAttributes binaryVersion /
// ptxVersion, e.g. 90), cached per kernel and thread (no lock on the launch path; a kernel is
// queried once per calling thread); {0, 0} when the query fails.
struct KernelArch {
  int binary = 0, ptx = 0;
};
KernelArch kernel_arch(KernelFn fn) {
  thread_local std::unordered_map<const void*, KernelArch> known;
  auto it = known.find(reinterpret_cast<const void*>(fn));
  if (it != known.end()) return it->second;
  cudaFuncAttributes fa{};
  KernelArch a;
  if (cudaFuncGetAttributes(&fa, reinterpret_cast<const void*>(fn)) == cudaSuccess) a = {fa.binaryVersion, fa.ptxVersion};
  cudaGetLastError();  // a failed query only means "no"
  known[reinterpret_cast<const void*>(fn)] = a;
  return a;
}
}  // namespace

bool wgmma_kernel(KernelFn fn, const KernelKey& key, const DeviceInfo& dev) {
  if (dev.cc_major != 9 || dev.cc_minor != 0 ||
      !wgmma_shape(key.threads, key.m_block_size_8, key.thread_n_blocks, key.thread_k_blocks))
    return false;
  const KernelArch a = kernel_arch(fn);
  return wgmma_arch(a.binary, a.ptx);
}

bool pdl_kernel(KernelFn fn, const DeviceInfo& dev) {
  return dev.cc_major >= 9 && kernel_arch(fn).ptx >= 90;
}

LaunchPlan launch_plan(bool pdl_ok, int blocks, int slices, int smem, const DeviceInfo& dev) {
  LaunchPlan plan;
  plan.smem = smem;
  plan.reduce_together = slices > 1 && slices < 512 && blocks <= dev.sms && tuning().reduce_together >= 1;
  plan.pdl = pdl_ok && tuning().pdl >= 1;
  const int one = one_block_per_sm_smem(dev.smem_per_sm, dev.smem_reserved);
  if (plan.pdl && tuning().pdl >= 2 && blocks <= dev.sms && one > 0 && one + kSmemHeadroom <= dev.max_smem_optin) {
    plan.release_early = true;
    plan.smem = std::max(smem, one);
  }
  return plan;
}

cudaError_t launch_gemm(KernelFn fn, int blocks, int threads, cudaStream_t stream, const KernelParams& p,
                        const LaunchPlan& plan) {
  if (!plan.pdl) {
    fn<<<blocks, threads, plan.smem, stream>>>(p);
    return cudaGetLastError();
  }
  cudaLaunchAttribute attr{};
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(blocks);
  cfg.blockDim = dim3(threads);
  cfg.dynamicSmemBytes = size_t(plan.smem);
  cfg.stream = stream;
  cfg.attrs = &attr;
  cfg.numAttrs = 1;
  cudaLaunchKernelEx(&cfg, fn, p);
  return cudaGetLastError();
}

int blocks_per_sm(KernelFn fn, int threads, int smem) {
  thread_local std::unordered_map<const void*, std::pair<int, int>> known;  // kernel -> (smem, blocks)
  auto it = known.find(reinterpret_cast<const void*>(fn));
  if (it != known.end() && it->second.first == smem) return it->second.second;
  int n = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, fn, threads, size_t(smem)) != cudaSuccess || n < 1) n = 1;
  cudaGetLastError();  // a failed query only means "one"
  known[reinterpret_cast<const void*>(fn)] = {smem, n};
  return n;
}

int stream_k_blocks(int rows, int tiles, int k_iters, int per_sm, size_t slot_bytes, const DeviceInfo& dev) {
  const int knob = tuning().stream_k;
  if (knob < 2 || rows > 16) return 0;
  const int g = dev.sms * (knob == 3 ? 1 : std::min(per_sm, 2));
  const size_t room = size_t(dev.sms) * kMaxPartialFloats * sizeof(float);
  if (tiles > kLockInts || size_t(tiles) * k_iters < size_t(g) || (size_t(tiles) + g) * slot_bytes > room) return 0;
  return g;
}

bool prefer_wide(int tiles, int slices, int tiles_w, int slices_w, int k_iters, const DeviceInfo& dev) {
  if (tuning().wide_m != 1) return tuning().wide_m == 2;
  auto time = [&](int t, int sl, double tile_cost, double split_cost) {
    const int waves = (t * sl + dev.sms - 1) / dev.sms;
    return waves * (double((k_iters + sl - 1) / sl) * tile_cost + (sl > 1 ? split_cost : 0.0));
  };
  return time(tiles_w, slices_w, kWideTileCost, kSplitCostWide) < time(tiles, slices, 1.0, kSplitCost);
}

bool prefer_wgmma_small_m(int rows, int tiles_wg, int k_iters_wg, bool eight_bit_or_channel, const DeviceInfo& dev) {
  if (rows > 16) return false;
  if (tuning().small_m_wgmma != 1) return tuning().small_m_wgmma == 2;
  if (rows > 8)
    return 3 * tiles_wg > dev.sms || (!eight_bit_or_channel && size_t(tiles_wg) * k_iters_wg >= size_t(16) * dev.sms);
  return eight_bit_or_channel && 2 * tiles_wg >= dev.sms;
}

int m8_slices(int tiles, int slices, int k_iters, int max_slices, const DeviceInfo& dev) {
  if (slices != 1 || 2 * tiles < dev.sms || tiles >= dev.sms || k_iters < 2 || max_slices == 1) return slices;
  return 2;
}

int split_slices(int tiles, int k_iters, size_t slot_bytes, int target, int max_slices, const DeviceInfo& dev,
                 bool wide) {
  if (tiles >= target || tiles > kLockInts) return 1;
  int sl = std::min(target / tiles, k_iters);
  const size_t tile_cap = size_t(tuning().max_partial_kb) * 1024 * (wide ? 2 : 1);
  sl = std::min<int>(sl, int(std::max<size_t>(1, tile_cap / slot_bytes)));
  if (max_slices > 0) sl = std::min(sl, max_slices);
  sl = std::max(sl, 1);
  const size_t cap = size_t(dev.sms) * (wide ? kWidePartialFloats : kMaxPartialFloats) * sizeof(float);
  while (sl > 1 && size_t(tiles) * sl * slot_bytes > cap) --sl;
  const int per = (k_iters + sl - 1) / sl;
  return (k_iters + per - 1) / per;  // no empty slices
}

}  // namespace host
}  // namespace marlin
