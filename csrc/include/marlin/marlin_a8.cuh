// The kernel body for 8-bit activations (W4A8): A is int8 (kS8) or fp8 e4m3 (kFE4M3fn) with a
// float32 scale per row (KernelParams::a_scales); B is 4-bit (kU4 + integer zero points, kU4B8,
// or kFE2M1f with e8m0 scales = MXFP4, fp8 activations only); C is fp16 or bf16.
//
// Differences from the 16-bit body (marlin_template.cuh), see docs/kernel.md "8-bit activations":
//   * MMA m16n8k32 (s8.s8.s32, or e4m3.e4m3.f32 from sm89; sm75: four m8n8k16 s8). Its A
//     fragment is a 16x32 byte tile, i.e. the same ldmatrix.x4 of a 16x16 b16 tile, so A is
//     staged exactly like 16-bit A with 16 elements per 16-byte chunk (swizzle adapted to 4
//     chunks per row when BK = 64).
//   * B is packed in 32x64 tiles whose per-lane words hold the k32 B fragment (kernel.md); the
//     weights become s8 (q - z) or e4m3 ((q - z) exactly, or e2m1 * 2^-6) in registers.
//   * Every default thread config gives each warp exactly one k32 sub-tile per stage.
//   * Group scales: the MMA of one k32 sub-tile starts from zero and its int32 (fp32 for fp8)
//     result is converted and added to the fp32 accumulator times the column's scale
//     (group sizes are multiples of 32, so a sub-tile never straddles two groups). Per-channel
//     scales: the MMAs accumulate over the whole K slice (int32 for int8), the scale is
//     applied once after the K loop. The per-row activation scale is applied at the store.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <type_traits>

#include "marlin/dequant.cuh"
#include "marlin/kernel.h"
#include "marlin/layout_a8.h"
#include "marlin/ptx.cuh"
#include "marlin/reduce.cuh"

