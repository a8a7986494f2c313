// Register dequantization of one lane's B fragments for one 16x16 sub-block (two n8 MMAs).
//
// The tile layout (docs/kernel.md) hands each lane, per 16-column sub-block, the 8 codes
//   v = [B(r,c), B(r+1,c), B(r+8,c), B(r+9,c), B(r,c+8), B(r+1,c+8), B(r+8,c+8), B(r+9,c+8)]
// with r = 2*(lane%4), c = lane/4. Output f[j][h] is the mma.sync B register h of the n8 tile j
// (j = 0: column c, j = 1: column c+8; h = 0: rows r,r+1; h = 1: rows r+8,r+9), holding
// exactly (q - bias) as a 16-bit float pair. The bias per column is an integer: 8 (u4b8), 128
// (u8b128), the integer zero point (u4 with zp) or 0 (u4 with float zero points). Every value
// is exact: the code is placed in the mantissa of a float with a known exponent (OR with a
// magic exponent), and one float op removes magic and bias together.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "marlin/ptx.cuh"
#include "marlin/scalar_type.h"

namespace marlin {

template <ScalarTypeId t>
struct Float16Type;
template <>
struct Float16Type<type_id::kFloat16> {
  using T = half;
  using T2 = half2;
  static constexpr bool bf16 = false;
  static __device__ __forceinline__ T2 from_bits(uint32_t x) { return *reinterpret_cast<T2*>(&x); }
  static __device__ __forceinline__ T2 from_floats(float a, float b) { return __floats2half2_rn(a, b); }
  static __device__ __forceinline__ float2 to_floats(T2 x) { return __half22float2(x); }
};
template <>
struct Float16Type<type_id::kBFloat16> {
  using T = __nv_bfloat16;
  using T2 = __nv_bfloat162;
  static constexpr bool bf16 = true;
  static __device__ __forceinline__ T2 from_bits(uint32_t x) { return *reinterpret_cast<T2*>(&x); }
  static __device__ __forceinline__ T2 from_floats(float a, float b) { return __floats2bfloat162_rn(a, b); }
  static __device__ __forceinline__ float2 to_floats(T2 x) { return __bfloat1622float2(x); }
};

template <typename T2>
__device__ __forceinline__ uint32_t bits_of(T2 x) {
  return *reinterpret_cast<uint32_t*>(&x);
}

__device__ __forceinline__ uint32_t dup16(uint32_t h) { return h | (h << 16); }

// (x & mask) | magic, as one lop3
__device__ __forceinline__ uint32_t and_or(uint32_t x, uint32_t mask, uint32_t magic) {
  return ptx::lop3<(0xf0 & 0xcc) | 0xaa>(x, mask, magic);
}

// The constants that remove magic and bias for a sub-block's two columns (c and c + 8, integer
// biases b_c, b_c8), in both halves: fp16 1024 + b (bits 0x6400 + b) for the low nibble and
// -(64 + b) (bits 0xd400 + 16 b, b < 64) for the high one; bf16 128 + b (bits 0x4300 + b). One
// multiply-add each; with runtime zero points the caller makes them once per group row.
struct Bias4 {
  uint32_t sub_c, sub_c8, nhi_c, nhi_c8;
};
template <bool bf16>
__device__ __forceinline__ Bias4 bias4(int b_c, int b_c8) {
  const uint32_t magic = bf16 ? 0x43004300u : 0x64006400u;
  return {magic + uint32_t(b_c) * 0x10001u, magic + uint32_t(b_c8) * 0x10001u,
          0xd400d400u + uint32_t(b_c) * 0x100010u, 0xd400d400u + uint32_t(b_c8) * 0x100010u};
}

// 4-bit codes, one word per sub-block; nibble i holds v[perm[i]], perm =
// [0,2,4,6,1,3,5,7] (so nibbles (0,4), (1,5), (2,6), (3,7) are the pairs (v0,v1), (v2,v3),
// (v4,v5), (v6,v7)).
template <bool bf16>
__device__ __forceinline__ void dequant_4bit(uint32_t x, const Bias4& k, uint32_t (&f)[2][2]) {
  const uint32_t lo = 0x000f000f;
  if constexpr (!bf16) {
    // fp16: 0x6400 = 1024; the low nibble gives 1024 + q, the high nibble 1024 + 16 q.
    using F = Float16Type<type_id::kFloat16>;
    const uint32_t hi = 0x00f000f0, ex = 0x64006400;
    const uint32_t l0 = and_or(x, lo, ex), h0 = and_or(x, hi, ex);
    const uint32_t x8 = x >> 8;
    const uint32_t l1 = and_or(x8, lo, ex), h1 = and_or(x8, hi, ex);
    const half2 sixteenth = __half2half2(__ushort_as_half(0x2c00));  // 1/16
    f[0][0] = bits_of(__hsub2(F::from_bits(l0), F::from_bits(k.sub_c)));
    f[0][1] = bits_of(__hfma2(F::from_bits(h0), sixteenth, F::from_bits(k.nhi_c)));
    f[1][0] = bits_of(__hsub2(F::from_bits(l1), F::from_bits(k.sub_c8)));
    f[1][1] = bits_of(__hfma2(F::from_bits(h1), sixteenth, F::from_bits(k.nhi_c8)));
  } else {
    // bf16: 0x4300 = 128 with 7 mantissa bits: every nibble is extracted at bit 0.
    using F = Float16Type<type_id::kBFloat16>;
    const uint32_t ex = 0x43004300;
    f[0][0] = bits_of(__hsub2(F::from_bits(and_or(x, lo, ex)), F::from_bits(k.sub_c)));
    f[0][1] = bits_of(__hsub2(F::from_bits(and_or(x >> 4, lo, ex)), F::from_bits(k.sub_c)));
    f[1][0] = bits_of(__hsub2(F::from_bits(and_or(x >> 8, lo, ex)), F::from_bits(k.sub_c8)));
    f[1][1] = bits_of(__hsub2(F::from_bits(and_or(x >> 12, lo, ex)), F::from_bits(k.sub_c8)));
  }
}

// 8-bit codes, two words per sub-block in natural byte order: w0 = [v0,v1,v2,v3] (column c),
// w1 = [v4,v5,v6,v7] (column c+8).
template <bool bf16>
__device__ __forceinline__ void dequant_8bit(uint32_t w0, uint32_t w1, int bias, uint32_t (&f)[2][2]) {
  if constexpr (!bf16) {
    // bytes under a 0x64 high byte: 1024 + q exactly
    const uint32_t ex = 0x64646464;
    const half2 sub = Float16Type<type_id::kFloat16>::from_bits(dup16(0x6400u + bias));
    using F = Float16Type<type_id::kFloat16>;
    f[0][0] = bits_of(__hsub2(F::from_bits(ptx::prmt(w0, ex, 0x4140)), sub));
    f[0][1] = bits_of(__hsub2(F::from_bits(ptx::prmt(w0, ex, 0x4342)), sub));
    f[1][0] = bits_of(__hsub2(F::from_bits(ptx::prmt(w1, ex, 0x4140)), sub));
    f[1][1] = bits_of(__hsub2(F::from_bits(ptx::prmt(w1, ex, 0x4342)), sub));
  } else {
    // bf16 has too few mantissa bits for 256 + q: go through fp32 2^23 + q (0x4B0000qq).
    using F = Float16Type<type_id::kBFloat16>;
    const float sub = 8388608.0f + float(bias);
    const uint32_t ex = 0x4B000000;
    float v[8];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      v[i] = __uint_as_float(__byte_perm(w0, ex, 0x7540 | i)) - sub;
      v[4 + i] = __uint_as_float(__byte_perm(w1, ex, 0x7540 | i)) - sub;
    }
    f[0][0] = bits_of(F::from_floats(v[0], v[1]));
    f[0][1] = bits_of(F::from_floats(v[2], v[3]));
    f[1][0] = bits_of(F::from_floats(v[4], v[5]));
    f[1][1] = bits_of(F::from_floats(v[6], v[7]));
  }
}

