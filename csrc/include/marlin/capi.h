/* marlin: plain C ABI of libmarlin.so (no torch, no C++ types). Loaded by
 * marlin_core/runtime through ctypes. All pointers are device pointers unless stated;
 * streams are cudaStream_t passed as void* (NULL = legacy default stream).
 * Every function returns 0 on success, non-zero on error; marlin_last_error() then returns a
 * thread-local message. */
#ifndef MARLIN_CAPI_H_
#define MARLIN_CAPI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MARLIN_ABI_VERSION 1

typedef struct marlin_gemm_args {
  /* activations [m, k] in a_type, row stride lda elements (lda % 8 == 0, 16-byte aligned) */
  const void* a;
  int64_t lda;
  /* weights in marlin's tile layout: int32 [k / 16, n * 16 / pack_factor] */
  const void* b;
  /* output [m, n] contiguous, c_type */
  void* c;
  /* scales [num_groups, n] in s_type, prepared (marlin_prepare_scales layout) */
  const void* scales;
  /* zero points or NULL: packed int32 [num_groups, n / 8] (int, prepared) or s_type
   * [num_groups, n] (is_zp_float, prepared) */
  const void* zp;
  /* act-order: g_idx [k] int32 or NULL. With perm (int32 [k]) the weights were repacked
   * with rows sorted by perm and A's columns are permuted at run time into a_tmp (m * k
   * elements, needed then); without perm the g_idx kernel looks groups up per K row. */
  const int32_t* g_idx;
  const int32_t* perm;
  void* a_tmp;
  /* bias [n] in c_type or NULL (natural order) */
  const void* bias;
  /* workspace: marlin_workspace_size() bytes, zero-filled once at allocation; the kernels
   * leave it zeroed. One workspace per concurrently running stream. */
  void* workspace;
  size_t workspace_bytes;
  int64_t a_type, b_type, c_type, s_type; /* scalar type ids (marlin/scalar_type.h) */
  int32_t m, n, k;
  int32_t num_groups;
  int32_t is_zp_float;
  int32_t use_fp32_reduce; /* 1: fp32 split-K partials (default); 0: 16-bit partials */
  int32_t use_atomic_add;  /* not supported yet: must be 0 */
  /* tuning / testing: -1 = automatic. thread_k/thread_n force a thread config,
   * max_m_blocks caps thread_m_blocks (1..4), max_slices caps the split-K factor */
  int32_t thread_k, thread_n, max_m_blocks, max_slices;
  /* NVFP4 (b = fe2m1f with fe4m3fn scales): float32 [1] per-tensor global scale, prepared
   * (ops.prepare_nvfp4: the checkpoint's global scale times 2^7); NULL for every other format */
  const float* global_scale;
} marlin_gemm_args;

/* C = A @ dequant(B) (+ bias). */
int marlin_gemm(const marlin_gemm_args* args, void* stream);

/* Bytes of workspace marlin_gemm needs on `device` (locks + fp32 partials). */
size_t marlin_workspace_size(int device);

/* Repack GPTQ int32 [k / pack, n] (packed along K, LSB first) into the tile layout
 * int32 [k / 16, n * 16 / pack]. perm (int32 [k]) or NULL: output row i reads input row
 * perm[i] (act-order: perm = argsort(g_idx)). num_bits 4 or 8. */
int marlin_repack_gptq(const int32_t* qweight, const int32_t* perm, int32_t* out, int32_t k, int32_t n,
                       int32_t num_bits, void* stream);

/* Repack AWQ int32 [k, n / pack] (packed along N in AWQ's order 0,2,4,6,1,3,5,7) into the
 * tile layout. num_bits 4. */
int marlin_repack_awq(const int32_t* qweight, int32_t* out, int32_t k, int32_t n, int32_t num_bits,
                      void* stream);

/* out[i, j] = a[i, perm[j]] for a [m, k] (row stride lda) of 16-bit elements; out contiguous. */
int marlin_permute_cols(const void* a, int64_t lda, const int32_t* perm, void* out, int32_t m, int32_t k,
                        void* stream);

/* 8-bit activations (W4A8, docs/kernel.md "8-bit activations"): a is int8 (a_type s8) or fp8
 * e4m3 (fe4m3fn) [m, k] with lda % 16 == 0, a_scales float32 [m] per-token scales, k % 32 == 0;
 * b is repacked by marlin_repack_a8 (int32 [k / 32, 4 n]); scales [num_groups, n] in s_type, in
 * the a8 scale order; zp as for marlin_gemm. C = (A * a_scales) @ dequant(B) (+ bias).
 * marlin_gemm with an 8-bit a_type refuses (no a_scales). */
int marlin_gemm_a8(const marlin_gemm_args* args, const float* a_scales, void* stream);

/* Repack 4-bit codes for the 8-bit-activation kernels: GPTQ-style int32 [k / 8, n] packed
 * along K (awq = 0; also FP4 e2m1 codes) or AWQ int32 [k, n / 8] (awq = 1) -> int32
 * [k / 32, 4 n] (32x64 tiles). */
int marlin_repack_a8(const int32_t* qweight, int32_t* out, int32_t k, int32_t n, int32_t awq, void* stream);

/* What the last marlin_gemm_a8 launch on this thread ran: out[0] pipeline stages, out[1] the
 * kernel's PTX version (cudaFuncAttributes::ptxVersion, e.g. 89 for compute_89 PTX), out[2]
 * its binary version (the arch the code was compiled or JIT-compiled for), out[3]
 * thread_m_blocks. For tests that must say which code path ran. */
int marlin_a8_last_launch(int32_t* out);

const char* marlin_last_error(void);
const char* marlin_built_arch_list(void);
const char* marlin_built_schemes(void);
int marlin_abi_version(void);

#ifdef __cplusplus
}
#endif

#endif /* MARLIN_CAPI_H_ */