namespace marlin {

// Template instances with an 8-bit-activation body.
template <ScalarTypeId a, ScalarTypeId b, ScalarTypeId c, ScalarTypeId s, int group_blocks, bool is_zp_float>
constexpr bool a8_body_supported() {
  constexpr bool c16 = c == type_id::kFloat16 || c == type_id::kBFloat16;
  constexpr bool gb_ok = group_blocks == -1 || group_blocks == 2 || group_blocks == 4 || group_blocks == 8;
  constexpr bool int4w = (b == type_id::kU4 || b == type_id::kU4B8) && s == c && c16 && gb_ok;
  constexpr bool mxfp4 =
      b == type_id::kFE2M1f && s == type_id::kFE8M0fnu && c == type_id::kBFloat16 && group_blocks == 2;
  if constexpr (is_zp_float) return false;
  if constexpr (a == type_id::kS8) return int4w;
  if constexpr (a == type_id::kFE4M3fn) return int4w || mxfp4;
  return false;
}

namespace a8 {

// ---- tensor-core MMAs, D = A(16x32, row) * B(32x8, col) + C

__device__ __forceinline__ void mma_s8(const uint32_t (&a)[4], const uint32_t (&b)[2], const int (&c)[4], int (&d)[4]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(c[0]), "r"(c[1]), "r"(c[2]),
        "r"(c[3]));
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 750
  // sm75: m8n8k16. a0/a2 are rows 0-7 (k 0-15 / 16-31), a1/a3 rows 8-15; b0 is k 0-15, b1 k 16-31;
  // d0,d1 rows 0-7, d2,d3 rows 8-15 (the m16n8k32 fragments split exactly this way).
  int t[4];
  asm("mma.sync.aligned.m8n8k16.row.col.s32.s8.s8.s32 {%0,%1}, {%2}, {%3}, {%4,%5};\n"
      : "=r"(t[0]), "=r"(t[1]) : "r"(a[0]), "r"(b[0]), "r"(c[0]), "r"(c[1]));
  asm("mma.sync.aligned.m8n8k16.row.col.s32.s8.s8.s32 {%0,%1}, {%2}, {%3}, {%4,%5};\n"
      : "=r"(t[2]), "=r"(t[3]) : "r"(a[1]), "r"(b[0]), "r"(c[2]), "r"(c[3]));
  asm("mma.sync.aligned.m8n8k16.row.col.s32.s8.s8.s32 {%0,%1}, {%2}, {%3}, {%4,%5};\n"
      : "=r"(d[0]), "=r"(d[1]) : "r"(a[2]), "r"(b[1]), "r"(t[0]), "r"(t[1]));
  asm("mma.sync.aligned.m8n8k16.row.col.s32.s8.s8.s32 {%0,%1}, {%2}, {%3}, {%4,%5};\n"
      : "=r"(d[2]), "=r"(d[3]) : "r"(a[3]), "r"(b[1]), "r"(t[2]), "r"(t[3]));
#else
  __trap();
#endif
}

__device__ __forceinline__ void mma_e4m3(const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4],
                                         float (&d)[4]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  asm("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#else
  __trap();  // no fp8 tensor cores before sm89; the body is compiled out there anyway
#endif
}

// ---- weights: one 4-bit word of the 32x64 tile layout -> the two B registers of an n8 tile.
// Word nibble 2i holds B(4t + i, col), nibble 2i + 1 holds B(16 + 4t + i, col) (t = lane % 4),
// so `x & 0x0f0f0f0f` are the 4 bytes of register 0 and `(x >> 4) & 0x0f0f0f0f` of register 1.

// s8: per byte (q | 0x80) - z never borrows (0x80 + q >= 128 > z), XOR 0x80 gives q - z.
__device__ __forceinline__ void weights_s8(uint32_t x, uint32_t z4, uint32_t (&b)[2]) {
  const uint32_t m = 0x0f0f0f0fu, h = 0x80808080u;
  b[0] = (and_or(x, m, h) - z4) ^ h;
  b[1] = (and_or(x >> 4, m, h) - z4) ^ h;
}

// e4m3 of q - z (|q - z| <= 15: exact in e4m3): the bytes become fp16 1024 + q (prmt under a
// 0x64 high byte), one hsub2 of 1024 + z, then the fp16x2 -> e4m3x2 conversion.
__device__ __forceinline__ uint32_t int4_bytes_to_e4m3(uint32_t n, half2 sub) {
  using F = Float16Type<type_id::kFloat16>;
  const uint32_t lo = bits_of(__hsub2(F::from_bits(ptx::prmt(n, 0x64646464u, 0x4140)), sub));
  const uint32_t hi = bits_of(__hsub2(F::from_bits(ptx::prmt(n, 0x64646464u, 0x4342)), sub));
  __half2_raw rl, rh;
  rl.x = static_cast<unsigned short>(lo & 0xffff);
  rl.y = static_cast<unsigned short>(lo >> 16);
  rh.x = static_cast<unsigned short>(hi & 0xffff);
  rh.y = static_cast<unsigned short>(hi >> 16);
  const uint32_t el = __nv_cvt_halfraw2_to_fp8x2(rl, __NV_SATFINITE, __NV_E4M3);
  const uint32_t eh = __nv_cvt_halfraw2_to_fp8x2(rh, __NV_SATFINITE, __NV_E4M3);
  return el | (eh << 16);
}

__device__ __forceinline__ void weights_e4m3_int4(uint32_t x, half2 sub, uint32_t (&b)[2]) {
  b[0] = int4_bytes_to_e4m3(x & 0x0f0f0f0fu, sub);
  b[1] = int4_bytes_to_e4m3((x >> 4) & 0x0f0f0f0fu, sub);
}

// e2m1 code s|e1 e0|m -> the e4m3 byte s|0 0 e1 e0|m 0 0, whose value is exactly the e2m1 value
// times 2^-6 for every code (normal: 2^(e-7) (1 + m/2) vs 2^(e-1) (1 + m/2); subnormal:
// 2^-6 m/2 vs m/2). The kernel multiplies the e8m0 scale by 2^6.
__device__ __forceinline__ uint32_t e2m1_bytes_to_e4m3(uint32_t n) {
  return ((n & 0x08080808u) << 4) | ((n & 0x07070707u) << 2);
}

__device__ __forceinline__ void weights_e4m3_fp4(uint32_t x, uint32_t (&b)[2]) {
  b[0] = e2m1_bytes_to_e4m3(x & 0x0f0f0f0fu);
  b[1] = e2m1_bytes_to_e4m3((x >> 4) & 0x0f0f0f0fu);
}

// e8m0 (bias 127) -> float, times 2^6 for the e2m1 -> e4m3 factor above. Code 0 is 2^-127 (a
// subnormal float).
__device__ __forceinline__ float e8m0_scale(uint32_t e) {
  const float s = e ? __uint_as_float(e << 23) : __uint_as_float(0x00400000u);
  return s * 64.0f;
}

// Raw scale words of a lane (8 words for 16-bit scales, 4 for e8m0) and the float pair of n8 tile
// j (columns 8 j + 2 t and 8 j + 2 t + 1), converted where it is used (fewer live registers).
template <ScalarTypeId s_type_id>
__device__ __forceinline__ void load_scale_words(const void* src, uint32_t (&w)[8]) {
  const uint4 v0 = reinterpret_cast<const uint4*>(src)[0];
  w[0] = v0.x, w[1] = v0.y, w[2] = v0.z, w[3] = v0.w;
  if constexpr (s_type_id != type_id::kFE8M0fnu) {
    const uint4 v1 = reinterpret_cast<const uint4*>(src)[1];
    w[4] = v1.x, w[5] = v1.y, w[6] = v1.z, w[7] = v1.w;
  }
}

template <ScalarTypeId s_type_id>
__device__ __forceinline__ float2 scale_pair(const uint32_t (&w)[8], int j) {
  if constexpr (s_type_id == type_id::kFE8M0fnu) {
    const uint32_t h = w[j / 2] >> (16 * (j % 2));
    return make_float2(e8m0_scale(h & 0xff), e8m0_scale((h >> 8) & 0xff));
  } else {
    using F = Float16Type<s_type_id>;
    return F::to_floats(F::from_bits(w[j]));
  }
}

}  // namespace a8