// ---- raw integer codes (the folded group scales of marlin_template.cuh, FOLD / RAW) ---------
//
// The code placed under a magic exponent and nothing else: an exact 16-bit float magic + q that
// the MMA takes as it is. The kernel starts each group's sums at -(magic + bias) x the
// activations (one MMA with the constant weights of raw_offset), so they come out as
// sum a (q - bias) with no float op on any weight, and scales them once per group in fp32.
// The sums pass through magnitudes of (magic + bias) x sum |a| before they cancel, so the magic
// is kept small: 4-bit codes are shifted to the top of the mantissa, 16 + q (fp16: bits 6..9
// under exponent 16, 0x4c00; bf16: bits 3..6, 0x4180), offset 24 for GPTQ's bias 8, against 1032
// with the code at bit 0. 8-bit codes (fp16 only) sit at bit 0 under 1024 (one prmt per pair):
// 1024 + q, offset 1152 against codes of magnitude up to 128. (bf16 has no magic for 8 bits:
// dequant_8bit's exact q - bias.)
template <bool bf16>
__device__ __forceinline__ void dequant_4bit_raw(uint32_t x, uint32_t (&f)[2][2]) {
  // nibble pairs (0,4), (1,5), (2,6), (3,7) = fragment registers f[0][0], f[0][1], f[1][0], f[1][1]
  constexpr uint32_t mask = bf16 ? 0x00780078u : 0x03c003c0u, magic = bf16 ? 0x41804180u : 0x4c004c00u;
  constexpr int top = bf16 ? 3 : 6;  // the nibble's lowest bit in each half
  f[0][0] = and_or(x << top, mask, magic);
  f[0][1] = and_or(top >= 4 ? x << (top - 4) : x >> (4 - top), mask, magic);
  f[1][0] = and_or(x >> (8 - top), mask, magic);
  f[1][1] = and_or(x >> (12 - top), mask, magic);
}

