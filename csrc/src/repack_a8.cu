// GPU repack of 4-bit weights into the 32x64 tile layout of the 8-bit-activation kernels
// (docs/kernel.md, "8-bit activations"). One thread per output word; bit-exact against
// marlin_core/runtime/a8.py:pack_a8_reference.
#include <cuda_runtime.h>

#include <cstdint>

#include "common.h"
#include "marlin/capi.h"
#include "marlin/layout_a8.h"

namespace marlin {
namespace {

// code of B(k, n): GPTQ-style int32 [K / 8, N] packed along K (LSB first), or AWQ int32
// [K, N / 8] (column j of a word in nibble (j % 2) * 4 + j / 2)
template <bool awq>
__device__ __forceinline__ uint32_t code4(const int32_t* __restrict__ in, int k, int n, int N) {
  if constexpr (!awq) {
    return (static_cast<uint32_t>(in[(size_t)(k / 8) * N + n]) >> (4 * (k % 8))) & 0xfu;
  } else {
    const int j = n % 8;
    return (static_cast<uint32_t>(in[(size_t)k * (N / 8) + n / 8]) >> (4 * ((j % 2) * 4 + j / 2))) & 0xfu;
  }
}

template <bool awq>
__global__ void repack_a8_kernel(const int32_t* __restrict__ in, int32_t* __restrict__ out, int K, int N) {
  const int n_tiles = N / kTileN;
  const size_t total = (size_t)(K / kTileKA8) * n_tiles * kTileWordsA8;
  for (size_t o = blockIdx.x * (size_t)blockDim.x + threadIdx.x; o < total; o += (size_t)gridDim.x * blockDim.x) {
    const size_t tile = o / kTileWordsA8;
    const int within = int(o % kTileWordsA8);
    const int kt = int(tile / n_tiles), nt = int(tile % n_tiles);
    const int h = within / 128, l = (within % 128) / 4, q = within % 4;
    const int j8 = 4 * h + q;  // n8 tile of the 64 columns
    const int col = nt * kTileN + 8 * j8 + l / 4;
    const int r = kt * kTileKA8 + 4 * (l % 4);
    uint32_t word = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      word |= code4<awq>(in, r + i, col, N) << (8 * i);            // nibble 2i: rows 4t + i
      word |= code4<awq>(in, r + 16 + i, col, N) << (8 * i + 4);   // nibble 2i+1: rows 16 + 4t + i
    }
    out[o] = static_cast<int32_t>(word);
  }
}

}  // namespace
}  // namespace marlin

extern "C" int marlin_repack_a8(const int32_t* qweight, int32_t* out, int32_t k, int32_t n, int32_t awq, void* stream) {
  using namespace marlin;
  if (k <= 0 || n <= 0 || k % kTileKA8 || n % kTileN)
    return host::fail("marlin_repack_a8: k = %d must be a positive multiple of %d and n = %d of %d", k, kTileKA8, n,
                      kTileN);
  if (!qweight || !out) return host::fail("marlin_repack_a8: NULL tensor");
  const size_t total = (size_t)(k / kTileKA8) * (n / kTileN) * kTileWordsA8;
  size_t blocks = (total + 255) / 256;
  if (blocks > 65535 * 4) blocks = 65535 * 4;
  cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  if (awq)
    repack_a8_kernel<true><<<int(blocks), 256, 0, s>>>(qweight, out, k, n);
  else
    repack_a8_kernel<false><<<int(blocks), 256, 0, s>>>(qweight, out, k, n);
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? 0 : host::cuda_fail(e, "marlin_repack_a8 launch");
}