namespace detail {

template <ScalarTypeId a_type_id, ScalarTypeId b_type_id, ScalarTypeId c_type_id, ScalarTypeId s_type_id,
          int threads, int thread_m_blocks, int thread_n_blocks, int thread_k_blocks, int stages, int group_blocks>
__device__ __forceinline__ void marlin_body_a8(const KernelParams& p) {
  using F = Float16Type<c_type_id>;
  using T = typename F::T;
  using T2 = typename F::T2;
  constexpr bool fp8 = a_type_id == type_id::kFE4M3fn;
  constexpr bool fp4w = b_type_id == type_id::kFE2M1f;
  constexpr bool has_zp = b_type_id == type_id::kU4;
  constexpr uint32_t fixed_zp = b_type_id == type_id::kU4B8 ? 8u : 0u;
  constexpr int S_BYTES = s_type_id == type_id::kFE8M0fnu ? 1 : 2;
  constexpr bool grouped = group_blocks > 0;
  // main-loop accumulator: int32 for int8 per-channel, fp32 otherwise
  using Acc = std::conditional_t<(!fp8 && !grouped), int, float>;
  constexpr int MB = thread_m_blocks;
  constexpr int BM = 16 * MB;
  constexpr int BN = 16 * thread_n_blocks;
  constexpr int BK = 16 * thread_k_blocks;
  constexpr int WARPS = threads / 32;
  constexpr int N_WARPS = BN / 64;
  constexpr int K_WARPS = WARPS / N_WARPS;
  constexpr int K32 = BK / 32;                   // k32 sub-tiles per stage
  constexpr int KSUB = K32 / K_WARPS;            // ... per warp
  constexpr int A_CHR = BK / 16;                 // 16-byte chunks per A row
  constexpr int TILE_I4 = kTileWordsA8 / 4;      // int4 per 32x64 B tile
  constexpr int SROWS = a8_scale_rows(thread_k_blocks, group_blocks);
  constexpr int ZROWS = SROWS > 0 ? SROWS : 1;
  constexpr SmemModelA8 SM =
      smem_model_a8(S_BYTES, threads, thread_m_blocks, thread_n_blocks, thread_k_blocks, stages, group_blocks, has_zp);
  static_assert(BN % 64 == 0 && N_WARPS >= 1 && WARPS % N_WARPS == 0, "bad thread_n_blocks / threads");
  static_assert(K32 % K_WARPS == 0 && KSUB >= 1, "bad thread_k_blocks / threads");
  static_assert(A_CHR == 4 || A_CHR == 8, "A swizzle assumes 4 or 8 chunks per row");
  static_assert(stages >= 2, "need at least two stages");

  // A swizzle: chunk ^ swz(row), conflict-free for 8 consecutive rows of ldmatrix
  auto swz = [](int row) { return A_CHR == 8 ? row % 8 : (row / 2) % 4; };

  extern __shared__ int4 smem4[];
  char* smem = reinterpret_cast<char*>(smem4);

  const int tid = threadIdx.x;
  const int lane = tid % 32;
  const int warp = tid / 32;
  const int warp_n = warp % N_WARPS;
  const int warp_k = warp / N_WARPS;

  const int prob_m = p.prob_m, prob_n = p.prob_n, prob_k = p.prob_k;
  const int m_tiles = (prob_m + BM - 1) / BM;
  const int n_tiles = prob_n / BN;
  const int tiles = m_tiles * n_tiles;
  const int slices = gridDim.x / tiles;
  const int tile = blockIdx.x / slices;
  const int slice = blockIdx.x % slices;
  if (tile >= tiles) return;
  const int n_tile = tile / m_tiles;
  const int m_tile = tile % m_tiles;
  const int m_base = m_tile * BM;
  const int n_base = n_tile * BN;
  const int k_iters = (prob_k + BK - 1) / BK;
  const int iters_per_slice = (k_iters + slices - 1) / slices;
  const int it_begin = min(k_iters, slice * iters_per_slice);
  const int it_end = min(k_iters, it_begin + iters_per_slice);
  const int k32_total = prob_k / 32;

  const int8_t* A = reinterpret_cast<const int8_t*>(p.A);
  const int4* B = reinterpret_cast<const int4*>(p.B);
  const char* S = reinterpret_cast<const char*>(p.scales);
  const int* Z = reinterpret_cast<const int*>(p.zp);

  auto stage_ptr = [&](int st) { return smem + st * SM.stage_bytes; };

  // A copy assignment: chunk a_c of rows a_r0 + j * A_ROW_STEP (A_ROW_STEP % 8 == 0, so the
  // swizzle is the same for all of a thread's rows)
  constexpr int A_CH = BM * A_CHR;
  constexpr int A_ITERS = (A_CH + threads - 1) / threads;
  constexpr int A_ROW_STEP = threads / A_CHR;
  static_assert(threads % A_CHR == 0 && A_ROW_STEP % 8 == 0, "A copy pattern");
  const int a_r0 = tid / A_CHR, a_c = tid % A_CHR;
  const int a_rows_left = prob_m - m_base - a_r0;
  const int8_t* a_ptr = A + (a_rows_left > 0 ? (size_t)(m_base + a_r0) * p.lda + a_c * 16 : 0);
  const size_t a_row_step = (size_t)A_ROW_STEP * p.lda;
  const int a_dst0 = a_r0 * A_CHR + (a_c ^ swz(a_r0));
  // B: a k32 row of tiles is (prob_n / 64) tiles; this block's part is N_WARPS contiguous tiles
  constexpr int B_CH_ROW = N_WARPS * TILE_I4;
  constexpr int B_CH = K32 * B_CH_ROW;
  constexpr int B_ITERS = (B_CH + threads - 1) / threads;
  const size_t b_row = (size_t)(prob_n / 64) * TILE_I4;
  const int4* b_base = B + (size_t)(n_base / 64) * TILE_I4;

  auto fetch = [&](int it, int st) {
    char* base = stage_ptr(st);
    const int k0 = it * BK;
    {
      int4* sa = reinterpret_cast<int4*>(base);
      const bool kok = k0 + a_c * 16 < prob_k;
#pragma unroll
      for (int j = 0; j < A_ITERS; ++j) {
        if (A_CH % threads == 0 || j * threads + tid < A_CH) {
          const bool pred = kok && j * A_ROW_STEP < a_rows_left;
          const int8_t* src = pred ? a_ptr + j * a_row_step + k0 : A;
          ptx::cp_async16(sa + a_dst0 + j * A_ROW_STEP * A_CHR, src, pred);
        }
      }
    }
    {
      int4* sb = reinterpret_cast<int4*>(base + SM.a_bytes);
      const int kt0 = k0 / 32;
#pragma unroll
      for (int j = 0; j < B_ITERS; ++j) {
        const int i = j * threads + tid;
        if (B_CH % threads == 0 || i < B_CH) {
          const int r = i / B_CH_ROW, cc = i % B_CH_ROW;
          const bool pred = kt0 + r < k32_total;
          ptx::cp_async16(sb + i, pred ? b_base + (size_t)(kt0 + r) * b_row + cc : B, pred);
        }
      }
    }
    const int g0 = grouped ? k0 / (16 * group_blocks) : 0;
    if constexpr (grouped) {
      int4* ss = reinterpret_cast<int4*>(base + SM.a_bytes + SM.b_bytes);
      constexpr int CH_ROW = BN * S_BYTES / 16;
      for (int i = tid; i < SROWS * CH_ROW; i += threads) {
        const int r = i / CH_ROW, cc = i % CH_ROW;
        const int g = g0 + r;
        const bool pred = g < p.num_groups;
        const char* src = pred ? S + ((size_t)g * prob_n + n_base) * S_BYTES + cc * 16 : S;
        ptx::cp_async16(ss + i, src, pred);
      }
    }
    if constexpr (has_zp) {
      // packed int4 zero points [num_groups, N / 8] int32 (kernel.md), 32 columns per chunk
      int4* sz = reinterpret_cast<int4*>(base + SM.a_bytes + SM.b_bytes + SM.s_bytes);
      constexpr int ZCH_ROW = BN / 32;
      for (int i = tid; i < ZROWS * ZCH_ROW; i += threads) {
        const int r = i / ZCH_ROW, cc = i % ZCH_ROW;
        const int g = g0 + r;
        const bool pred = g < p.num_groups;
        const int* src = pred ? Z + (size_t)g * (prob_n / 8) + n_base / 8 + cc * 4 : Z;
        ptx::cp_async16(sz + i, src, pred);
      }
    }
  };

  Acc acc0[MB][8][4];
#pragma unroll
  for (int mb = 0; mb < MB; ++mb)
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc0[mb][j][e] = Acc(0);

  const int g_lane = lane / 4, t_lane = lane % 4;

  auto compute = [&](int it, int st) {
    const char* base = stage_ptr(st);
    const int4* sa = reinterpret_cast<const int4*>(base);
    const int4* sb = reinterpret_cast<const int4*>(base + SM.a_bytes);
    const int k0 = it * BK;
#pragma unroll
    for (int kk = 0; kk < KSUB; ++kk) {
      const int ks = warp_k * KSUB + kk;  // k32 sub-tile within the K tile
      if (k0 / 32 + ks >= k32_total) break;  // K tail (warp-uniform)
      uint32_t fa[MB][4];
#pragma unroll
      for (int mb = 0; mb < MB; ++mb) {
        const int r = mb * 16 + lane % 16, cch = ks * 2 + lane / 16;
        ptx::ldsm_x4(fa[mb], sa + r * A_CHR + (cch ^ swz(r)));
      }
      const int4* tb = sb + (ks * N_WARPS + warp_n) * TILE_I4;
      const int4 v0 = tb[lane], v1 = tb[32 + lane];
      const uint32_t bq[8] = {(uint32_t)v0.x, (uint32_t)v0.y, (uint32_t)v0.z, (uint32_t)v0.w,
                              (uint32_t)v1.x, (uint32_t)v1.y, (uint32_t)v1.z, (uint32_t)v1.w};
      const int srow = SROWS > 1 ? (2 * ks) / group_blocks : 0;
      uint32_t zw = 0;
      if constexpr (has_zp) {
        const uint32_t* sz = reinterpret_cast<const uint32_t*>(base + SM.a_bytes + SM.b_bytes + SM.s_bytes);
        zw = sz[srow * (BN / 8) + warp_n * 8 + g_lane];  // nibble j: zero point of n8 tile j's column
      }
      uint32_t sw[8];
      if constexpr (grouped)
        a8::load_scale_words<s_type_id>(
            base + SM.a_bytes + SM.b_bytes + (srow * BN + warp_n * 64 + 16 * t_lane) * S_BYTES, sw);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const uint32_t z = has_zp ? (zw >> (4 * j)) & 0xfu : fixed_zp;
        uint32_t b[2];
        float2 s2 = make_float2(0.f, 0.f);
        if constexpr (grouped) s2 = a8::scale_pair<s_type_id>(sw, j);
        if constexpr (fp4w) {
          a8::weights_e4m3_fp4(bq[j], b);
        } else if constexpr (fp8) {
          a8::weights_e4m3_int4(bq[j], Float16Type<type_id::kFloat16>::from_bits(dup16(0x6400u + z)), b);
        } else {
          a8::weights_s8(bq[j], z * 0x01010101u, b);
        }
#pragma unroll
        for (int mb = 0; mb < MB; ++mb) {
          if constexpr (grouped) {
            // this k32 sub-tile's partial, then acc += partial * scale (exact int32 -> fp32:
            // |partial| <= 32 * 127 * 15 < 2^24)
            if constexpr (fp8) {
              const float zero[4] = {0.f, 0.f, 0.f, 0.f};
              float d[4];
              a8::mma_e4m3(fa[mb], b, zero, d);
#pragma unroll
              for (int e = 0; e < 4; ++e) acc0[mb][j][e] = fmaf(d[e], e & 1 ? s2.y : s2.x, acc0[mb][j][e]);
            } else {
              const int zero[4] = {0, 0, 0, 0};
              int d[4];
              a8::mma_s8(fa[mb], b, zero, d);
#pragma unroll
              for (int e = 0; e < 4; ++e)
                acc0[mb][j][e] = fmaf(__int2float_rn(d[e]), e & 1 ? s2.y : s2.x, acc0[mb][j][e]);
            }
          } else {
            if constexpr (fp8) {
              a8::mma_e4m3(fa[mb], b, acc0[mb][j], acc0[mb][j]);
            } else {
              a8::mma_s8(fa[mb], b, acc0[mb][j], acc0[mb][j]);
            }
          }
        }
      }
    }
  };

