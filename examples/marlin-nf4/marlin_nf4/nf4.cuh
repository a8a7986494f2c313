// NF4 dequantization for marlin's kernels, through the WeightFormat extension point
// (csrc/include/marlin/weight_format.h). Installed by the marlin-nf4 plugin; marlin gen writes it
// beside the generated kernels as marlin_nf4.cuh. The plugin fills in the type id.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "marlin/weight_format.h"

namespace marlin {
namespace nf4 {
// Code i decodes to kValues[i] (marlin_nf4/codebook.py). Constant memory: lanes that look up
// the same code are served in one broadcast.
static __constant__ float kValues[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
}  // namespace nf4

template <>
struct WeightFormat<static_cast<ScalarTypeId>(@NF4_ID@ll)> {
  static constexpr bool defined = true;
  static constexpr int bits = 4;

  // codes: one lane's word of a 16-column sub-block; nibble i holds v[ORDER4[i]] with
  // ORDER4 = [0, 2, 4, 6, 1, 3, 5, 7] (docs/kernel.md), so nibbles (i, i + 4) are the pair
  // (v[2i], v[2i + 1]): mma B register (j, h) = (i / 2, i % 2).
  template <bool bf16>
  static __device__ __forceinline__ void dequant(uint32_t codes, uint32_t (&f)[2][2]) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float lo = nf4::kValues[(codes >> (4 * i)) & 15u];
      const float hi = nf4::kValues[(codes >> (4 * i + 16)) & 15u];
      uint32_t pair;
      if constexpr (bf16) {
        __nv_bfloat162 x = __floats2bfloat162_rn(lo, hi);
        pair = *reinterpret_cast<uint32_t*>(&x);
      } else {
        half2 x = __floats2half2_rn(lo, hi);
        pair = *reinterpret_cast<uint32_t*>(&x);
      }
      f[i / 2][i % 2] = pair;
    }
  }
};

}  // namespace marlin