__device__ __forceinline__ void dequant_8bit_raw(uint32_t w0, uint32_t w1, uint32_t (&f)[2][2]) {
  const uint32_t ex = 0x64646464;
  f[0][0] = ptx::prmt(w0, ex, 0x4140);
  f[0][1] = ptx::prmt(w0, ex, 0x4342);
  f[1][0] = ptx::prmt(w1, ex, 0x4140);
  f[1][1] = ptx::prmt(w1, ex, 0x4342);
}

// -(magic + bias) of the raw codes as a 16-bit float pair, exact: fp16 16 + b has ulp 1/64
// (bits 0x4c00 + 64 b, b < 16), bf16 16 + b ulp 1/8 (0x4180 + 8 b), fp16 1024 + b ulp 1.
template <bool bf16, int bits>
constexpr uint32_t raw_offset(int bias) {
  static_assert(bits == 4 || !bf16, "no raw 8-bit bf16 codes");
  const uint32_t h = bits == 8 ? 0xe400u + bias : (bf16 ? 0xc180u + 8u * bias : 0xcc00u + 64u * bias);
  return h * 0x10001u;
}

// ---- floating-point weights (FP8 e4m3fn, FP4 e2m1) and their byte scales ---------------
//
// Exponent-bias trick: the sign bit is kept in place and the exponent+mantissa bits are
// shifted under the 16-bit float's exponent/mantissa fields. The result is the code's value
// times a fixed power of two, for normals and subnormals alike (the code's subnormals land on
// the target's subnormals, or on its normals with the same factor):
//   e4m3 -> fp16: x 2^-8    e4m3 -> bf16: x 2^-120
//   e2m1 -> fp16: x 2^-14   e2m1 -> bf16: x 2^-126
// The host folds the inverse factor into the scales (FP8) or the fp32 epilogue factor
// (NVFP4 global scale, MXFP4 constant); see docs/kernel.md. e4m3's NaN codes (0x7f / 0xff)
// come out as +-448 x the factor: weights must be finite.

// e4m3 bytes sitting at bits 8..15 and 24..31 of u -> the 16-bit float pair (low, high)
template <bool bf16>
__device__ __forceinline__ uint32_t fp8_pair_hi_bytes(uint32_t u) {
  constexpr int sh = bf16 ? 4 : 1;
  return (u & 0x80008000u) | ((u & 0x7f007f00u) >> sh);
}

// sm_89+ has a hardware conversion of an e4m3 pair to an fp16 pair (cvt.rn.f16x2.e4m3x2, one
// instruction where the exponent-bias trick takes four). It gives the exact value, without the
// trick's 2^-8, so the kernel divides the prepared scales by 2^8 again (exact: FP8_CVT in
// marlin_template.cuh); the products, and so the results, are the same bits.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
#define MARLIN_HAS_FP8_CVT 1
#else
#define MARLIN_HAS_FP8_CVT 0
#endif

