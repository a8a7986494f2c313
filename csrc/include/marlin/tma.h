// Host side of the TMA copies of the wide and 64-row wgmma tiles (KernelParams::a_tma / b_tma,
// marlin_template.cuh): the tensor maps of A and of 4- and 8-bit B. Shared by the library's launch
// code and csrc/dev/kbench.cu.
#pragma once
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

#include "marlin/kernel.h"
#include "marlin/layout.h"

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

// A map of `base` with `rank` (2 or 3) dimensions, innermost first: dims[i] elements of `type`,
// dimension i + 1 `strides[i]` bytes apart, in boxes of box[i] elements, written into `out` (a
// KernelParams map slot); false where the driver has no encoder or refuses the map. Elements
// outside the tensor arrive as zeros.
inline bool encode_map(unsigned char (&out)[128], CUtensorMapDataType type, const void* base, int rank,
                       const uint64_t* dims, const uint64_t* strides, const uint32_t* box, CUtensorMapSwizzle swizzle) {
  const PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
  if (encode == nullptr || reinterpret_cast<uintptr_t>(base) % 16 != 0) return false;
  cuuint64_t d[3], st[2];
  cuuint32_t b[3], elem_strides[3] = {1, 1, 1};
  for (int i = 0; i < rank; ++i) {
    d[i] = dims[i];
    b[i] = box[i];
    if (i + 1 < rank) {
      if (strides[i] % 16 != 0) return false;
      st[i] = strides[i];
    }
  }
  CUtensorMap map;
  static_assert(sizeof(map) == sizeof(out), "a KernelParams map slot holds one CUtensorMap");
  if (encode(&map, type, cuuint32_t(rank), const_cast<void*>(base), d, st, b, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE,
             swizzle, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) != CUDA_SUCCESS)
    return false;
  std::memcpy(out, &map, sizeof(map));
  return true;
}

// The 2-D case: cols x rows elements, rows `row_bytes` apart, boxes of box_cols x box_rows.
inline bool encode_map_2d(unsigned char (&out)[128], CUtensorMapDataType type, const void* base, uint64_t cols,
                          uint64_t rows, uint64_t row_bytes, uint32_t box_cols, uint32_t box_rows,
                          CUtensorMapSwizzle swizzle) {
  const uint64_t dims[2] = {cols, rows}, strides[1] = {row_bytes};
  const uint32_t box[2] = {box_cols, box_rows};
  return encode_map(out, type, base, 2, dims, strides, box, swizzle);
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

// The shape of a tensor map: `rank` dimensions, innermost first; strides of dimensions 1.. in
// bytes; the box in elements.
struct MapLayout {
  int rank;
  uint64_t dims[3];
  uint64_t strides[2];
  uint32_t box[3];
};

// The map of 4- or 8-bit weights in marlin's tile layout (k / 16 rows of n * bits / 4 8-byte
// words) for a tile of box_rows k16 rows x tile_n columns, in the box that b_box_at addresses
// (layout.h), no swizzle: the ring keeps the global order. False where no map fits: other code
// widths, a 3-D box whose pieces do not tile the rows.
inline bool b_map_layout(int k, int n, int bits, int box_rows, int tile_n, MapLayout& m) {
  if (bits != 4 && bits != 8) return false;
  const uint64_t row_words = uint64_t(n) * bits / 4, tile_words = uint64_t(b_tile_row_words(bits, tile_n));
  if (!b_box_3d(bits, tile_n)) {
    m = MapLayout{2, {row_words, uint64_t(k / 16), 0}, {row_words * 8, 0}, {uint32_t(tile_words), uint32_t(box_rows), 0}};
    return true;
  }
  if (tile_words % kBoxMax != 0 || row_words % kBoxMax != 0) return false;
  m = MapLayout{3,
                {kBoxMax, row_words / kBoxMax, uint64_t(k / 16)},
                {kBoxMax * 8, row_words * 8},
                {kBoxMax, uint32_t(tile_words / kBoxMax), uint32_t(box_rows)}};
  return true;
}

// That map into p.b_map; sets p.b_tma. Only with p.a_tma (one mbarrier takes both copies).
inline bool set_b_tma(KernelParams& p, const void* b, int k, int n, int bits, int box_rows, int tile_n) {
  MapLayout m;
  p.b_tma = p.a_tma && b_map_layout(k, n, bits, box_rows, tile_n, m) &&
            encode_map(p.b_map, CU_TENSOR_MAP_DATA_TYPE_UINT64, b, m.rank, m.dims, m.strides, m.box,
                       CU_TENSOR_MAP_SWIZZLE_NONE);
  return p.b_tma;
}

}  // namespace marlin
