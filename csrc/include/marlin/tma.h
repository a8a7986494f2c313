// Host side of the wide mode's TMA copies (KernelParams::a_tma / b_tma, marlin_template.cuh W2):
// the tensor maps of A and of 4-bit B. Shared by the library's launch code and csrc/dev/kbench.cu.
#pragma once
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

#include "marlin/kernel.h"

namespace marlin {

// cuTensorMapEncodeTiled through the runtime's driver entry point, so that nothing links against
// libcuda; nullptr where the driver has none. Looked up once per process.
inline PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult q{};
#if CUDART_VERSION >= 12050
    const cudaError_t e = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &q);
#else
    const cudaError_t e = cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &f, cudaEnableDefault, &q);
#endif
    if (e != cudaSuccess || q != cudaDriverEntryPointSuccess) f = nullptr;
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
  }();
  return fn;
}

// The map of A [rows, k] (16-bit elements, row stride lda elements) in boxes of box_rows rows x
// box_k elements, 128-byte swizzled (box_k * 2 must be 128: the swizzle span, which is the wide
// tile's A row), into p.a_map; sets p.a_tma. Leaves p.a_tma false where no map can be made (no
// driver entry point, a misaligned A or row stride): the kernel then copies A with cp.async.
inline bool set_a_tma(KernelParams& p, const void* a, int rows, int k, int64_t lda, int box_rows, int box_k) {
  p.a_tma = false;
  const PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
  if (encode == nullptr || reinterpret_cast<uintptr_t>(a) % 16 != 0 || (lda * 2) % 16 != 0 || box_k * 2 != 128)
    return false;
  CUtensorMap map;
  static_assert(sizeof(map) == sizeof(p.a_map), "KernelParams::a_map holds one CUtensorMap");
  const cuuint64_t dims[2] = {cuuint64_t(k), cuuint64_t(rows)};
  const cuuint64_t strides[1] = {cuuint64_t(lda) * 2};  // bytes, dimension 1
  const cuuint32_t box[2] = {cuuint32_t(box_k), cuuint32_t(box_rows)};
  const cuuint32_t elem_strides[2] = {1, 1};
  // (16-bit elements as uint16: the copy never looks at them; out-of-range ones arrive as 0 = +0.0)
  if (encode(&map, CU_TENSOR_MAP_DATA_TYPE_UINT16, 2, const_cast<void*>(a), dims, strides, box, elem_strides,
             CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
             CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) != CUDA_SUCCESS)
    return false;
  std::memcpy(p.a_map, &map, sizeof(map));
  p.a_tma = true;
  return true;
}

// The map of 4-bit weights in marlin's tile layout (k / 16 rows of n 8-byte words: 64 per 64
// columns) in boxes of box_rows k16 rows x box_n words, no swizzle (the ring keeps the global
// order), into p.b_map; sets p.b_tma. Only with p.a_tma (one mbarrier takes both copies).
inline bool set_b_tma(KernelParams& p, const void* b, int k, int n, int box_rows, int box_n) {
  p.b_tma = false;
  const PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
  if (!p.a_tma || encode == nullptr || reinterpret_cast<uintptr_t>(b) % 16 != 0) return false;
  CUtensorMap map;
  const cuuint64_t dims[2] = {cuuint64_t(n), cuuint64_t(k / 16)};
  const cuuint64_t strides[1] = {cuuint64_t(n) * 8};
  const cuuint32_t box[2] = {cuuint32_t(box_n), cuuint32_t(box_rows)};
  const cuuint32_t elem_strides[2] = {1, 1};
  if (encode(&map, CU_TENSOR_MAP_DATA_TYPE_UINT64, 2, const_cast<void*>(b), dims, strides, box, elem_strides,
             CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
             CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) != CUDA_SUCCESS)
    return false;
  std::memcpy(p.b_map, &map, sizeof(map));
  p.b_tma = true;
  return true;
}

}  // namespace marlin
