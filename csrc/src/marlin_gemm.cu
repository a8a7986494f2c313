// Host dispatch of the Marlin GEMM and the C ABI (marlin/capi.h).
//
// For each M chunk: pick thread_m_blocks from the chunk's rows, try the thread configs in
// priority order, take the first one the generated selector has and whose shared memory fits,
// choose a split-K factor that fills the SMs, launch.
#include <cuda_runtime.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common.h"
#include "dispatch.h"
#include "kernel_selector.h"  // generated: marlin::select_kernel, built_arch_list, built_schemes
#include "marlin/capi.h"
#include "marlin/kernel.h"
#include "marlin/layout.h"
#include "marlin/tma.h"

namespace marlin {
namespace host {

std::string& last_error() {
  static thread_local std::string err;
  return err;
}

int device_info(int device, DeviceInfo* out) {
  static std::mutex mu;
  static std::unordered_map<int, DeviceInfo> cache;
  {
    std::lock_guard<std::mutex> g(mu);
    auto it = cache.find(device);
    if (it != cache.end()) {
      *out = it->second;
      return 0;
    }
  }
  DeviceInfo d;
  cudaError_t e;
  if ((e = cudaDeviceGetAttribute(&d.sms, cudaDevAttrMultiProcessorCount, device)) != cudaSuccess)
    return cuda_fail(e, "cudaDeviceGetAttribute(MultiProcessorCount)");
  if ((e = cudaDeviceGetAttribute(&d.max_smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device)) !=
      cudaSuccess)
    return cuda_fail(e, "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)");
  cudaDeviceGetAttribute(&d.smem_per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device);
  cudaDeviceGetAttribute(&d.smem_reserved, cudaDevAttrReservedSharedMemoryPerBlock, device);
  cudaDeviceGetAttribute(&d.cc_major, cudaDevAttrComputeCapabilityMajor, device);
  cudaDeviceGetAttribute(&d.cc_minor, cudaDevAttrComputeCapabilityMinor, device);
  std::lock_guard<std::mutex> g(mu);
  cache[device] = d;
  *out = d;
  return 0;
}

size_t workspace_size(int device) {
  DeviceInfo d;
  if (device_info(device, &d)) return 0;
  return kLockBytes + size_t(d.sms) * kWidePartialFloats * sizeof(float);
}

// 8-bit activations (W4A8): marlin_gemm_a8.cu
int gemm_a8(const marlin_gemm_args* g, const float* a_scales, cudaStream_t stream);

int gemm(const marlin_gemm_args* g, cudaStream_t stream) {
  using namespace type_id;
  if (!g) return fail("marlin_gemm: args is NULL");
  const Tuning& tune = tuning();
  const ScalarTypeId a_t = g->a_type, b_t = g->b_type, c_t = g->c_type, s_t = g->s_type;
  const int M = g->m, N = g->n, K = g->k;
  // 8-bit activations have their own dispatch and need per-token scales (marlin_gemm_a8)
  if (a_t == kS8 || a_t == kFE4M3fn) return gemm_a8(g, nullptr, stream);

  // ---- types: 16-bit activations with int4 / int8 weights (issue 3) or floating-point
  // weights (issue 4 part A: FP8, NVFP4, MXFP4)
  const bool a16 = a_t == kFloat16 || a_t == kBFloat16;
  const bool w_int = (b_t == kU4 || b_t == kU4B8 || b_t == kU8B128) && s_t == a_t;
  const bool w_fp8 = b_t == kFE4M3fn && s_t == a_t;
  const bool w_nvfp4 = b_t == kFE2M1f && s_t == kFE4M3fn;
  const bool w_mxfp4 = b_t == kFE2M1f && s_t == kFE8M0fnu && a_t == kBFloat16;
  // A weight format from a plugin (a WeightFormat specialization in the generated headers):
  // 4-bit codes, symmetric, scales of the activation type. Whether it was built is the
  // selector's to say.
  const bool builtin_b = b_t == kS4 || b_t == kU4 || b_t == kU4B8 || b_t == kS8 || b_t == kU8 ||
                         b_t == kU8B128 || b_t == kFE4M3fn || b_t == kFE2M1f || b_t == kFE8M0fnu ||
                         b_t == kFloat16 || b_t == kBFloat16;
  const bool w_plugin = !builtin_b && scalar_type_bits(b_t) == 4 && s_t == a_t;
  if (!a16 || c_t != a_t || !(w_int || w_fp8 || w_nvfp4 || w_mxfp4 || w_plugin))
    return fail(
        "marlin_gemm: unsupported type combination a=%s b=%s c=%s s=%s; this build's kernel body supports "
        "a in {float16, bfloat16} and c = a with b in {u4 (with zero points), u4b8, u8b128, fe4m3fn} and s = a, "
        "or b = fe2m1f with s = fe4m3fn (NVFP4) or s = fe8m0fnu (MXFP4, bfloat16 only), "
        "or a plugin's 4-bit weight type with s = a",
        type_name(a_t), type_name(b_t), type_name(c_t), type_name(s_t));
  if (w_nvfp4 != (g->global_scale != nullptr))
    return fail("marlin_gemm: %s", w_nvfp4 ? "NVFP4 (b=fe2m1f, s=fe4m3fn) needs global_scale"
                                           : "global_scale is only used with NVFP4 (b=fe2m1f, s=fe4m3fn)");
  if ((w_fp8 || w_nvfp4 || w_mxfp4 || w_plugin) && g->g_idx)
    return fail("marlin_gemm: act-order (g_idx) is not supported with floating-point or plugin weights");
  const bool has_zp = g->zp != nullptr;
  if ((b_t == kU4) != has_zp)
    return fail("marlin_gemm: b=%s %s zero points (u4 needs them; u4b8 / u8b128 have their bias built in)",
                type_name(b_t), has_zp ? "does not take" : "needs");
  if (g->is_zp_float && (a_t != kFloat16 || !has_zp))
    return fail("marlin_gemm: float zero points (HQQ) need float16 activations and a zp tensor");
  if (g->use_atomic_add) return fail("marlin_gemm: use_atomic_add is not supported (use the default reduction)");

  // ---- shapes
  if (M < 0 || N <= 0 || K <= 0) return fail("marlin_gemm: bad sizes m=%d n=%d k=%d", M, N, K);
  if (N % kMinThreadN) return fail("marlin_gemm: n = %d must be a multiple of %d", N, kMinThreadN);
  if (K % 16) return fail("marlin_gemm: k = %d must be a multiple of 16", K);
  if (M == 0) return 0;
  if (!g->a || !g->b || !g->c || !g->scales) return fail("marlin_gemm: a, b, c and scales must be non-NULL");
  if (g->lda > INT32_MAX) return fail("marlin_gemm: lda = %lld does not fit in 32 bits", (long long)g->lda);
  if (g->lda < K || g->lda % 8) return fail("marlin_gemm: lda = %lld must be >= k and a multiple of 8", (long long)g->lda);
  if (!aligned16(g->a) || !aligned16(g->b) || !aligned16(g->scales) || (g->zp && !aligned16(g->zp)))
    return fail("marlin_gemm: a, b, scales and zp must be 16-byte aligned");
  if ((reinterpret_cast<uintptr_t>(g->c) & 3) || (g->bias && (reinterpret_cast<uintptr_t>(g->bias) & 3)))
    return fail("marlin_gemm: c and bias must be 4-byte aligned");
  const int num_groups = g->num_groups;
  if (num_groups < 1) return fail("marlin_gemm: num_groups = %d must be >= 1", num_groups);

  // ---- group_blocks and act-order
  int group_blocks;
  const bool act_order = g->g_idx != nullptr;
  const bool permute_a = act_order && g->perm != nullptr;
  if (act_order) {
    if (b_t == kU4) return fail("marlin_gemm: act-order (g_idx) is not supported with zero points (u4)");
    if (num_groups < 2) return fail("marlin_gemm: act-order needs num_groups > 1 (got %d)", num_groups);
    if (!aligned16(g->g_idx)) return fail("marlin_gemm: g_idx must be 16-byte aligned");
    if (permute_a) {
      if (K % num_groups || (K / num_groups) % 16)
        return fail("marlin_gemm: act-order with perm needs k %% num_groups == 0 and a group size multiple of 16 "
                    "(k=%d, num_groups=%d)", K, num_groups);
      if (!g->a_tmp || !aligned16(g->a_tmp)) return fail("marlin_gemm: act-order with perm needs a_tmp (m*k elements, 16-byte aligned)");
      group_blocks = K / num_groups / 16;
    } else {
      group_blocks = 0;
    }
  } else if (num_groups == 1) {
    group_blocks = -1;
  } else {
    if (K % num_groups || (K / num_groups) % 16)
      return fail("marlin_gemm: k = %d is not num_groups (%d) times a multiple of 16", K, num_groups);
    group_blocks = K / num_groups / 16;
  }
  if ((w_nvfp4 && group_blocks != 1) || (w_mxfp4 && group_blocks != 2))
    return fail("marlin_gemm: %s needs one scale per %d rows (k / num_groups = %d)", w_nvfp4 ? "NVFP4" : "MXFP4",
                w_nvfp4 ? 16 : 32, K / num_groups);

  int device;
  cudaError_t e = cudaGetDevice(&device);
  if (e != cudaSuccess) return cuda_fail(e, "cudaGetDevice");
  DeviceInfo dev;
  if (device_info(device, &dev)) return 1;
  if (dev.cc_major * 10 + dev.cc_minor < 75)
    return fail("marlin_gemm: device %d has compute capability %d.%d; marlin needs 7.5 or newer", device,
                dev.cc_major, dev.cc_minor);
  if (dev.cc_major < 8 && a_t == kBFloat16)
    return fail("marlin_gemm: bfloat16 activations need compute capability 8.0 or newer (device %d is %d.%d)",
                device, dev.cc_major, dev.cc_minor);
  // MARLIN_FORCE_STAGES=2 (dev knob): use the 2-stage (sm75 family) kernels on a newer GPU,
  // with a library whose sm75 files were built as compute_75 PTX.
  const int stages = tune.force_stages > 0 ? tune.force_stages : (dev.cc_major >= 8 ? 4 : 2);
  if (!g->workspace || g->workspace_bytes < workspace_size(device))
    return fail("marlin_gemm: workspace of %zu bytes is below marlin_workspace_size() = %zu", g->workspace_bytes,
                workspace_size(device));

  const char* A = reinterpret_cast<const char*>(g->a);
  int64_t lda = g->lda;
  if (permute_a) {
    if (marlin_permute_cols(g->a, g->lda, g->perm, g->a_tmp, M, K, stream)) return 1;
    A = reinterpret_cast<const char*>(g->a_tmp);
    lda = K;
  }
  const int bits = weight_bits(b_t);
  const int max_mb = g->max_m_blocks > 0 ? std::min(4, g->max_m_blocks) : 4;

  char* C = reinterpret_cast<char*>(g->c);
  int rest = M;
  while (rest > 0) {
    const int unit = 16 * max_mb;
    const int rows = rest >= unit ? rest / unit * unit : rest;
    const bool want_m8 = rows <= 8;
    const int want_mb = want_m8 ? 1 : std::min(max_mb, (rows + 15) / 16);

    // candidates of the first thread_m_blocks that has any: (kernel, key, smem, tiles, wgmma)
    struct Cand {
      KernelFn fn;
      KernelKey key;
      SmemModel sm;
      int tiles;
      bool wgmma;  // dispatch.h: wgmma_kernel
    };
    Cand cands[3];
    int n_cands = 0;
    const char* sel_err = nullptr;
    // one (m_blocks, thread config) candidate, if the library has it and it fits in shared memory
    auto try_cfg = [&](int mb, bool m8, const ThreadCfg& c) {
      if (g->thread_k > 0 && c.thread_k != g->thread_k) return;
      if (g->thread_n > 0 && c.thread_n != g->thread_n) return;
      if (N % c.thread_n) return;
      KernelKey k{a_t, b_t, c_t, s_t, c.threads, mb, c.thread_n / 16, c.thread_k / 16, m8, stages,
                  group_blocks, bool(g->is_zp_float)};
      const char* err = nullptr;
      KernelFn f = select_kernel(k, &err);
      if (!f) {
        if (!sel_err) sel_err = err;
        return;
      }
      const bool wg = wgmma_kernel(f, k, dev);
      SmemModel s = smem_model(bits, c.threads, mb, m8, c.thread_n / 16, c.thread_k / 16, stages, group_blocks,
                               has_zp, bool(g->is_zp_float), wg);
      if (s.total + kSmemHeadroom > dev.max_smem_optin) return;
      const int bm_ = m8 ? 8 : 16 * mb;
      cands[n_cands++] = Cand{f, k, s, ((rows + bm_ - 1) / bm_) * (N / c.thread_n), wg};
    };
    // <= 16 rows: the 2-m-block wgmma tile where it wins (dispatch.h prefer_wgmma_small_m; its
    // rows fit one M tile, so it has N / thread_n tiles). The rule is asked first, so that other
    // chunks pay no selector lookup for it.
    const bool eight_bit_or_channel = bits == 8 || (group_blocks == -1 && !has_zp);
    if (want_mb == 1 && max_mb >= 2 &&
        prefer_wgmma_small_m(rows, N / kLargeBatch[0].thread_n, (K + kLargeBatch[0].thread_k - 1) / kLargeBatch[0].thread_k,
                             eight_bit_or_channel, dev)) {
      try_cfg(2, false, kLargeBatch[0]);
      if (n_cands == 1 && !cands[0].wgmma) n_cands = 0;
      sel_err = nullptr;
    }
    // m8 tile first when rows <= 8, then thread_m_blocks downwards
    for (int attempt = 0; attempt <= want_mb && n_cands == 0; ++attempt) {
      bool m8;
      int mb;
      if (want_m8) {
        if (attempt > 1) break;
        m8 = attempt == 0;
        mb = 1;
      } else {
        if (attempt >= want_mb) break;
        m8 = false;
        mb = want_mb - attempt;
      }
      const ThreadCfg* cfgs = mb > 1 ? kLargeBatch : kSmallBatch;
      for (int ci = 0; ci < 3; ++ci) try_cfg(mb, m8, cfgs[ci]);
    }
    if (n_cands == 0)
      return fail(
          "marlin_gemm: no kernel for a=%s b=%s c=%s s=%s group_blocks=%d zp_float=%d rows=%d (m_blocks %s%d) n=%d "
          "k=%d thread_k=%d thread_n=%d stages=%d%s%s; this library was built for archs [%s] with schemes [%s]",
          type_name(a_t), type_name(b_t), type_name(c_t), type_name(s_t), group_blocks, g->is_zp_float, rows,
          want_m8 ? "0.5 / " : "", want_mb, N, K, g->thread_k, g->thread_n, stages, sel_err ? ": " : "",
          sel_err ? sel_err : "", built_arch_list(), built_schemes());
    // split-K factor per candidate (dispatch.h); default waves: one block per SM for chunks of
    // up to 16 rows, two above. At M <= 16 on the H100 (CUDA-graph timings, GPTQ-4 g128) one wave
    // beat two on 5 of 6 small-layer rows by 8-14% (fewer partials for the last block to sum);
    // large layers have enough tiles either way (docs/performance.md).
    int waves = tune.waves > 0 ? tune.waves : (want_m8 || want_mb <= 1 ? 1 : 2);
    // sm_90a: the (64,256,256) tile multiplies with wgmma, 1.2-1.6x faster per block than the
    // mma.sync tiles, and one block fills an SM (249 registers x 256 threads). When it is a
    // candidate it is taken, split to one wave: on the H100 at M = 64 (first wgmma version),
    // (8192 x 28672) ran 80.7 us with 112 blocks and 102 us with 224; (14336 x 4096) 37.6 us with
    // 128 blocks, 48.7 with 64 (csrc/dev/kbench.cu, docs/performance.md).
    if (cands[0].wgmma) {
      n_cands = 1;
      if (tune.waves == 0) waves = 1;
    }
    const int target = dev.sms * waves;
    int slices = 1;
    // (the 8-row tile of 4-bit weights: two slices where one leaves SMs idle, dispatch.h m8_slices)
    const int pick = choose_candidate(cands, n_cands, K, g->use_fp32_reduce != 0, target, g->max_slices, dev, &slices,
                                      cands[0].key.m_block_size_8 && bits == 4 && tune.waves == 0);
    const KernelFn fn = cands[pick].fn;
    const KernelKey key = cands[pick].key;
    const SmemModel sm = cands[pick].sm;
    int tiles = cands[pick].tiles;
    // The 4-m-block wgmma kernel's 128-row mode (marlin_template.cuh W2): each dequantized
    // weight feeds 128 rows. For chunks of >= 128 rows when predicted faster (dispatch.h
    // prefer_wide). On the H100 (bench_gemm graph rows) 8192 x 28672 M = 128 168 -> 135 us,
    // M = 1024 1068 -> 898; 14336 x 4096 M = 1024 257 -> 222, and with its own partial room
    // (thirteenth session) M = 256 72-75 -> 62-64 (docs/performance.md).
    const int k_iters = (K + 16 * key.thread_k_blocks - 1) / (16 * key.thread_k_blocks);  // K tiles of a tile
    bool wide = false;
    if (cands[pick].wgmma && key.thread_m_blocks == 4 && rows >= 128) {
      const int tiles_w = (rows + 127) / 128 * (N / (16 * key.thread_n_blocks));
      const size_t slot_w = partial_slot_bytes(8, key.thread_n_blocks, g->use_fp32_reduce != 0);
      const int sl_w = split_slices(tiles_w, k_iters, slot_w, target, g->max_slices, dev, true);
      if (prefer_wide(tiles, slices, tiles_w, sl_w, k_iters, dev)) {
        wide = true;
        tiles = tiles_w;
        slices = sl_w;
      }
    }

    // stream-K (dispatch.h stream_k_blocks; only on request): even runs of (tile, K tile) units
    // per block
    int blocks = tiles * slices;
    int sk = 0;
    // (the knob is looked at here too only to spare the occupancy query when stream-K is off)
    if (tune.stream_k >= 2 && !wide && stream_k_shape(key.threads, key.thread_m_blocks)) {
      sk = stream_k_blocks(rows, tiles, k_iters, blocks_per_sm(fn, key.threads, sm.total),
                           partial_slot_bytes(key.thread_m_blocks, key.thread_n_blocks, g->use_fp32_reduce != 0), dev);
      if (sk > 0) blocks = sk;
    }
    // (stream-K passes no split to the plan: a tile's blocks finish at different times, so they
    // do not share its sum)
    const LaunchPlan plan = launch_plan(pdl_kernel(fn, dev), blocks, sk > 0 ? 1 : slices, sm.total, dev);
    if (ensure_smem(device, fn, plan.smem)) return 1;
    KernelParams p = chunk_params(g, A, lda, C, rows);
    p.global_scale = g->global_scale;
    p.g_idx = g->g_idx;
    p.max_shared_mem = plan.smem;
    p.wide_m = wide;
    // the wide and 64-row tiles' A tile and (4- and 8-bit weights) B stage by TMA copies (tma.h;
    // where no map can be made, the kernel's cp.async path). H100, GPTQ-4 g128: 5-10% off the wide rows
    // (sixteenth session), 5-7% off the 64-row tile at M = 64..256 (nineteenth session,
    // docs/performance.md). MARLIN_TMA_NARROW=0: the wide tile only, for A/B. Never in stream-K
    // grids; the 16- and 32-row tiles have no TMA path (marlin_template.cuh).
    const bool tma = cands[pick].wgmma && sk == 0 && (wide || (tune.tma_narrow >= 1 && key.thread_m_blocks == 4));
    if (tma && tune.tma >= 1)
      set_a_tma(p, A, rows, K, lda, wide ? 128 : 16 * key.thread_m_blocks, 16 * key.thread_k_blocks);
    if (tma && tune.tma >= 2) set_b_tma(p, g->b, K, N, bits, key.thread_k_blocks, 16 * key.thread_n_blocks);
    p.release_early = plan.release_early;
    p.reduce_together = plan.reduce_together;
    p.stream_k = sk > 0;
    e = launch_gemm(fn, blocks, key.threads, stream, p, plan);
    if (e != cudaSuccess) return cuda_fail(e, "Marlin kernel launch");

    rest -= rows;
    A += size_t(rows) * lda * 2;
    C += size_t(rows) * N * 2;
  }
  return 0;
}

}  // namespace host
}  // namespace marlin

extern "C" {

int marlin_gemm(const marlin_gemm_args* args, void* stream) {
  return marlin::host::gemm(args, reinterpret_cast<cudaStream_t>(stream));
}

size_t marlin_workspace_size(int device) { return marlin::host::workspace_size(device); }

const char* marlin_last_error(void) { return marlin::host::last_error().c_str(); }

const char* marlin_built_arch_list(void) { return marlin::built_arch_list(); }

const char* marlin_built_schemes(void) { return marlin::built_schemes(); }

int marlin_abi_version(void) { return MARLIN_ABI_VERSION; }

}  // extern "C"