// the two e4m3 pairs of a word (bytes 0, 1 and bytes 2, 3; the lower byte to the lower half)
// -> two fp16 pairs
__device__ __forceinline__ void fp8_word_to_half2s(uint32_t w, uint32_t& lo, uint32_t& hi) {
#if MARLIN_HAS_FP8_CVT
  asm("{\n.reg .b16 l, h;\nmov.b32 {l, h}, %2;\ncvt.rn.f16x2.e4m3x2 %0, l;\ncvt.rn.f16x2.e4m3x2 %1, h;\n}"
      : "=r"(lo), "=r"(hi)
      : "r"(w));
#else
  lo = hi = 0u;
#endif
}

// 8-bit tile layout (natural byte order): w0 = [v0,v1,v2,v3] (column c), w1 = [v4..v7] (c+8)
__device__ __forceinline__ void dequant_fp8_cvt(uint32_t w0, uint32_t w1, uint32_t (&f)[2][2]) {
  fp8_word_to_half2s(w0, f[0][0], f[0][1]);
  fp8_word_to_half2s(w1, f[1][0], f[1][1]);
}

// (the same layout, any arch: the exponent-bias trick)
template <bool bf16>
__device__ __forceinline__ void dequant_fp8(uint32_t w0, uint32_t w1, uint32_t (&f)[2][2]) {
  // prmt 0x1000 puts bytes 0 / 1 at bits 8..15 / 24..31; 0x3020 does so for bytes 2 / 3
  f[0][0] = fp8_pair_hi_bytes<bf16>(__byte_perm(w0, 0u, 0x1000));
  f[0][1] = fp8_pair_hi_bytes<bf16>(__byte_perm(w0, 0u, 0x3020));
  f[1][0] = fp8_pair_hi_bytes<bf16>(__byte_perm(w1, 0u, 0x1000));
  f[1][1] = fp8_pair_hi_bytes<bf16>(__byte_perm(w1, 0u, 0x3020));
}

// e2m1 nibbles at bits 12..15 and 28..31 of u -> the 16-bit float pair
template <bool bf16>
__device__ __forceinline__ uint32_t fp4_pair_top_nibbles(uint32_t u) {
  constexpr int sh = bf16 ? 6 : 3;
  return (u & 0x80008000u) | ((u & 0x70007000u) >> sh);
}

// 4-bit tile layout: nibble i = v[ORDER4[i]], so the low half holds (v0, v2, v4, v6) and the
// high half (v1, v3, v5, v7), nibble by nibble from bit 0.
template <bool bf16>
__device__ __forceinline__ void dequant_fp4(uint32_t x, uint32_t (&f)[2][2]) {
  f[0][0] = fp4_pair_top_nibbles<bf16>(x << 12);
  f[0][1] = fp4_pair_top_nibbles<bf16>(x << 8);
  f[1][0] = fp4_pair_top_nibbles<bf16>(x << 4);
  f[1][1] = fp4_pair_top_nibbles<bf16>(x);
}

// Byte scales (NVFP4, MXFP4): byte `idx` of `word` -> the 16-bit pair (s, s).
//   NVFP4 (prepared e5m3 byte = the fp16 bits 7..14 of e4m3 scale x 2^7, never negative):
//     fp16: byte << 7 = scale x 2^7 exactly. bf16: (byte << 4) | 0x7000 puts the same 5-bit
//     exponent under bf16's with +224: scale x 2^119 (a zero byte would give 2^97: the
//     packer zeroes the codes of zero-scale groups, so that product stays 0).
//   MXFP4 (prepared byte = e8m0 exponent + 64), bf16 only: byte << 7 = 2^(e - 63).
// (idx is a constant after the caller's loops unroll)
template <ScalarTypeId s_type, bool bf16>
__device__ __forceinline__ uint32_t byte_scale_pair(uint32_t word, int idx) {
  if constexpr (s_type == type_id::kFE4M3fn && !bf16) {
    // bytes [0, b, 0, b], >> 1: b at bits 7..14 of each half
    return __byte_perm(word, 0u, 0x0404 + idx * 0x1010) >> 1;
  } else if constexpr (s_type == type_id::kFE4M3fn) {
    return (__byte_perm(word, 0u, 0x4040 + idx * 0x0101) << 4) | 0x70007000u;
  } else {
    static_assert(s_type == type_id::kFE8M0fnu && bf16, "e8m0 scales are bf16 only");
    return __byte_perm(word, 0u, 0x4040 + idx * 0x0101) << 7;
  }
}

}  // namespace marlin
