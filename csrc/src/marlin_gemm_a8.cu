// Host dispatch of the 8-bit-activation GEMM (W4A8, marlin_a8.cuh) and its C ABI entry
// marlin_gemm_a8 (marlin/capi.h). Same shape as the 16-bit dispatch in marlin_gemm.cu: M in
// chunks of up to 64 rows, thread configs in priority order filtered by the generated selector
// and the shared-memory model (layout_a8.h), the candidate that fills the GPU best, split-K.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdlib>

#include "common.h"
#include "dispatch.h"
#include "kernel_selector.h"  // generated: marlin::select_kernel, built_arch_list, built_schemes
#include "marlin/capi.h"
#include "marlin/kernel.h"
#include "marlin/layout.h"
#include "marlin/layout_a8.h"

namespace marlin {
namespace host {

size_t workspace_size(int device);  // marlin_gemm.cu

namespace {

// What the last launch on this thread ran (for tests: which code path, marlin_a8_last_launch).
thread_local int g_last[4] = {0, 0, 0, 0};  // stages, ptxVersion, binaryVersion, thread_m_blocks
thread_local KernelFn g_last_fn = nullptr;

}  // namespace

int gemm_a8(const marlin_gemm_args* g, const float* a_scales, cudaStream_t stream) {
  using namespace type_id;
  if (!g) return fail("marlin_gemm_a8: args is NULL");
  const Tuning& tune = tuning();
  const ScalarTypeId a_t = g->a_type, b_t = g->b_type, c_t = g->c_type, s_t = g->s_type;
  const int M = g->m, N = g->n, K = g->k;

  // ---- types
  const bool c16 = c_t == kFloat16 || c_t == kBFloat16;
  const bool int4w = (b_t == kU4 || b_t == kU4B8) && s_t == c_t && c16;
  const bool mxfp4 = a_t == kFE4M3fn && b_t == kFE2M1f && s_t == kFE8M0fnu && c_t == kBFloat16;
  if (!(a_t == kS8 || a_t == kFE4M3fn) || !(int4w || mxfp4))
    return fail(
        "marlin_gemm_a8: unsupported type combination a=%s b=%s c=%s s=%s; 8-bit activations support a in {s8, "
        "fe4m3fn} with b in {u4 (with zero points), u4b8} and c = s in {float16, bfloat16}, or a=fe4m3fn "
        "b=fe2m1f s=fe8m0fnu c=bfloat16 (MXFP4)",
        type_name(a_t), type_name(b_t), type_name(c_t), type_name(s_t));
  if (!a_scales) return fail("marlin_gemm_a8: 8-bit activations (a=%s) need per-token a_scales (float32 [m])", type_name(a_t));
  const bool has_zp = g->zp != nullptr;
  if ((b_t == kU4) != has_zp)
    return fail("marlin_gemm_a8: b=%s %s zero points", type_name(b_t), has_zp ? "does not take" : "needs");
  if (g->is_zp_float) return fail("marlin_gemm_a8: float zero points are not supported with 8-bit activations");
  if (g->g_idx || g->perm) return fail("marlin_gemm_a8: act-order (g_idx) is not supported with 8-bit activations");
  if (g->use_atomic_add) return fail("marlin_gemm_a8: use_atomic_add is not supported");

  // ---- shapes
  if (M < 0 || N <= 0 || K <= 0) return fail("marlin_gemm_a8: bad sizes m=%d n=%d k=%d", M, N, K);
  if (N % kMinThreadN) return fail("marlin_gemm_a8: n = %d must be a multiple of %d", N, kMinThreadN);
  if (K % kTileKA8) return fail("marlin_gemm_a8: k = %d must be a multiple of %d for 8-bit activations", K, kTileKA8);
  if (M == 0) return 0;
  if (!g->a || !g->b || !g->c || !g->scales) return fail("marlin_gemm_a8: a, b, c and scales must be non-NULL");
  if (g->lda > INT32_MAX || g->lda < K || g->lda % 16)
    return fail("marlin_gemm_a8: lda = %lld must be >= k and a multiple of 16 (8-bit rows are copied in 16-byte units)",
                (long long)g->lda);
  if (!aligned16(g->a) || !aligned16(g->b) || !aligned16(g->scales) || (g->zp && !aligned16(g->zp)))
    return fail("marlin_gemm_a8: a, b, scales and zp must be 16-byte aligned");
  if ((reinterpret_cast<uintptr_t>(g->c) & 3) || (g->bias && (reinterpret_cast<uintptr_t>(g->bias) & 3)) ||
      (reinterpret_cast<uintptr_t>(a_scales) & 3))
    return fail("marlin_gemm_a8: c, bias and a_scales must be 4-byte aligned");
  const int num_groups = g->num_groups;
  if (num_groups < 1) return fail("marlin_gemm_a8: num_groups = %d must be >= 1", num_groups);
  int group_blocks = -1;
  if (num_groups > 1) {
    if (K % num_groups || (K / num_groups) % 32)
      return fail("marlin_gemm_a8: k = %d is not num_groups (%d) times a multiple of 32", K, num_groups);
    group_blocks = K / num_groups / 16;
  }
  if (mxfp4 && group_blocks != 2)
    return fail("marlin_gemm_a8: MXFP4 needs one e8m0 scale per 32 rows (num_groups = k / 32), got %d groups", num_groups);

  int device;
  cudaError_t e = cudaGetDevice(&device);
  if (e != cudaSuccess) return cuda_fail(e, "cudaGetDevice");
  DeviceInfo dev;
  if (device_info(device, &dev)) return 1;
  const int cc = dev.cc_major * 10 + dev.cc_minor;
  if (a_t == kFE4M3fn && cc < 89)
    return fail("marlin_gemm_a8: fp8 activations need fp8 tensor cores (compute capability 8.9 or newer; device %d is %d.%d)",
                device, dev.cc_major, dev.cc_minor);
  if (cc < 75) return fail("marlin_gemm_a8: device %d has compute capability %d.%d; marlin needs 7.5 or newer", device,
                           dev.cc_major, dev.cc_minor);
  if (cc < 80 && c_t == kBFloat16)
    return fail("marlin_gemm_a8: bfloat16 output needs compute capability 8.0 or newer (device %d is %d.%d)", device,
                dev.cc_major, dev.cc_minor);
  const int stages = tune.force_stages > 0 ? tune.force_stages : (cc >= 80 ? 4 : 2);
  if (!g->workspace || g->workspace_bytes < workspace_size(device))
    return fail("marlin_gemm_a8: workspace of %zu bytes is below marlin_workspace_size() = %zu", g->workspace_bytes,
                workspace_size(device));
  const int s_bytes = s_t == kFE8M0fnu ? 1 : 2;
  const int max_mb = g->max_m_blocks > 0 ? std::min(4, g->max_m_blocks) : 4;

  const char* A = reinterpret_cast<const char*>(g->a);
  const int64_t lda = g->lda;
  char* C = reinterpret_cast<char*>(g->c);
  const float* AS = a_scales;
  int rest = M;
  while (rest > 0) {
    const int unit = 16 * max_mb;
    const int rows = rest >= unit ? rest / unit * unit : rest;
    const int want_mb = std::min(max_mb, (rows + 15) / 16);

    struct Cand {
      KernelFn fn;
      KernelKey key;
      SmemModelA8 sm;
      int tiles;
    };
    Cand cands[3];
    int n_cands = 0;
    const char* sel_err = nullptr;
    for (int mb = want_mb; mb >= 1 && n_cands == 0; --mb) {
      const ThreadCfg* cfgs = mb > 1 ? kLargeBatch : kSmallBatch;
      for (int ci = 0; ci < 3; ++ci) {
        const ThreadCfg c = cfgs[ci];
        if (g->thread_k > 0 && c.thread_k != g->thread_k) continue;
        if (g->thread_n > 0 && c.thread_n != g->thread_n) continue;
        if (N % c.thread_n) continue;
        KernelKey k{a_t, b_t, c_t, s_t, c.threads, mb, c.thread_n / 16, c.thread_k / 16, false, stages, group_blocks, false};
        const char* err = nullptr;
        KernelFn f = select_kernel(k, &err);
        if (!f) {
          if (!sel_err) sel_err = err;
          continue;
        }
        SmemModelA8 s = smem_model_a8(s_bytes, c.threads, mb, c.thread_n / 16, c.thread_k / 16, stages, group_blocks, has_zp);
        if (s.total + kSmemHeadroom > dev.max_smem_optin) continue;
        cands[n_cands++] = Cand{f, k, s, ((rows + 16 * mb - 1) / (16 * mb)) * (N / c.thread_n)};
      }
    }
    if (n_cands == 0)
      return fail(
          "marlin_gemm_a8: no kernel for a=%s b=%s c=%s s=%s group_blocks=%d rows=%d (m_blocks %d) n=%d k=%d "
          "thread_k=%d thread_n=%d stages=%d%s%s; this library was built for archs [%s] with schemes [%s]",
          type_name(a_t), type_name(b_t), type_name(c_t), type_name(s_t), group_blocks, rows, want_mb, N, K, g->thread_k, g->thread_n,
          stages, sel_err ? ": " : "", sel_err ? sel_err : "", built_arch_list(), built_schemes());
    // split-K factor per candidate (dispatch.h); default: two waves of blocks
    const int target = dev.sms * (tune.waves > 0 ? tune.waves : 2);
    int slices = 1;
    const int pick = choose_candidate(cands, n_cands, K, g->use_fp32_reduce != 0, target, g->max_slices, dev, &slices);
    const Cand& cd = cands[pick];
    if (ensure_smem(device, cd.fn, cd.sm.total)) {
      if (a_t == kFE4M3fn && cc != 89 && cc / 10 != 12)
        return fail("%s; the fp8-activation kernels are the sm89 family: on compute capability %d.%d they load only "
                    "from compute_89 PTX (build with the arch list \"8.9+PTX,...\")",
                    last_error().c_str(), dev.cc_major, dev.cc_minor);
      return 1;
    }

    KernelParams p = chunk_params(g, A, lda, C, rows);
    p.a_scales = AS;
    p.max_shared_mem = cd.sm.total;
    cd.fn<<<cd.tiles * slices, cd.key.threads, cd.sm.total, stream>>>(p);
    e = cudaGetLastError();
    if (e != cudaSuccess) return cuda_fail(e, "Marlin (8-bit activations) kernel launch");
    if (cd.fn != g_last_fn) {  // cheap bookkeeping: attributes only when the kernel changes
      cudaFuncAttributes fa;
      if (cudaFuncGetAttributes(&fa, reinterpret_cast<const void*>(cd.fn)) == cudaSuccess) {
        g_last_fn = cd.fn;
        g_last[1] = fa.ptxVersion;
        g_last[2] = fa.binaryVersion;
      }
    }
    g_last[0] = stages;
    g_last[3] = cd.key.thread_m_blocks;

    rest -= rows;
    A += size_t(rows) * lda;  // 1-byte elements
    C += size_t(rows) * N * 2;
    AS += rows;
  }
  return 0;
}

}  // namespace host
}  // namespace marlin

extern "C" {

int marlin_gemm_a8(const marlin_gemm_args* args, const float* a_scales, void* stream) {
  return marlin::host::gemm_a8(args, a_scales, reinterpret_cast<cudaStream_t>(stream));
}

int marlin_a8_last_launch(int32_t* out4) {
  if (!out4) return marlin::host::fail("marlin_a8_last_launch: NULL");
  for (int i = 0; i < 4; ++i) out4[i] = marlin::host::g_last[i];
  return 0;
}

}  // extern "C"
