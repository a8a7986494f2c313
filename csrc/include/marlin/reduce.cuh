// The k-warp reduction after the K loop that the 16-bit body (marlin_template.cuh) and the
// 8-bit-activation body (marlin_a8.cuh) share. Accumulator fragments are float[4] per (m block
// mb, tile j). (The split-K reduction that follows is still written out in both bodies: moved
// here it compiled to different machine code, and once measured 8-9% slower; docs/kernel.md.)
#pragma once
#include <cuda_runtime.h>

namespace marlin {
namespace reduce {

// Warps with warp_k > 0 hand their fragments to warp_k == 0 through `red` (shared memory of
// (K_WARPS - 1) * N_WARPS * MB * NJ * 32 float4), which adds them in warp_k order.
template <int K_WARPS, int N_WARPS, int MB, int NJ>
__device__ __forceinline__ void k_warps(float (&acc)[MB][NJ][4], float4* red, int warp_k, int warp_n, int lane) {
  if (warp_k > 0) {
#pragma unroll
    for (int mb = 0; mb < MB; ++mb)
#pragma unroll
      for (int j = 0; j < NJ; ++j)
        red[((((warp_k - 1) * N_WARPS + warp_n) * MB + mb) * NJ + j) * 32 + lane] =
            make_float4(acc[mb][j][0], acc[mb][j][1], acc[mb][j][2], acc[mb][j][3]);
  }
  __syncthreads();
  if (warp_k == 0) {
#pragma unroll 1
    for (int wk = 1; wk < K_WARPS; ++wk)
#pragma unroll
      for (int mb = 0; mb < MB; ++mb)
#pragma unroll
        for (int j = 0; j < NJ; ++j) {
          const float4 v = red[((((wk - 1) * N_WARPS + warp_n) * MB + mb) * NJ + j) * 32 + lane];
          acc[mb][j][0] += v.x;
          acc[mb][j][1] += v.y;
          acc[mb][j][2] += v.z;
          acc[mb][j][3] += v.w;
        }
  }
}

}  // namespace reduce
}  // namespace marlin
