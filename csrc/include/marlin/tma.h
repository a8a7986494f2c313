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

// A 2-D map of `base` (cols x rows elements of `type`, rows `row_bytes` apart) in boxes of
// box_cols x box_rows, written into `out` (a KernelParams map slot); false where the driver has
// no encoder or refuses the map. Elements outside the tensor arrive as zeros.
inline bool encode_map_2d(unsigned char (&out)[128], CUtensorMapDataType type, const void* base, uint64_t cols,
                          uint64_t rows, uint64_t row_bytes, uint32_t box_cols, uint32_t box_rows,
                          CUtensorMapSwizzle swizzle) {
  const PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
  if (encode == nullptr || reinterpret_cast<uintptr_t>(base) % 16 != 0 || row_bytes % 16 != 0) return false;
  CUtensorMap map;
  static_assert(sizeof(map) == sizeof(out), "a KernelParams map slot holds one CUtensorMap");
  const cuuint64_t dims[2] = {cols, rows};
  const cuuint64_t strides[1] = {row_bytes};  // of dimension 1, in bytes
  const cuuint32_t box[2] = {box_cols, box_rows};
  const cuuint32_t elem_strides[2] = {1, 1};
  if (encode(&map, type, 2, const_cast<void*>(base), dims, strides, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
             swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) != CUDA_SUCCESS)
    return false;
  std::memcpy(out, &map, sizeof(map));
  return true;
}

// The map of A [rows, k] (16-bit elements, row stride lda elements) in boxes of box_rows rows x
// box_k elements, 128-byte swizzled (box_k * 2 must be 128: the swizzle span, which is the wide
// tile's A row), into p.a_map; sets p.a_tma. Leaves p.a_tma false where no map can be made (no
// driver entry point, a misaligned A or row stride): the kernel then copies A with cp.async.
// (16-bit elements as uint16: the copy never looks at them; out-of-range ones arrive as 0 = +0.0.)
inline bool set_a_tma(KernelParams& p, const void* a, int rows, int k, int64_t lda, int box_rows, int box_k) {
  p.a_tma = box_k * 2 == 128 && encode_map_2d(p.a_map, CU_TENSOR_MAP_DATA_TYPE_UINT16, a, uint64_t(k), uint64_t(rows),
                                               uint64_t(lda) * 2, uint32_t(box_k), uint32_t(box_rows),
                                               CU_TENSOR_MAP_SWIZZLE_128B);
  return p.a_tma;
}

// The map of 4-bit weights in marlin's tile layout (k / 16 rows of n 8-byte words: 64 per 64
// columns) in boxes of box_rows k16 rows x box_n words, no swizzle (the ring keeps the global
// order), into p.b_map; sets p.b_tma. Only with p.a_tma (one mbarrier takes both copies).
inline bool set_b_tma(KernelParams& p, const void* b, int k, int n, int box_rows, int box_n) {
  p.b_tma = p.a_tma && encode_map_2d(p.b_map, CU_TENSOR_MAP_DATA_TYPE_UINT64, b, uint64_t(n), uint64_t(k / 16),
                                     uint64_t(n) * 8, uint32_t(box_n), uint32_t(box_rows), CU_TENSOR_MAP_SWIZZLE_NONE);
  return p.b_tma;
}

}  // namespace marlin