  // ---- the pipelined K loop (as in the 16-bit body: one commit group per step, even empty)
#pragma unroll
  for (int s = 0; s < stages - 1; ++s) {
    if (it_begin + s < it_end) fetch(it_begin + s, s);
    ptx::cp_async_commit();
  }
  int st = 0;
  for (int it = it_begin; it < it_end; ++it) {
    ptx::cp_async_wait<stages - 2>();
    __syncthreads();
    {
      const int nxt = it + stages - 1;
      int nst = st + stages - 1;
      if (nst >= stages) nst -= stages;
      if (nxt < it_end) fetch(nxt, nst);
      ptx::cp_async_commit();
    }
    compute(it, st);
    st = st + 1 == stages ? 0 : st + 1;
  }
  ptx::cp_async_wait<0>();
  __syncthreads();

  // ---- fp32 accumulators; per-channel scales applied here (once per slice)
  float acc[MB][8][4];
  if constexpr (grouped) {
#pragma unroll
    for (int mb = 0; mb < MB; ++mb)
#pragma unroll
      for (int j = 0; j < 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[mb][j][e] = float(acc0[mb][j][e]);
  } else {
    uint32_t sw[8];
    a8::load_scale_words<s_type_id>(S + ((size_t)n_base + warp_n * 64 + 16 * t_lane) * S_BYTES, sw);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const float2 s2 = a8::scale_pair<s_type_id>(sw, j);
#pragma unroll
      for (int mb = 0; mb < MB; ++mb)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[mb][j][e] = float(acc0[mb][j][e]) * (e & 1 ? s2.y : s2.x);
    }
  }

