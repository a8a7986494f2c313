// The extension point for weight formats that come from plugins (marlin.schemes entry points).
//
// A plugin's CUDA header (hook marlin_cuda_headers) specializes WeightFormat for its weight
// type id with:
//   static constexpr bool defined = true;
//   static constexpr int bits = 4;          // code width; the 4-bit tile layout is used
//   template <bool bf16>
//   static __device__ void dequant(uint32_t codes, uint32_t (&f)[2][2]);
// `codes` is one lane's word of a 16-column sub-block in the 4-bit tile layout (docs/kernel.md:
// nibble i holds v[ORDER4[i]]); `f[j][h]` receives the 16-bit float pair for mma B register h
// of n8 tile j, unscaled (the kernel applies the group scale as for any symmetric format).
// The generated marlin_plugin_formats.h includes this header and then every plugin header.
#pragma once
#include <cstdint>

#include "marlin/scalar_type.h"

namespace marlin {

template <ScalarTypeId b_type_id>
struct WeightFormat {
  static constexpr bool defined = false;
};

}  // namespace marlin
