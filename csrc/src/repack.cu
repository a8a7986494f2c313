// GPU repack of checkpoint weight layouts into marlin's tile layout (docs/kernel.md), and the
// act-order column permutation of A. One thread per output word: simple and bit-exact against
// the torch reference packer in marlin_core/runtime/packing.py.
#include <cuda_runtime.h>

#include <cstdint>

#include "common.h"
#include "marlin/capi.h"
#include "marlin/layout.h"

namespace marlin {
namespace {

enum class Src { kGptq, kAwq };

template <Src src, int bits>
__device__ __forceinline__ uint32_t read_code(const int32_t* __restrict__ in, const int32_t* __restrict__ perm,
                                              int k, int n, int N) {
  constexpr int pack = 32 / bits;
  constexpr uint32_t mask = (1u << bits) - 1;
  if constexpr (src == Src::kGptq) {
    const int row = perm ? perm[k] : k;
    const uint32_t w = static_cast<uint32_t>(in[(size_t)(row / pack) * N + n]);
    return (w >> (bits * (row % pack))) & mask;
  } else {
    // AWQ packs 8 columns per word with column j in nibble inv[j], inv = [0,4,1,5,2,6,3,7]
    const uint32_t w = static_cast<uint32_t>(in[(size_t)k * (N / pack) + n / pack]);
    const int j = n % pack;
    const int nib = (j % 2) * 4 + j / 2;
    return (w >> (bits * nib)) & mask;
  }
}

template <Src src, int bits>
__global__ void repack_kernel(const int32_t* __restrict__ in, const int32_t* __restrict__ perm,
                              int32_t* __restrict__ out, int K, int N) {
  constexpr int T = tile_words(bits);
  const int n_tiles = N / kTileN;
  const size_t total = (size_t)(K / kTileK) * n_tiles * T;
  for (size_t o = blockIdx.x * (size_t)blockDim.x + threadIdx.x; o < total; o += (size_t)gridDim.x * blockDim.x) {
    const size_t tile = o / T;
    const int within = int(o % T);
    const int kt = int(tile / n_tiles), nt = int(tile % n_tiles);
    int t, w, half;
    if constexpr (bits == 4) {
      t = within / 4;
      w = within % 4;
      half = 0;
    } else {
      const int h = within / 128, rem = within % 128;
      t = rem / 4;
      w = 2 * h + (rem % 4) / 2;
      half = rem % 2;
    }
    const int c = nt * kTileN + 16 * w + t / 4;
    const int r = kt * kTileK + 2 * (t % 4);
    uint32_t word = 0;
    if constexpr (bits == 4) {
      // v = [B(r,c), B(r+1,c), B(r+8,c), B(r+9,c), B(r,c+8), B(r+1,c+8), B(r+8,c+8), B(r+9,c+8)]
      // nibble i holds v[order[i]], order = [0,2,4,6,1,3,5,7]
      const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
      const int dr[4] = {0, 1, 8, 9};
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const int vi = order[i];
        const int col = c + 8 * (vi / 4);
        const int row = r + dr[vi % 4];
        word |= read_code<src, bits>(in, perm, row, col, N) << (4 * i);
      }
    } else {
      const int dr[4] = {0, 1, 8, 9};
      const int col = c + 8 * half;
#pragma unroll
      for (int i = 0; i < 4; ++i) word |= read_code<src, bits>(in, perm, r + dr[i], col, N) << (8 * i);
    }
    out[o] = static_cast<int32_t>(word);
  }
}

template <typename T>
__global__ void permute_cols_kernel(const T* __restrict__ a, int64_t lda, const int32_t* __restrict__ perm,
                                    T* __restrict__ out, int M, int K) {
  const size_t total = (size_t)M * K;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
    const size_t m = i / K;
    const int k = int(i % K);
    out[i] = a[m * lda + perm[k]];
  }
}

int launch_blocks(size_t total) {
  size_t b = (total + 255) / 256;
  return int(b > 65535 * 4 ? 65535 * 4 : (b == 0 ? 1 : b));
}

int check_shape(int k, int n) {
  if (k <= 0 || n <= 0 || k % kTileK || n % kTileN)
    return host::fail("marlin repack: k = %d must be a positive multiple of %d and n = %d of %d", k, kTileK, n, kTileN);
  return 0;
}

}  // namespace
}  // namespace marlin

extern "C" {

int marlin_repack_gptq(const int32_t* qweight, const int32_t* perm, int32_t* out, int32_t k, int32_t n,
                       int32_t num_bits, void* stream) {
  using namespace marlin;
  if (check_shape(k, n)) return 1;
  if (num_bits != 4 && num_bits != 8) return host::fail("marlin_repack_gptq: num_bits = %d must be 4 or 8", num_bits);
  if (!qweight || !out) return host::fail("marlin_repack_gptq: NULL tensor");
  const size_t total = (size_t)(k / kTileK) * (n / kTileN) * tile_words(num_bits);
  cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  if (num_bits == 4)
    repack_kernel<Src::kGptq, 4><<<launch_blocks(total), 256, 0, s>>>(qweight, perm, out, k, n);
  else
    repack_kernel<Src::kGptq, 8><<<launch_blocks(total), 256, 0, s>>>(qweight, perm, out, k, n);
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? 0 : host::cuda_fail(e, "marlin_repack_gptq launch");
}

int marlin_repack_awq(const int32_t* qweight, int32_t* out, int32_t k, int32_t n, int32_t num_bits, void* stream) {
  using namespace marlin;
  if (check_shape(k, n)) return 1;
  if (num_bits != 4) return host::fail("marlin_repack_awq: num_bits = %d, only 4-bit AWQ is supported", num_bits);
  if (!qweight || !out) return host::fail("marlin_repack_awq: NULL tensor");
  const size_t total = (size_t)(k / kTileK) * (n / kTileN) * tile_words(num_bits);
  repack_kernel<Src::kAwq, 4>
      <<<launch_blocks(total), 256, 0, reinterpret_cast<cudaStream_t>(stream)>>>(qweight, nullptr, out, k, n);
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? 0 : host::cuda_fail(e, "marlin_repack_awq launch");
}

int marlin_permute_cols(const void* a, int64_t lda, const int32_t* perm, void* out, int32_t m, int32_t k,
                        void* stream) {
  using namespace marlin;
  if (!a || !perm || !out) return host::fail("marlin_permute_cols: NULL tensor");
  if (m <= 0 || k <= 0) return 0;
  const size_t total = (size_t)m * k;
  permute_cols_kernel<uint16_t><<<launch_blocks(total), 256, 0, reinterpret_cast<cudaStream_t>(stream)>>>(
      reinterpret_cast<const uint16_t*>(a), lda, perm, reinterpret_cast<uint16_t*>(out), m, k);
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? 0 : host::cuda_fail(e, "marlin_permute_cols launch");
}

}  // extern "C"