  // ---- sum the k warps in fixed order (shared memory reused)
  if constexpr (K_WARPS > 1)
    reduce::k_warps<K_WARPS, N_WARPS, MB, 8>(acc, reinterpret_cast<float4*>(smem), warp_k, warp_n, lane);

  // C[row, col:col+2] = (v0, v1) * a_scale[row] + bias, rows >= prob_m skipped
  auto store_pair = [&](int row, int col, float v0, float v1) {
    if (row >= prob_m) return;
    const float as = p.a_scales[row];
    v0 *= as;
    v1 *= as;
    if (p.has_bias) {
      const float2 bb = F::to_floats(*reinterpret_cast<const T2*>(reinterpret_cast<const T*>(p.bias) + col));
      v0 += bb.x;
      v1 += bb.y;
    }
    *reinterpret_cast<T2*>(reinterpret_cast<T*>(p.C) + (size_t)row * prob_n + col) = F::from_floats(v0, v1);
  };

  // ---- global reduction over K slices: partials in fragment order, the last block to arrive
  // sums them in slice order (bit-identical run to run)
  if (slices > 1) {
    const size_t slot_floats = (size_t)partial_floats(thread_m_blocks, thread_n_blocks);
    __shared__ int is_last;
    if (warp_k == 0) {
      if (p.use_fp32_reduce) {
        float4* part = reinterpret_cast<float4*>(p.C_tmp + ((size_t)tile * slices + slice) * slot_floats);
#pragma unroll
        for (int mb = 0; mb < MB; ++mb)
#pragma unroll
          for (int j = 0; j < 8; ++j)
            __stcg(part + ((warp_n * MB + mb) * 8 + j) * 32 + lane,
                   make_float4(acc[mb][j][0], acc[mb][j][1], acc[mb][j][2], acc[mb][j][3]));
      } else {
        uint2* part = reinterpret_cast<uint2*>(p.C_tmp) + ((size_t)tile * slices + slice) * slot_floats / 4;
#pragma unroll
        for (int mb = 0; mb < MB; ++mb)
#pragma unroll
          for (int j = 0; j < 8; ++j) {
            uint2 v;
            v.x = bits_of(F::from_floats(acc[mb][j][0], acc[mb][j][1]));
            v.y = bits_of(F::from_floats(acc[mb][j][2], acc[mb][j][3]));
            __stcg(part + ((warp_n * MB + mb) * 8 + j) * 32 + lane, v);
          }
      }
    }
    __threadfence();
    __syncthreads();
    if (tid == 0) is_last = atomicAdd(p.locks + tile, 1) == slices - 1;
    __syncthreads();
    if (!is_last) return;
    __threadfence();
    constexpr int NF4 = N_WARPS * MB * 8 * 32;
    for (int idx = tid; idx < NF4; idx += threads) {
      float4 sum = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 1
      for (int s0 = 0; s0 < slices; s0 += 8) {
        float4 v[8];
#pragma unroll
        for (int u = 0; u < 8; ++u) {
          const int sl = s0 + u;
          if (sl < slices) {
            if (p.use_fp32_reduce) {
              v[u] = __ldcg(reinterpret_cast<const float4*>(p.C_tmp + ((size_t)tile * slices + sl) * slot_floats) + idx);
            } else {
              const uint2 h =
                  __ldcg(reinterpret_cast<const uint2*>(p.C_tmp) + ((size_t)tile * slices + sl) * slot_floats / 4 + idx);
              const float2 lo = F::to_floats(F::from_bits(h.x)), hi = F::to_floats(F::from_bits(h.y));
              v[u] = make_float4(lo.x, lo.y, hi.x, hi.y);
            }
          }
        }
#pragma unroll
        for (int u = 0; u < 8; ++u) {
          if (s0 + u < slices) {
            sum.x += v[u].x;
            sum.y += v[u].y;
            sum.z += v[u].z;
            sum.w += v[u].w;
          }
        }
      }
      const int ln = idx % 32, j = (idx / 32) % 8, mb = (idx / 256) % MB, wn = idx / (256 * MB);
      const int col = n_base + wn * 64 + 8 * j + 2 * (ln % 4);
      const int row0 = m_base + mb * 16 + ln / 4;
      store_pair(row0, col, sum.x, sum.y);
      store_pair(row0 + 8, col, sum.z, sum.w);
    }
    if (tid == 0) p.locks[tile] = 0;
    return;
  }

