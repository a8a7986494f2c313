"""A third-party plugin as a user would write it: a new 4-bit weight type with its own kernels,
a veto for the Turing family and a selector clause."""

from marlin_core import hookimpl
from marlin_core.spec import CudaHeader, QuantConfig, SelectorClause, ThreadConfig
from marlin_core.types import ScalarType

# An unsigned 4-bit code with bias 7, a type no default plugin knows.
U4B7 = ScalarType("kU4B7", "u4b7", 0, 4, False, 7, label="uint4b7")


@hookimpl
def marlin_scalar_types():
    return [U4B7]


@hookimpl
def marlin_quant_configs():
    return [QuantConfig("example-u4b7", "kU4B7", ("kFloat16", "kBFloat16"), (-1, 8),
                        m_blocks=(0.5, 1, 2), thread_configs=(ThreadConfig(64, 128, 128),))]


@hookimpl
def marlin_check_combo(config, family):
    if config.scheme == "example-u4b7" and family.name == "sm75":
        return "example-u4b7 is not tuned for Turing"
    return None


@hookimpl
def marlin_selector_clauses():
    return [SelectorClause("marlin: kU4B7 weights need 16-bit activations", a_type="kS8",
                           b_type="kU4B7")]


# Device code: kU4B7's dequantization through the WeightFormat extension point (code - 7).
DEQUANT = """#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include "marlin/weight_format.h"
namespace marlin {
template <>
struct WeightFormat<%dll> {
  static constexpr bool defined = true;
  static constexpr int bits = 4;
  template <bool bf16>
  static __device__ void dequant(uint32_t codes, uint32_t (&f)[2][2]) {
    const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};  // nibble i holds v[order[i]]
    float v[8];
    for (int i = 0; i < 8; ++i) v[order[i]] = float(int((codes >> (4 * i)) & 15u) - 7);
    for (int j = 0; j < 2; ++j)
      for (int h = 0; h < 2; ++h) {
        float lo = v[4 * j + 2 * h], hi = v[4 * j + 2 * h + 1];
        if constexpr (bf16) {
          __nv_bfloat162 x = __floats2bfloat162_rn(lo, hi);
          f[j][h] = *reinterpret_cast<uint32_t*>(&x);
        } else {
          half2 x = __floats2half2_rn(lo, hi);
          f[j][h] = *reinterpret_cast<uint32_t*>(&x);
        }
      }
  }
};
}  // namespace marlin
""" % U4B7.id


@hookimpl
def marlin_cuda_headers():
    return [CudaHeader("example_u4b7.cuh", DEQUANT)]
