// wgmma (sm_90a only): the warpgroup-wide asynchronous MMA of Hopper, used by the 16-bit
// kernel body for the tile shapes of wgmma_shape() (layout.h, docs/kernel.md). A (64 x 16) comes
// from registers: each of the 4 warps holds its 16 rows in the m16n8k16 A-fragment layout. B
// (16 x N) is read by the tensor cores from shared memory through a matrix descriptor: K-major
// (the activation rows, contiguous along K) in the 128-byte swizzle, which is exactly the
// XOR-by-row chunk order the kernel's A tile already has when a row is 64 halves. D (64 x N,
// fp32) stays in registers: per warp the mma.sync C layout repeated over the N / 8 column blocks.
// Everything here compiles to a trap outside sm_90a; the body only calls it where
// MARLIN_HAS_WGMMA is 1.
#pragma once
#include <cstdint>

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define MARLIN_HAS_WGMMA 1
#else
#define MARLIN_HAS_WGMMA 0
#endif

namespace marlin {
namespace ptx {

// Shared-memory matrix descriptor of a K-major operand in the 128-byte swizzle: start address
// (16-byte units, its 1024-byte swizzle atom aligned), stride between 8-row groups 1024 bytes,
// leading-dimension offset unused by this mode (1 by convention), swizzle mode 1 = 128 B.
__device__ __forceinline__ uint64_t wgmma_desc_sw128(uint32_t saddr) {
  return uint64_t((saddr & 0x3FFFF) >> 4) | (uint64_t(1) << 16) | (uint64_t(1024 >> 4) << 32) | (uint64_t(1) << 62);
}

// Orders this thread's prior register writes (A fragments) before the wgmmas that read them.
__device__ __forceinline__ void wgmma_fence() {
#if MARLIN_HAS_WGMMA
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void wgmma_commit() {
#if MARLIN_HAS_WGMMA
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}

// Waits until at most n committed groups are in flight.
template <int n>
__device__ __forceinline__ void wgmma_wait() {
#if MARLIN_HAS_WGMMA
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(n) : "memory");
#endif
}

// Makes this thread's completed generic-proxy shared-memory writes (cp.async included) visible to
// the async proxy that wgmma reads B through; each writer runs it before the barrier.
__device__ __forceinline__ void fence_proxy_async_smem() {
#if MARLIN_HAS_WGMMA
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

// Named barrier `id` over the 128 threads of a warpgroup; barrier 0 is __syncthreads'. A
// compile-time id, so that ptxas reserves only the barriers used.
template <int id>
__device__ __forceinline__ void bar_sync_warpgroup() {
  asm volatile("bar.sync %0, 128;\n" ::"n"(id) : "memory");
}

// ---- TMA copies and their mbarriers (the wide mode's A tile and B stage, KernelParams::a_tma)

// An mbarrier in shared memory that completes a phase on `count` arrivals (and, with expect_tx,
// once the announced bytes have landed).
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
#if MARLIN_HAS_WGMMA
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
#endif
}

// Makes the initialized mbarriers visible to the async proxy (the TMA unit) before first use.
__device__ __forceinline__ void fence_mbar_init() {
#if MARLIN_HAS_WGMMA
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
}

// This thread's arrival, announcing `bytes` that a TMA copy will deliver to the same phase.
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
#if MARLIN_HAS_WGMMA
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
#endif
}

// Waits until the phase of parity `parity` has completed (its bytes are in shared memory and
// visible to this thread).
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
#if MARLIN_HAS_WGMMA
  uint32_t done = 0;
  while (!done) {
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  }
#endif
}

// One 2-D TMA copy: the box at (c0 along the inner dimension, c1 along the outer) of the tensor
// described by `map` (a CUtensorMap in parameter, constant or global memory) to shared address
// dst; the bytes count towards mbarrier bar's current phase. Elements outside the tensor arrive
// as zeros.
__device__ __forceinline__ void tma_load_2d(uint32_t dst, const void* map, int c0, int c1, uint32_t bar) {
#if MARLIN_HAS_WGMMA
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          dst),
      "l"(map), "r"(c0), "r"(c1), "r"(bar)
      : "memory");
#endif
}

// The same with a 3-D box at (c0, c1, c2), innermost first.
__device__ __forceinline__ void tma_load_3d(uint32_t dst, const void* map, int c0, int c1, int c2, uint32_t bar) {
#if MARLIN_HAS_WGMMA
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], [%5];\n" ::"r"(
          dst),
      "l"(map), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
      : "memory");