  if (warp_k == 0) {
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int col = n_base + warp_n * 64 + 8 * j + 2 * t_lane;
#pragma unroll
      for (int mb = 0; mb < MB; ++mb) {
        const int row0 = m_base + mb * 16 + g_lane;
        store_pair(row0, col, acc[mb][j][0], acc[mb][j][1]);
        store_pair(row0 + 8, col, acc[mb][j][2], acc[mb][j][3]);
      }
    }
  }
}

}  // namespace detail

// Entry from Marlin(): compile-time arch guards. fp8 activations need sm89 tensor cores; bf16
// output and the 8-row tile are never generated for sm75 / 8-bit activations (the host refuses).
template <ScalarTypeId a_type_id, ScalarTypeId b_type_id, ScalarTypeId c_type_id, ScalarTypeId s_type_id,
          int threads, int thread_m_blocks, int thread_n_blocks, int thread_k_blocks, bool m_block_size_8,
          int stages, int group_blocks>
__device__ __forceinline__ void marlin_a8_entry(const KernelParams& params) {
  if constexpr (m_block_size_8) {
    __trap();
  } else if constexpr (a_type_id == type_id::kFE4M3fn) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
    detail::marlin_body_a8<a_type_id, b_type_id, c_type_id, s_type_id, threads, thread_m_blocks, thread_n_blocks,
                           thread_k_blocks, stages, group_blocks>(params);
#else
    __trap();
#endif
  } else {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    if constexpr (c_type_id == type_id::kBFloat16) {
      __trap();
    } else
#endif
    {
      detail::marlin_body_a8<a_type_id, b_type_id, c_type_id, s_type_id, threads, thread_m_blocks, thread_n_blocks,
                             thread_k_blocks, stages, group_blocks>(params);
    }
  }
}

}  // namespace marlin