#endif
}

// Two 8x8 b16 matrices from their mma fragments (r0: the first, r1: the second; a lane holds
// (row lane / 4, columns 2 (lane % 4), +1) of each) to shared memory transposed: lane l < 16
// gives the address of 16-byte row l % 8 of matrix l / 8, which receives that fragment column.
__device__ __forceinline__ void stmatrix_x2_trans(uint32_t saddr, uint32_t r0, uint32_t r1) {
#if MARLIN_HAS_WGMMA
  asm volatile("stmatrix.sync.aligned.m8n8.x2.trans.shared.b16 [%0], {%1, %2};\n" ::"r"(saddr), "r"(r0), "r"(r1)
               : "memory");
#endif
}

// 16 bytes from shared address saddr.
__device__ __forceinline__ int4 ld_shared_16(uint32_t saddr) {
  int4 v;
  asm volatile("ld.shared.v4.b32 {%0, %1, %2, %3}, [%4];\n" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "r"(saddr));
  return v;
}

// Keeps the compiler from moving accumulator registers across the asynchronous region (a wgmma
// in flight owns them until wgmma_wait).
__device__ __forceinline__ void reg_fence(float& x) { asm volatile("" : "+f"(x)::"memory"); }

#define MARLIN_WGMMA_RS(TY)                                                                                       \
  if constexpr (N == 16) {                                                                                        \
    asm volatile(                                                                                                 \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %13, 0;\n"                                                              \
        "wgmma.mma_async.sync.aligned.m64n16k16.f32." TY "." TY " "                                               \
        "{%0,%1,%2,%3,%4,%5,%6,%7}, "                                                                             \
        "{%8,%9,%10,%11}, %12, p, 1, 1, 0;\n}\n"                                                                  \
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])          \
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));                                         \
  } else if constexpr (N == 32) {                                                                                 \
    asm volatile(                                                                                                 \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %21, 0;\n"                                                              \
        "wgmma.mma_async.sync.aligned.m64n32k16.f32." TY "." TY " "                                               \
        "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15}, "                                               \
        "{%16,%17,%18,%19}, %20, p, 1, 1, 0;\n}\n"                                                                \
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),         \
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])    \
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));                                         \
  } else if constexpr (N == 48) {                                                                                 \
    asm volatile(                                                                                                 \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %29, 0;\n"                                                              \
        "wgmma.mma_async.sync.aligned.m64n48k16.f32." TY "." TY " "                                               \
        "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"                                                 \
        "%16,%17,%18,%19,%20,%21,%22,%23}, "                                                                      \
        "{%24,%25,%26,%27}, %28, p, 1, 1, 0;\n}\n"                                                                \
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),         \
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),   \
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23])  \
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));                                         \
  } else if constexpr (N == 64) {                                                                                 \
    asm volatile(                                                                                                 \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                                              \
        "wgmma.mma_async.sync.aligned.m64n64k16.f32." TY "." TY " "                                               \
        "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"                                                 \
        "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31}, "                                      \
        "{%32,%33,%34,%35}, %36, p, 1, 1, 0;\n}\n"                                                                \
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),         \
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),   \
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])  \
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));                                         \
  } else if constexpr (N == 128) {                                                                                \
    asm volatile(                                                                                                 \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"                                                              \
        "wgmma.mma_async.sync.aligned.m64n128k16.f32." TY "." TY " "                                              \
        "{"                                                                                                       \
        "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"                                                  \
        "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,"                                        \
        "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,"                                        \
        "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63"                                         \
        "}, "                                                                                                     \
        "{%64,%65,%66,%67}, %68, p, 1, 1, 0;\n}\n"                                                                \
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),         \
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),   \
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])  \
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(1));                                         \
  }

// D (64 x N) += A (registers) * B (descriptor), N in {16, 32, 48, 64, 128}; d: the lane's N / 2
// accumulators.
template <int N, bool bf16>
__device__ __forceinline__ void wgmma_rs(float* d, const uint32_t (&a)[4], uint64_t desc) {
  static_assert(N == 16 || N == 32 || N == 48 || N == 64 || N == 128, "wgmma_rs: N in {16, 32, 48, 64, 128}");
#if MARLIN_HAS_WGMMA
  if constexpr (bf16) {
    MARLIN_WGMMA_RS("bf16")
  } else {
    MARLIN_WGMMA_RS("f16")
  }
#else
  __trap();
#endif
}

#undef MARLIN_WGMMA_RS

}  // namespace ptx
}  // namespace marlin
