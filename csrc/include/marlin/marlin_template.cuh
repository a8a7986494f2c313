// The Marlin kernel template's definition. Generated instantiation files include this.
//
// One block computes one (M tile, N tile, K slice) work unit:
//   * M tile: 16 * thread_m_blocks rows of A (8 rows for m_block_size_8), N tile: 16 *
//     thread_n_blocks columns, K walked in steps of 16 * thread_k_blocks through a `stages`-deep
//     cp.async ring in shared memory (A tile, B tile, scale rows, zero points, g_idx slice).
//   * Warps: thread_n_blocks / 4 warps along N (64 columns each) times k_warps along K; every
//     warp owns its k16 sub-tiles of each stage and all M rows. B fragments come straight from
//     the offline tile layout with one 16-byte shared load per lane (two for 8-bit), A with
//     ldmatrix from an XOR-swizzled tile. Dequantization happens in registers, then
//     mma.sync m16n8k16 with fp32 accumulators (the 8-row tile multiplies transposed).
//   * sm_90a, (64,256,256) tiles (wgmma_shape): the two k warps are warpgroups that take
//     alternate K tiles, each with its own ring and barrier, and multiply with wgmma (the
//     dequantized weights from registers, the A tile from shared memory; ptx_wgmma.cuh). Their
//     128-row mode (W2) shares one ring. In the 64- and 128-row tiles the A tile and the 4- or
//     8-bit B stage come by TMA copies.
//   * After the K loop the k warps are summed in shared memory in fixed order. When the host
//     split K into `slices` (gridDim.x = tiles * slices), each block writes its partial to
//     C_tmp, and the last block to arrive at the tile's counter in `locks` sums all partials in
//     slice order (bit-identical run to run), adds the bias, writes C and resets the counter;
//     or, when the host sets reduce_together (a one-wave grid), the tile's blocks claim and sum
//     1/slices shares of it, in the same order. The wgmma tiles, whose fragments are
//     transposed, pass C through shared memory (stmatrix .trans) for 16-byte stores.
// See docs/kernel.md for the weight / scale / zero-point layouts.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "marlin/dequant.cuh"
#include "marlin/kernel.h"
#include "marlin/layout.h"
#include "marlin/marlin_a8.cuh"  // 8-bit activations (W4A8)
#include "marlin/ptx.cuh"
#include "marlin/ptx_wgmma.cuh"
#include "marlin/reduce.cuh"
#include "marlin/weight_format.h"  // weight formats from plugins (generated marlin_plugin_formats.h)

namespace marlin {

// Whether this template instance has a kernel body (issue 3: 16-bit activations, int4/int8
// weights). Everything else compiles to a trap; the host refuses those combinations.
template <ScalarTypeId a, ScalarTypeId b, ScalarTypeId c, ScalarTypeId s, int group_blocks, bool is_zp_float>
constexpr bool body_supported() {
  constexpr bool a16 = a == type_id::kFloat16 || a == type_id::kBFloat16;
  constexpr bool bint = b == type_id::kU4 || b == type_id::kU4B8 || b == type_id::kU8B128;
  constexpr bool zpf_ok = !is_zp_float || (b == type_id::kU4 && a == type_id::kFloat16);
  constexpr bool gb_ok = group_blocks == -1 || group_blocks == 0 || group_blocks == 1 || group_blocks == 2 ||
                         group_blocks == 4 || group_blocks == 8 || group_blocks == 16;
  constexpr bool zp_act_order = b == type_id::kU4 && group_blocks == 0;
  // floating-point weights (issue 4 part A): FP8 with 16-bit scales (per channel or grouped),
  // NVFP4 (e4m3 scale per 16 rows), MXFP4 (e8m0 scale per 32 rows, bf16 only)
  constexpr bool fp8w = b == type_id::kFE4M3fn && s == a && group_blocks != 0;
  constexpr bool nvfp4 = b == type_id::kFE2M1f && s == type_id::kFE4M3fn && group_blocks == 1;
  constexpr bool mxfp4 =
      b == type_id::kFE2M1f && s == type_id::kFE8M0fnu && a == type_id::kBFloat16 && group_blocks == 2;
  constexpr bool fpw = a16 && c == a && !is_zp_float && gb_ok && (fp8w || nvfp4 || mxfp4);
  // a plugin's 4-bit format (WeightFormat specialization): symmetric, scales of the activation
  // type, per channel or grouped
  constexpr bool plugin = WeightFormat<b>::defined && a16 && c == a && s == a && !is_zp_float &&
                          gb_ok && group_blocks != 0;
  return (a16 && bint && c == a && s == a && zpf_ok && gb_ok && !zp_act_order) || fpw || plugin;
}

namespace detail {

// f(i) for i in [0, n), spread over the block's threads with a compile-time trip count, counted
// from the last thread: the A tile copies start at thread 0, so these small per-stage copies
// (scale rows, zero points, g_idx) land on other warps and no warp gets all the extra work.
template <int n, int threads, typename Fn>
__device__ __forceinline__ void for_spread(int tid, Fn&& f) {
#pragma unroll
  for (int j = 0; j < (n + threads - 1) / threads; ++j) {
    const int i = j * threads + (threads - 1 - tid);
    if (n % threads == 0 || i < n) f(i);
  }
}

// Rows g0 .. g0 + rows - 1 of a [num_groups, row_len] array of E (scales, zero points): the
// `chunks` 16-byte chunks from element col0 of each row, to consecutive 16-byte slots at shared
// address dst, spread over the threads (for_spread). Rows past num_groups are zero-filled.
template <int rows, int chunks, int threads, typename E>
__device__ __forceinline__ void copy_group_rows(int tid, uint32_t dst, const E* base, int row_len, int col0, int g0,
                                                int num_groups) {
  for_spread<rows * chunks, threads>(tid, [&](int i) {
    const int r = i / chunks, cc = i % chunks;
    const int g = g0 + r;
    const bool pred = g < num_groups;
    const E* src = pred ? base + (size_t)g * row_len + col0 + cc * int(16 / sizeof(E)) : base;
    ptx::cp_async16(dst + 16u * i, src, pred);
  });
}

// The lane's 8 16-bit column values (scales, float zero points) from p as an int4, or (half: the
// wide mode's warpgroup, which takes 4 of them) 4 values in .x, .y. global: through the read-only
// cache (act-order's scale rows, read straight from global memory).
template <bool half, bool global = false, typename E>
__device__ __forceinline__ int4 load_cols(const E* p) {
  if constexpr (half) {
    const int2 v = global ? __ldg(reinterpret_cast<const int2*>(p)) : *reinterpret_cast<const int2*>(p);
    return int4{v.x, v.y, 0, 0};
  } else {
    return global ? __ldg(reinterpret_cast<const int4*>(p)) : *reinterpret_cast<const int4*>(p);
  }
}

// One block's piece of work on one tile: K tiles [it_begin, it_end) of tile `tile`, as
// contributor `slice` of the tile's `slices`; its split-K partial goes to C_tmp slot slot0 +
// slice (the tile's contributors have consecutive slots).
struct Segment {
  int tile, slices, slice, it_begin, it_end, slot0;
};

template <ScalarTypeId a_type_id, ScalarTypeId b_type_id, ScalarTypeId s_type_id, int threads,
          int thread_m_blocks, int thread_n_blocks, int thread_k_blocks, bool m_block_size_8, int stages,
          int group_blocks, bool is_zp_float, bool W2 = false>
__device__ __forceinline__ void marlin_segment(const KernelParams& p, const Segment& sg) {
  using F = Float16Type<a_type_id>;
  using T = typename F::T;
  using T2 = typename F::T2;
  constexpr bool bf16 = F::bf16;
  constexpr int bits = scalar_type_bits(b_type_id);
  constexpr bool has_zp = b_type_id == type_id::kU4;
  constexpr bool int_zp = has_zp && !is_zp_float;
  constexpr int fixed_bias = b_type_id == type_id::kU4B8 ? 8 : (b_type_id == type_id::kU8B128 ? 128 : 0);
  // floating-point weights: codes dequantized by the exponent-bias trick (dequant.cuh);
  // NVFP4 / MXFP4 scales are one byte each (prepared layout, docs/kernel.md)
  constexpr bool b_fp = b_type_id == type_id::kFE4M3fn || b_type_id == type_id::kFE2M1f;
  constexpr bool s_byte = s_type_id == type_id::kFE4M3fn || s_type_id == type_id::kFE8M0fnu;
  constexpr bool nvfp4 = b_type_id == type_id::kFE2M1f && s_type_id == type_id::kFE4M3fn;
  constexpr bool mxfp4 = s_type_id == type_id::kFE8M0fnu;
  // per-channel 16-bit scales multiply the fp32 accumulators once, after the K loop, instead of
  // every dequantized weight (exact: the scale is the same for the whole column). Not with zero
  // points: HQQ's float ones are applied as q * s - z * s, and with AWQ's ptxas 13.0 serialized
  // the wgmma kernel's wgmmas (C7515; it did not for GPTQ / FP8).
  constexpr bool SCALE_AFTER = group_blocks == -1 && !has_zp && !s_byte;
  // FP8 weights with fp16 activations on sm_89+: the hardware conversion (dequant.cuh
  // dequant_fp8_cvt), which leaves out the 2^-8 that the host folded into the scales as 2^8;
  // the scales are divided by 2^8 again where they are read (exact, so the same products)
  constexpr bool FP8_CVT = MARLIN_HAS_FP8_CVT && b_type_id == type_id::kFE4M3fn && !bf16;
  constexpr int MB = thread_m_blocks;
  constexpr int BM = m_block_size_8 ? 8 : (W2 ? 128 : 16 * MB);  // staged A rows
  constexpr int BN = 16 * thread_n_blocks;
  constexpr int BK = 16 * thread_k_blocks;
  constexpr int WARPS = threads / 32;
  constexpr int N_WARPS = BN / 64;
  constexpr int K_WARPS = WARPS / N_WARPS;
  // sm_90a, tile shapes of wgmma_shape(): each k warp's 4 warps form a warpgroup that multiplies
  // with wgmma, the dequantized weights (16 columns per warp) as the register A operand and the
  // A tile's rows read by the tensor cores from shared memory as B. The two warpgroups take
  // alternate K tiles (warpgroup g: it_begin + g, + 2, ...), each with its own ring of `stages`
  // slots, its own copies and a named barrier, like two 128-thread blocks that sum their
  // accumulators at the end: all 4 k16 sub-tiles of a K tile run between a warpgroup's barriers,
  // and neither waits for the other inside the K loop.
  constexpr bool WG = MARLIN_HAS_WGMMA && wgmma_shape(threads, m_block_size_8, thread_n_blocks, thread_k_blocks);
  // W2 (the 4-m-block wgmma kernel with p.wide_m): 128-row tiles. Both warpgroups work on the same
  // K tile (one shared ring, one barrier per stage); warpgroup g dequantizes only 16-column
  // blocks 2g, 2g+1 of each warp's 64 columns and multiplies them (m64n128k16, 64 weight
  // columns x all 128 rows) twice per k16: every dequantized weight feeds 128 rows instead of 64.
  static_assert(!W2 || (WG && MB == 4), "W2 is a mode of the 4-m-block wgmma tile");
  constexpr bool WR = WG && !W2;  // warpgroups on alternate K tiles, own rings
  constexpr int KSUB = WG ? thread_k_blocks : thread_k_blocks / K_WARPS;  // k16 sub-tiles per warp per stage
  constexpr int A_CHUNKS_ROW = BK / 8;              // 16-byte chunks per A row
  constexpr int TILE_WORDS = tile_words(bits);      // int32 per 16x64 B tile
  constexpr int SROWS = scale_rows_per_tile(thread_k_blocks, group_blocks);
  constexpr SmemModel SM0 = smem_model(bits, threads, thread_m_blocks, m_block_size_8, thread_n_blocks,
                                       thread_k_blocks, stages, group_blocks, has_zp, is_zp_float, WG);
  // W2: one ring of 128-row stages in the memory the host allocates for the two rings of the
  // default mode (layout.h smem_model), as many slots as fit
  constexpr SmemModel SM = W2 ? smem_model_wide(bits, thread_n_blocks, thread_k_blocks, group_blocks, has_zp,
                                                is_zp_float, SM0.total)
                              : SM0;
  constexpr int ST = W2 ? wide_stages(SM) : stages;  // ring slots
  static_assert(!W2 || ST >= 3, "W2 ring");
  static_assert(BN % 64 == 0 && N_WARPS >= 1 && WARPS % N_WARPS == 0, "bad thread_n_blocks / threads");
  static_assert(thread_k_blocks % K_WARPS == 0 && KSUB >= 1, "bad thread_k_blocks / threads");
  static_assert(stages >= 2, "need at least two stages");
  static_assert(!WG || (N_WARPS == 4 && A_CHUNKS_ROW == 8 && MB <= 4), "wgmma tile shape");
  static_assert(!WG || (SM.stage_bytes % kWgmmaAlign == 0 && SM.a_bytes % kWgmmaAlign == 0), "wgmma stage alignment");

  // WG: the stages start on 1024-byte boundaries of the shared window (the swizzle period), so the
  // dynamic shared memory is declared that aligned (aligning a generic pointer at run time instead
  // cost generic->shared conversions in the K loop). Only WG kernels see that declaration: it
  // puts the dynamic part 1 KB into the block's shared memory.
  char* smem;
  if constexpr (WG) {
    extern __shared__ __align__(1024) int4 smem_wg[];
    smem = reinterpret_cast<char*>(smem_wg);
    // an aligned start, and the two rings the host must have allocated (smem_model's `wgmma`)
    if (ptx::smem_addr(smem) % kWgmmaAlign != 0 || p.max_shared_mem < SM.total) __trap();
  } else {
    extern __shared__ int4 smem4[];
    smem = reinterpret_cast<char*>(smem4);
  }

  const int tid = threadIdx.x;
  const int lane = tid % 32;
  const int warp = tid / 32;
  const int warp_n = warp % N_WARPS;
  const int warp_k = warp / N_WARPS;
  const int k_first = WG ? 0 : warp_k * KSUB;  // this warp's first k16 sub-tile of a stage
  // WG: the warpgroup (= warp_k); WR: the thread within it, as copies are per warpgroup
  constexpr int CP_THREADS = WR ? 128 : threads;  // threads sharing one stage's copies
  const int wg = WG ? tid / 128 : 0;
  const int ctid = WR ? tid % 128 : tid;

  const int prob_m = p.prob_m, prob_n = p.prob_n, prob_k = p.prob_k;
  const int m_tiles = (prob_m + BM - 1) / BM;
  const int tile = sg.tile, slices = sg.slices, slice = sg.slice;
  const int it_begin = sg.it_begin, it_end = sg.it_end;
  const int n_tile = tile / m_tiles;
  const int m_tile = tile % m_tiles;
  const int m_base = m_tile * BM;
  const int n_base = n_tile * BN;
  const int k16_total = prob_k / 16;

  const T* A = reinterpret_cast<const T*>(p.A);
  const int4* B = reinterpret_cast<const int4*>(p.B);
  const T* S = reinterpret_cast<const T*>(p.scales);

  char* const ring = smem + (WR ? wg : 0) * ST * SM.stage_bytes;  // this warpgroup's slots (WR), or all
  auto stage_ptr = [&](int st) { return ring + st * SM.stage_bytes; };

  // per-thread copy assignments, fixed for the whole K loop. Shared addresses are kept as
  // 32-bit shared-window offsets so that the loop does no generic->shared conversions.
  const uint32_t s_base = ptx::smem_addr(ring);
  constexpr int A_CH = BM * A_CHUNKS_ROW;
  constexpr int A_ITERS = (A_CH + CP_THREADS - 1) / CP_THREADS;
  constexpr int A_ROW_STEP = CP_THREADS / A_CHUNKS_ROW;
  static_assert(CP_THREADS % A_CHUNKS_ROW == 0 && A_ROW_STEP % 8 == 0, "A copy pattern");
  const int a_r0 = ctid / A_CHUNKS_ROW, a_c = ctid % A_CHUNKS_ROW;
  const int a_rows_left = prob_m - m_base - a_r0;
  const T* a_ptr = A + (a_rows_left > 0 ? (size_t)(m_base + a_r0) * p.lda + a_c * 8 : 0);
  const size_t a_row_step = (size_t)A_ROW_STEP * p.lda;
  const uint32_t a_dst = 16u * (a_r0 * A_CHUNKS_ROW + (a_c ^ (a_r0 % 8)));
  const bool a_whole = m_base + BM <= prob_m;  // (used by W2 only)
  // The 64- and 128-row wgmma tiles with p.a_tma: the A tile of a stage is one TMA copy (BM rows
  // x 64 halves, the 128-byte swizzle of the layout above; rows past M and K arrive as zeros),
  // issued by the ring's first thread (W2: thread 0 for the shared ring; WR: each warpgroup's
  // for its own) and awaited on the slot's mbarrier, instead of cp.async by every thread. Not in
  // stream-K grids, whose segments would initialize the mbarriers again. Not compiled into the
  // 16- and 32-row tiles: slower there (seventeenth session), and it made 8-bit ones spill.
  const bool a_tma = WG && BM >= 64 && p.a_tma && !p.stream_k;
  // with p.b_tma (4- and 8-bit codes) the stage's B codes as well, a second copy on the same
  // mbarrier: a 2-D or 3-D box (layout.h b_box_at; the host's map: tma.h set_b_tma)
  const bool b_tma = WG && (bits == 4 || bits == 8) && a_tma && p.b_tma;
  __shared__ alignas(8) uint64_t a_bars[WG ? (WR ? 2 : 1) * ST : 1];
  const uint32_t a_bar0 = ptx::smem_addr(a_bars) + (WR ? 8u * ST * wg : 0u);  // this ring's mbarriers
  static_assert(!W2 || A_CH % CP_THREADS == 0, "W2: every thread copies A_ITERS chunks");
  constexpr int B_CH_ROW = N_WARPS * TILE_WORDS / 4;  // int4 per k16 row of this block
  constexpr int B_CH = thread_k_blocks * B_CH_ROW;
  constexpr int B_ITERS = (B_CH + CP_THREADS - 1) / CP_THREADS;
  // chunk j * CP_THREADS + ctid of the stage: whole k16 rows per pass, or (8-bit weights, WG:
  // 256 chunks a row for 128 threads) several passes per row
  constexpr bool B_WHOLE = CP_THREADS % B_CH_ROW == 0;
  static_assert(B_WHOLE || B_CH_ROW % CP_THREADS == 0, "B copy pattern");
  constexpr int B_ROW_STEP = B_WHOLE ? CP_THREADS / B_CH_ROW : 0;
  const int b_kr0 = B_WHOLE ? ctid / B_CH_ROW : 0, b_cc = B_WHOLE ? ctid % B_CH_ROW : ctid;
  const size_t b_row = (size_t)(prob_n / 64) * (TILE_WORDS / 4);
  const int4* b_ptr = B + (size_t)(n_base / 64) * (TILE_WORDS / 4) + b_cc + b_kr0 * b_row;
  const size_t b_jstep = B_ROW_STEP * b_row;
  const uint32_t b_dst = SM.a_bytes + 16u * ctid;

  // ---- global -> shared for K tile `it` into ring slot `st`. Called for it_first,
  // it_first + IT_STEP, ... in order, so the A and B sources are running pointers (no per-stage
  // 64-bit address arithmetic), and only a partial last K tile evaluates the K predicates.
  constexpr int IT_STEP = WR ? 2 : 1;  // WR: warpgroup g takes K tiles it_begin + g + 2 i
  const int it_first = it_begin + (WR ? wg : 0);
  const T* a_src = a_ptr + (size_t)it_first * BK;
  const int4* b_src = b_ptr + (size_t)it_first * thread_k_blocks * b_row;
  auto fetch = [&](int it, int st) {
    const uint32_t sbase = s_base + st * SM.stage_bytes;
    const int k0 = it * BK;
    const bool k_full = k0 + BK <= prob_k;
    // A: BM rows x BK halves, chunk index XOR (row % 8) swizzled. Thread tid copies chunk
    // column a_c of rows a_r0 + j * A_ROW_STEP; A_ROW_STEP is a multiple of 8, so the swizzle
    // is the same for all its rows.
    if (a_tma) {
      if (ctid == 0) {
        ptx::mbar_arrive_expect_tx(a_bar0 + 8u * st, BM * BK * 2 + (b_tma ? B_CH * 16 : 0));
        ptx::tma_load_2d(sbase, p.a_map, k0, m_base, a_bar0 + 8u * st);
        if (b_tma) {
          const BoxAt at = b_box_at(bits, BN, n_base, k0);
          if constexpr (b_box_3d(bits, BN))
            ptx::tma_load_3d(sbase + SM.a_bytes, p.b_map, at.c0, at.c1, at.c2, a_bar0 + 8u * st);
          else
            ptx::tma_load_2d(sbase + SM.a_bytes, p.b_map, at.c0, at.c1, a_bar0 + 8u * st);
        }
      }
    } else if (W2 && a_whole && k_full) {
      // wide mode, every row of the tile present and a whole K tile (all but the last tile of a
      // ragged M, all but a partial last K tile): no predicates, no address selects
#pragma unroll
      for (int j = 0; j < A_ITERS; ++j)
        ptx::cp_async16(sbase + a_dst + 16u * j * A_ROW_STEP * A_CHUNKS_ROW, a_src + j * a_row_step, true);
    } else {
      const bool kok = k_full || k0 + a_c * 8 < prob_k;
#pragma unroll
      for (int j = 0; j < A_ITERS; ++j) {
        if (A_CH % CP_THREADS == 0 || j * CP_THREADS + ctid < A_CH) {
          const bool pred = kok && j * A_ROW_STEP < a_rows_left;
          ptx::cp_async16(sbase + a_dst + 16u * j * A_ROW_STEP * A_CHUNKS_ROW, pred ? a_src + j * a_row_step : A,
                          pred);
        }
      }
    }
    a_src += IT_STEP * BK;
    // B: thread_k_blocks k16-rows, each a contiguous run of N_WARPS tiles
    if (!b_tma) {
      const int kt0 = k0 / 16;
#pragma unroll
      for (int j = 0; j < B_ITERS; ++j) {
        if constexpr (!B_WHOLE) {
          const int rj = j * CP_THREADS / B_CH_ROW, cj = j * CP_THREADS % B_CH_ROW;  // (unrolled)
          const bool pred = k_full || kt0 + rj < k16_total;
          ptx::cp_async16(sbase + b_dst + 16u * j * CP_THREADS, pred ? b_src + rj * b_row + cj : B, pred);
        } else if (B_CH % CP_THREADS == 0 || j * CP_THREADS + ctid < B_CH) {
          const bool pred = k_full || kt0 + b_kr0 + j * B_ROW_STEP < k16_total;
          ptx::cp_async16(sbase + b_dst + 16u * j * CP_THREADS, pred ? b_src + j * b_jstep : B, pred);
        }
      }
      b_src += IT_STEP * thread_k_blocks * b_row;
    }
    // scale rows (and zero points) of the groups this K tile touches
    if constexpr (group_blocks != 0) {
      const uint32_t ss = sbase + SM.a_bytes + SM.b_bytes;
      const int g0 = group_blocks > 0 ? k0 / (16 * group_blocks) : 0;
      constexpr int CH_ROW = BN / 8;
      if constexpr (s_byte) {
        // one byte per scale: BN / 16 chunks per row (the smem model reserves 2 bytes each)
        copy_group_rows<SROWS, BN / 16, CP_THREADS>(ctid, ss, reinterpret_cast<const char*>(p.scales), prob_n, n_base,
                                                    g0, p.num_groups);
      } else if constexpr (!SCALE_AFTER) {
        copy_group_rows<SROWS, CH_ROW, CP_THREADS>(ctid, ss, S, prob_n, n_base, g0, p.num_groups);
      }
      if constexpr (has_zp) {
        const uint32_t sz = sbase + SM.a_bytes + SM.b_bytes + SM.s_bytes;
        if constexpr (is_zp_float) {
          copy_group_rows<SROWS, CH_ROW, CP_THREADS>(ctid, sz, reinterpret_cast<const T*>(p.zp), prob_n, n_base, g0,
                                                     p.num_groups);
        } else {
          // packed int4 zero points: [num_groups, N / 8] int32, 32 columns per 16-byte chunk
          copy_group_rows<SROWS, BN / 32, CP_THREADS>(ctid, sz, reinterpret_cast<const int*>(p.zp), prob_n / 8,
                                                      n_base / 8, g0, p.num_groups);
        }
      }
    } else {
      // act-order: the g_idx slice of this K tile
      const uint32_t sg = sbase + SM.a_bytes + SM.b_bytes + SM.s_bytes + SM.z_bytes;
      for_spread<BK / 4, CP_THREADS>(ctid, [&](int i) {
        const int gk = k0 + i * 4;
        const bool pred = gk < prob_k;
        ptx::cp_async16(sg + 16u * i, pred ? p.g_idx + gk : p.g_idx, pred);
      });
    }
  };

  // The 8-row tile multiplies transposed, C^T = B^T A^T: the dequantized 16x16 weight block
  // of a sub-block is the MMA's A operand (the lane's fragment registers are exactly the
  // m16n8k16 A layout, docs/kernel.md) and the 8 activation rows are its B operand. One MMA per
  // 16 columns instead of two half-empty ones, and 4 accumulator tiles instead of 8.
  constexpr bool TR = m_block_size_8;
  constexpr int NJ = TR ? 4 : 8;  // accumulator tiles per m16 block: n8 tiles, or (TR) n16 x m8
  float acc[MB][NJ][4];
#pragma unroll
  for (int mb = 0; mb < MB; ++mb)
#pragma unroll
    for (int j = 0; j < NJ; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[mb][j][e] = 0.f;

  // registers of one k16 sub-tile: A fragments, B codes, scales / zero points
  struct Frags {
    uint32_t fa[MB][4];  // TR: fa[0][0..1] are the B operand (activation rows 0..7)
    uint32_t wa[4][4];   // WG: the dequantized weights of the 4 16-column blocks, A fragments
    uint32_t bq[8];
    T sv[8];
    uint32_t sbyte[2];  // byte scales (NVFP4 / MXFP4), same column order as sv
    T zf[8];
    int zi[8];
    int4 sga[4];
  };

  // Per-lane shared-memory offsets within a stage, computed once (the loop only adds the
  // ring slot): the A fragment of each of the warp's sub-tiles, its B tile and scale column.
  uint32_t a_ld[KSUB];
#pragma unroll
  for (int kk = 0; kk < KSUB; ++kk) {
    const int ks = k_first + kk;
    const int r = TR ? lane % 8 : lane % 16;
    const int cch = TR ? ks * 2 + (lane / 8) % 2 : ks * 2 + lane / 16;
    a_ld[kk] = 16u * (r * A_CHUNKS_ROW + (cch ^ (r % 8)));
  }
  // W2: warpgroup g reads only the codes, scales and zero points of its column blocks 2g, 2g + 1
  // (the lane's words 2g, 2g + 1 of a 4-bit tile row, 4g..4g + 3 of an 8-bit one; its columns'
  // scales 4g..4g + 3 in the transposed order), so that the loop below indexes registers with
  // compile-time numbers only (a runtime test per block cost a branch and SELs per sub-tile)
  const int b_ld = SM.a_bytes + ((k_first * N_WARPS + warp_n) * (TILE_WORDS / 4) + lane) * 16 +
                   (W2 ? wg * (bits == 4 ? 8 : 512) : 0);
  const int s_col = warp_n * 64 + 8 * (lane / 4) + (W2 ? 4 * wg : 0);  // first of the lane's scale columns
  constexpr int NWB = W2 ? 2 : 4;  // 16-column blocks this warp dequantizes per sub-tile

  // Integer zero points (AWQ): when all of a warp's sub-tiles in a stage lie in one group, the
  // dequant constants of its 8 columns are made once per stage, not per sub-tile (ZP_ONCE; H100:
  // AWQ-4 g128 2-10% faster, docs/performance.md).
  constexpr bool ZP_ONCE = int_zp && (SROWS == 1 || (group_blocks > 0 && group_blocks % KSUB == 0));

  // The 8-row tile with group scales on integer codes (FOLD): a warp's sub-tiles of a stage lie
  // in one group, so the group's scales multiply the lane's 16 fp32 sums of the stage once,
  // instead of its 64 dequantized weights each. The codes then go into the MMA raw (RAW,
  // dequant.cuh): the stage's sums start at -(magic + bias) x the activations, an MMA with
  // constant weights, so no float op touches a weight. (Not with zero points, whose offsets
  // differ per column, nor FP weights, whose exponent-shifted values scales keep out of the
  // subnormal range before the MMA; the other tiles hold too many sums per weight to gain.)
  constexpr bool FOLD = TR && !has_zp && !b_fp && !WeightFormat<b_type_id>::defined && group_blocks > 0 &&
                        group_blocks % KSUB == 0;
  constexpr bool RAW = FOLD && (bits == 4 || !bf16);
  static_assert(!FOLD || !s_byte, "FOLD takes 16-bit scales");

  // The lane's packed integer zero-point word of scale row `srow` in the stage at `base` (its 8
  // columns' nibbles; W2: shifted so that its warpgroup's 4 come first)
  auto zp_word = [&](const char* base, int srow) {
    return reinterpret_cast<const uint32_t*>(base + SM.a_bytes + SM.b_bytes + SM.s_bytes)
               [srow * (BN / 8) + warp_n * 8 + lane / 4] >> (W2 ? 16 * wg : 0);
  };

  // ---- shared -> registers -> tensor cores for ring slot `st`. All sub-tiles' registers are
  // loaded first so that their latency overlaps the MMAs.
  auto compute = [&](int st) {
    const char* base = stage_ptr(st);
    const uint32_t sbase = s_base + st * SM.stage_bytes;
    Bias4 zc[4];  // per 16-column block w (ZP_ONCE)
    if constexpr (ZP_ONCE) {
      const int srow = SROWS > 1 ? k_first / group_blocks : 0;
      const uint32_t zw = zp_word(base, srow);
#pragma unroll
      for (int w = 0; w < NWB; ++w) zc[w] = bias4<bf16>((zw >> (8 * w)) & 0xf, (zw >> (8 * w + 4)) & 0xf);
    }
    const T* ss = reinterpret_cast<const T*>(base + SM.a_bytes + SM.b_bytes);
    Frags frs[KSUB];
#pragma unroll
    for (int kk = 0; kk < KSUB; ++kk) {
      const int ks = k_first + kk;  // k16 sub-tile within the K tile
      Frags& fr = frs[kk];
      // A fragments
      if constexpr (WG) {
        // A stays in shared memory: the wgmma reads it through a descriptor
      } else if constexpr (TR) {
        ptx::ldsm_x2(fr.fa[0][0], fr.fa[0][1], sbase + a_ld[kk]);
      } else {
#pragma unroll
        for (int mb = 0; mb < MB; ++mb) ptx::ldsm_x4(fr.fa[mb], sbase + a_ld[kk] + 16u * mb * 16 * A_CHUNKS_ROW);
      }

      // B codes: one int4 per lane (4-bit) or two (8-bit) for the warp's 16x64 tile (W2: the
      // warpgroup's half, an int2 or one int4)
      {
        const int4* tb = reinterpret_cast<const int4*>(base + b_ld) + kk * N_WARPS * (TILE_WORDS / 4);
        if constexpr (W2 && bits == 4) {
          const int2 v = *reinterpret_cast<const int2*>(tb);
          fr.bq[0] = v.x; fr.bq[1] = v.y;
        } else {
          const int4 v0 = tb[0];
          fr.bq[0] = v0.x; fr.bq[1] = v0.y; fr.bq[2] = v0.z; fr.bq[3] = v0.w;
          if constexpr (bits == 8 && !W2) {
            const int4 v1 = tb[32];
            fr.bq[4] = v1.x; fr.bq[5] = v1.y; fr.bq[6] = v1.z; fr.bq[7] = v1.w;
          }
        }
      }

      // scales for the 8 columns this lane touches: column (lane/4) + 8 j of the warp's 64
      // (stored transposed so that they are contiguous)
      if constexpr (group_blocks != 0) {
        const int srow = SROWS > 1 ? ks / group_blocks : 0;
        if constexpr (s_byte) {
          const unsigned char* sb = reinterpret_cast<const unsigned char*>(ss) + srow * BN + s_col;
          if constexpr (W2) {
            fr.sbyte[0] = *reinterpret_cast<const uint32_t*>(sb);
          } else {
            const uint2 s2b = *reinterpret_cast<const uint2*>(sb);
            fr.sbyte[0] = s2b.x;
            fr.sbyte[1] = s2b.y;
          }
        } else if constexpr (!SCALE_AFTER) {
          int4 s4 = load_cols<W2>(ss + srow * BN + s_col);
          if constexpr (FP8_CVT) {
            const half2 k = __half2half2(__ushort_as_half(0x1c00));  // 2^-8
            uint32_t* pairs = reinterpret_cast<uint32_t*>(&s4);
#pragma unroll
            for (int i = 0; i < NWB; ++i) pairs[i] = bits_of(__hmul2(F::from_bits(pairs[i]), k));
          }
          const T* sp = reinterpret_cast<const T*>(&s4);
#pragma unroll
          for (int j = 0; j < 2 * NWB; ++j) fr.sv[j] = sp[j];
        }
        if constexpr (has_zp) {
          const char* zbase = base + SM.a_bytes + SM.b_bytes + SM.s_bytes;
          if constexpr (is_zp_float) {
            const int4 z4 = load_cols<W2>(reinterpret_cast<const T*>(zbase) + srow * BN + s_col);
            const T* zp = reinterpret_cast<const T*>(&z4);
#pragma unroll
            for (int j = 0; j < 2 * NWB; ++j) fr.zf[j] = zp[j];
          } else if constexpr (!ZP_ONCE) {
            const uint32_t zw = zp_word(base, srow);
#pragma unroll
            for (int j = 0; j < 2 * NWB; ++j) fr.zi[j] = (zw >> (4 * j)) & 0xf;
          }
        }
      }

      // act-order: 4 k-rows per lane, each with its own group
      if constexpr (group_blocks == 0) {
        const int* sg = reinterpret_cast<const int*>(base + SM.a_bytes + SM.b_bytes + SM.s_bytes + SM.z_bytes);
        const int r = 2 * (lane % 4);
        const int rows[4] = {r, r + 1, r + 8, r + 9};
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          const int g = sg[ks * 16 + rows[q]];
          fr.sga[q] = load_cols<W2, true>(S + (size_t)g * prob_n + n_base + s_col);
        }
      }

    }
    // FOLD: the stage's unscaled sums per 16-column block, started at the raw codes' offset
    // times the activations (the same for every column: rows 2t, 2t+1 of the lane)
    float fold[FOLD ? 4 : 1][4];
    if constexpr (FOLD) {
      float start[4] = {0.f, 0.f, 0.f, 0.f};
      if constexpr (RAW) {
        constexpr uint32_t off = raw_offset<bf16, bits>(fixed_bias);
        const uint32_t wo[4] = {off, off, off, off};
#pragma unroll
        for (int kk = 0; kk < KSUB; ++kk) {
          const uint32_t xb[2] = {frs[kk].fa[0][0], frs[kk].fa[0][1]};
          ptx::mma_16816<bf16>(wo, xb, start);
        }
      }
#pragma unroll
      for (int w = 0; w < 4; ++w)
#pragma unroll
        for (int e = 0; e < 4; ++e) fold[w][e] = start[e];
    }
    // Sub-tiles past K (a partial last K tile) run on their zero-filled copies: A is zero there,
    // so they add exact zeros. (Skipping them with a branch kept ptxas from issuing the next
    // sub-tile's shared loads before it.)
#pragma unroll
    for (int kk = 0; kk < KSUB; ++kk) {
      Frags& fr = frs[kk];
#pragma unroll
      for (int w = 0; w < NWB; ++w) {  // W2: local block w is the warp's block 2g + w
        uint32_t fb[2][2];
        if constexpr (WeightFormat<b_type_id>::defined) {
          static_assert(WeightFormat<b_type_id>::bits == 4, "plugin weight formats use the 4-bit tile layout");
          WeightFormat<b_type_id>::template dequant<bf16>(fr.bq[w], fb);
        } else if constexpr (b_fp && bits == 4) {
          dequant_fp4<bf16>(fr.bq[w], fb);
        } else if constexpr (FP8_CVT) {
          dequant_fp8_cvt(fr.bq[2 * w], fr.bq[2 * w + 1], fb);
        } else if constexpr (b_fp) {
          dequant_fp8<bf16>(fr.bq[2 * w], fr.bq[2 * w + 1], fb);
        } else if constexpr (bits == 4) {
          if constexpr (ZP_ONCE) {
            dequant_4bit<bf16>(fr.bq[w], zc[w], fb);
          } else if constexpr (int_zp) {
            dequant_4bit<bf16>(fr.bq[w], bias4<bf16>(fr.zi[2 * w], fr.zi[2 * w + 1]), fb);
          } else if constexpr (RAW) {
            dequant_4bit_raw<bf16>(fr.bq[w], fb);
          } else {
            dequant_4bit<bf16>(fr.bq[w], bias4<bf16>(fixed_bias, fixed_bias), fb);
          }
        } else if constexpr (RAW) {
          dequant_8bit_raw(fr.bq[2 * w], fr.bq[2 * w + 1], fb);
        } else {
          dequant_8bit<bf16>(fr.bq[2 * w], fr.bq[2 * w + 1], fixed_bias, fb);
        }
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          if constexpr (s_byte) {
            // column 2w + j: byte (2w + j) % 4 of word (2w + j) / 4
            const T2 s2 = F::from_bits(byte_scale_pair<s_type_id, bf16>(fr.sbyte[w / 2], (2 * w + j) % 4));
#pragma unroll
            for (int h = 0; h < 2; ++h) fb[j][h] = bits_of(__hmul2(F::from_bits(fb[j][h]), s2));
          } else if constexpr (SCALE_AFTER || FOLD) {
            // per channel: the accumulators are scaled after the K loop; FOLD: after the stage
          } else if constexpr (group_blocks != 0) {
            const T2 s2 = T2{fr.sv[2 * w + j], fr.sv[2 * w + j]};
            if constexpr (is_zp_float) {
              // (q - z) * s = q * s + (-z * s)
              const T2 nzs = __hneg2(__hmul2(T2{fr.zf[2 * w + j], fr.zf[2 * w + j]}, s2));
#pragma unroll
              for (int h = 0; h < 2; ++h) fb[j][h] = bits_of(__hfma2(F::from_bits(fb[j][h]), s2, nzs));
            } else {
#pragma unroll
              for (int h = 0; h < 2; ++h) fb[j][h] = bits_of(__hmul2(F::from_bits(fb[j][h]), s2));
            }
          } else {
            const int e = 2 * w + j;
            const T* s0 = reinterpret_cast<const T*>(&fr.sga[0]);
            const T* s1 = reinterpret_cast<const T*>(&fr.sga[1]);
            const T* s2p = reinterpret_cast<const T*>(&fr.sga[2]);
            const T* s3 = reinterpret_cast<const T*>(&fr.sga[3]);
            fb[j][0] = bits_of(__hmul2(F::from_bits(fb[j][0]), T2{s0[e], s1[e]}));
            fb[j][1] = bits_of(__hmul2(F::from_bits(fb[j][1]), T2{s2p[e], s3[e]}));
          }
        }
        if constexpr (WG) {
          fr.wa[w][0] = fb[0][0];
          fr.wa[w][1] = fb[1][0];
          fr.wa[w][2] = fb[0][1];
          fr.wa[w][3] = fb[1][1];
        } else if constexpr (TR) {
          const uint32_t wa[4] = {fb[0][0], fb[1][0], fb[0][1], fb[1][1]};
          const uint32_t xb[2] = {fr.fa[0][0], fr.fa[0][1]};
          if constexpr (FOLD) {
            ptx::mma_16816<bf16>(wa, xb, fold[w]);
          } else {
            ptx::mma_16816<bf16>(wa, xb, acc[0][w]);
          }
        } else {
#pragma unroll
          for (int mb = 0; mb < MB; ++mb) {
            ptx::mma_16816<bf16>(fr.fa[mb], fb[0], acc[mb][2 * w]);
            ptx::mma_16816<bf16>(fr.fa[mb], fb[1], acc[mb][2 * w + 1]);
          }
        }
      }
      if constexpr (WG) {
        // wgmma w: the warpgroup's 64 rows are column block w (16 columns) of each warp's 64,
        // its N the BM activation rows; it accumulates into the lane's (acc flat) floats
        // [w * BM / 2, (w + 1) * BM / 2). Sub-tile ks starts 32 bytes per k16 into the stage's
        // A rows (within the swizzle atom, so the atom base stays aligned).
        const int ks = k_first + kk;
        const uint64_t desc = ptx::wgmma_desc_sw128(sbase + 32u * ks);
        float* accf = &acc[0][0][0];
        ptx::wgmma_fence();
        if constexpr (W2) {
          // wgmma j: column block 2g + j of each warp's 64 by all 128 rows, floats [64 j, 64 j + 64)
#pragma unroll
          for (int j = 0; j < 2; ++j) ptx::wgmma_rs<128, bf16>(accf + j * 64, fr.wa[j], desc);
        } else {
#pragma unroll
          for (int w = 0; w < 4; ++w) ptx::wgmma_rs<BM, bf16>(accf + w * (BM / 2), fr.wa[w], desc);
        }
        ptx::wgmma_commit();
        // at most this group in flight (W2: and the one before): the older ones have finished
        // reading their fragment registers (written next by the sub-tile KSUB later; every
        // sub-tile of a stage has its own) and their ring slot (refilled at the next stage's
        // fetch: AHEAD). W2 keeps two: its barrier stalls both warpgroups each stage, and the
        // tensor pipe needs the queued work meanwhile (H100 kbench: -4 to -6% at M = 128..1024;
        // the 64-row mode gained nothing from it, and three were slower than two).
        ptx::wgmma_wait<W2 ? 2 : 1>();
      }
    }
    // FOLD: the group's scales of the lane's columns g + 16 w (floats 0, 1: activation rows 2t,
    // 2t + 1) and g + 16 w + 8 (floats 2, 3), all sub-tiles' group (the first one's row)
    if constexpr (FOLD) {
#pragma unroll
      for (int w = 0; w < 4; ++w) {
        const float2 sc = F::to_floats(T2{frs[0].sv[2 * w], frs[0].sv[2 * w + 1]});
        acc[0][w][0] = fmaf(sc.x, fold[w][0], acc[0][w][0]);
        acc[0][w][1] = fmaf(sc.x, fold[w][1], acc[0][w][1]);
        acc[0][w][2] = fmaf(sc.y, fold[w][2], acc[0][w][2]);
        acc[0][w][3] = fmaf(sc.y, fold[w][3], acc[0][w][3]);
      }
    }
  };

  // ---- the pipelined K loop. Tiles are fetched AHEAD tiles ahead into the slot freed last.
  // WG: the last sub-tile's wgmmas of a stage still read its slot while the next stage is
  // dequantized, so the slot refilled is the one of two stages back (AHEAD = stages - 2).
  constexpr int AHEAD = WG ? ST - 2 : ST - 1;
  static_assert(AHEAD >= 1, "WG needs at least three stages");
  // Programmatic dependent launch (the host asks for it on sm_90+, docs/kernel.md): this grid may
  // start before the previous kernel is complete, once its blocks have exited or released their
  // dependents (our own grids release after the K loop, below, where launch_plan says so). The
  // B rows and scale rows of the prologue's K tiles are prefetched into L2 meanwhile (L2 is the
  // GPU's point of coherence, so a later read still sees anything that kernel wrote); A, the
  // workspace, C and the bias are touched only after griddep_wait.
  {
    const int kt0 = it_begin * thread_k_blocks;
    const int rows_b = min(min(it_end - it_begin, AHEAD * IT_STEP) * thread_k_blocks, k16_total - kt0);
    for (int i = tid; i < rows_b; i += threads)
      ptx::prefetch_l2(B + (size_t)(kt0 + i) * b_row + (size_t)(n_base / 64) * (TILE_WORDS / 4), B_CH_ROW * 16);
    if constexpr (group_blocks != 0) {
      // act-order's scale rows are reached through g_idx: not prefetched
      const int g0 = group_blocks > 0 ? kt0 / group_blocks : 0;
      const int g1 = group_blocks > 0 ? min(p.num_groups, (kt0 + rows_b + group_blocks - 1) / group_blocks) : 1;
      for (int g = g0 + tid; g < g1; g += threads)
        ptx::prefetch_l2(reinterpret_cast<const char*>(p.scales) + ((size_t)g * prob_n + n_base) * (s_byte ? 1 : 2),
                         s_byte ? BN : 2 * BN);
    }
  }
  if (a_tma) {  // one arrival per phase: the ring's first thread's, with the bytes it announces
    if (ctid == 0) {
      for (int s = 0; s < ST; ++s) ptx::mbar_init(a_bar0 + 8u * s, 1);
      ptx::fence_mbar_init();
    }
    __syncthreads();
  }
  ptx::griddep_wait();
#pragma unroll
  for (int s = 0; s < AHEAD; ++s) {
    if (it_first + s * IT_STEP < it_end) fetch(it_first + s * IT_STEP, s);
    ptx::cp_async_commit();
  }
  int st = 0;
  uint32_t a_ph = 0;  // a_tma: parity of the slots' current mbarrier phase (flips at each wrap)
  for (int it = it_first; it < it_end; it += IT_STEP) {
    ptx::cp_async_wait<AHEAD - 1>();
    if constexpr (W2) {
      if (a_tma) ptx::mbar_wait(a_bar0 + 8u * st, a_ph);
      ptx::fence_proxy_async_smem();  // the A tile is read by wgmma
      __syncthreads();
    } else if constexpr (WG) {
      if (a_tma) ptx::mbar_wait(a_bar0 + 8u * st, a_ph);
      ptx::fence_proxy_async_smem();
      // this warpgroup's stage is in (named barrier per warpgroup)
      if (wg == 0) {
        ptx::bar_sync_warpgroup<1>();
      } else {
        ptx::bar_sync_warpgroup<2>();
      }
    } else {
      __syncthreads();
    }
    {
      const int nxt = it + AHEAD * IT_STEP;
      int nst = st + AHEAD;
      if (nst >= ST) nst -= ST;
      if (nxt < it_end) fetch(nxt, nst);
      ptx::cp_async_commit();
    }
    compute(st);
    if (st + 1 == ST) {
      st = 0;
      a_ph ^= 1u;
    } else {
      ++st;
    }
  }
  ptx::cp_async_wait<0>();
  // Programmatic dependent launch: the next kernel on the stream may be placed from here on
  // (launch_plan asks for it only where no second block fits on an SM; its wait still covers
  // this whole grid)
  if (p.release_early) ptx::griddep_launch_dependents();
  if constexpr (WG) {
    ptx::wgmma_wait<0>();
#pragma unroll
    for (int i = 0; i < MB * NJ * 4; ++i) ptx::reg_fence((&acc[0][0][0])[i]);
  }
  __syncthreads();

  // ---- sum the k warps in fixed order (shared memory reused; W2: the warpgroups hold different
  // columns)
  if constexpr (K_WARPS > 1 && !W2)
    reduce::k_warps<K_WARPS, N_WARPS, MB, NJ>(acc, reinterpret_cast<float4*>(smem), warp_k, warp_n, lane);

  // Where accumulator fragment (wn, mb, j) of lane ln lands in C: its first value's row and
  // column. Its 4 values are (row, col), (row, col + 1), (row + 8, col), (row + 8, col + 1) for
  // the mma.sync tiles, and, for the transposed products (TR, WG), (row, col), (row + 1, col),
  // (row, col + 8), (row + 1, col + 8): n8 tile j of m16 block mb (rows g, g+8, columns 2t,
  // 2t+1), or the columns g, g+8 and rows 2t, 2t+1 of flat float4 q = mb * NJ + j: 16-column
  // block q / (BM / 8), n8 row block q % (BM / 8) (TR: BM = 8, so block j and row block 0; WG:
  // wgmma q / (BM / 8)). W2 passes the warpgroup as mb and q as j: wgmma q / 16 (column block
  // 2 mb + q / 16 of the warp's 64), n8 row block q % 16.
  struct FragAt {
    int row, col;
  };
  auto frag_at = [&](int wn, int mb, int j, int ln) -> FragAt {
    if constexpr (W2) {
      return {m_base + 8 * (j % 16) + 2 * (ln % 4), n_base + wn * 64 + 16 * (2 * mb + j / 16) + ln / 4};
    } else if constexpr (TR || WG) {
      const int q = mb * NJ + j;
      return {m_base + 8 * (q % (BM / 8)) + 2 * (ln % 4), n_base + wn * 64 + 16 * (q / (BM / 8)) + ln / 4};
    } else {
      return {m_base + mb * 16 + ln / 4, n_base + wn * 64 + 16 * (j / 2) + 8 * (j % 2) + 2 * (ln % 4)};
    }
  };

  // per-channel scales (SCALE_AFTER), on the summed fragments before they leave the registers
  // (split-K partials included, so 16-bit partials hold scaled values as before)
  // (the prepared scale order is an 8x8 transpose inside each 64-column chunk, docs/kernel.md:
  // column chunk + i + 8 j is at chunk + 8 i + j, so columns c and c + 8 are neighbours)
  if constexpr (SCALE_AFTER) {
    auto scale_at = [&](int col) { return S + (col & ~63) + 8 * (col % 8) + (col % 64) / 8; };
    constexpr float unfold = FP8_CVT ? 1.f / 256 : 1.f;  // FP8_CVT: the host's 2^8, exactly
    if (W2 || warp_k == 0) {
#pragma unroll
      for (int mb = 0; mb < MB; ++mb)
#pragma unroll
        for (int j = 0; j < NJ; ++j) {
          const FragAt at = W2 ? frag_at(warp_n, wg, mb * NJ + j, lane) : frag_at(warp_n, mb, j, lane);
          if constexpr (TR || WG) {
            // at.col % 16 < 8: columns col, col + 8 in one 4-byte load
            float2 sc = F::to_floats(*reinterpret_cast<const T2*>(scale_at(at.col)));
            sc.x *= unfold;
            sc.y *= unfold;
            acc[mb][j][0] *= sc.x;
            acc[mb][j][1] *= sc.x;
            acc[mb][j][2] *= sc.y;
            acc[mb][j][3] *= sc.y;
          } else {
            float2 sc = F::to_floats(T2{*scale_at(at.col), *scale_at(at.col + 1)});  // col, col + 1
            sc.x *= unfold;
            sc.y *= unfold;
            acc[mb][j][0] *= sc.x;
            acc[mb][j][1] *= sc.y;
            acc[mb][j][2] *= sc.x;
            acc[mb][j][3] *= sc.y;
          }
        }
    }
  }

  // FP4 weights: the fp32 factor the dequant left out (NVFP4: the prepared global scale,
  // which includes 2^7; MXFP4: 2^62), applied before any rounding to 16 bits
  if constexpr (nvfp4 || mxfp4) {
    const float gs = nvfp4 ? __ldg(p.global_scale) : 4611686018427387904.0f;  // 2^62
#pragma unroll
    for (int mb = 0; mb < MB; ++mb)
#pragma unroll
      for (int j = 0; j < NJ; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[mb][j][e] *= gs;
  }

  // C[row, col:col+2] = (v0, v1) + bias, rows >= prob_m skipped
  auto store_pair = [&](int row, int col, float v0, float v1) {
    if (row >= prob_m) return;
    if (p.has_bias) {
      const float2 bb = F::to_floats(*reinterpret_cast<const T2*>(reinterpret_cast<const T*>(p.bias) + col));
      v0 += bb.x;
      v1 += bb.y;
    }
    *reinterpret_cast<T2*>(reinterpret_cast<T*>(p.C) + (size_t)row * prob_n + col) = F::from_floats(v0, v1);
  };
  // C[row, col] = v + bias, rows >= prob_m skipped (the transposed tiles' single elements)
  auto store_one = [&](int row, int col, float v) {
    if (row >= prob_m) return;
    if (p.has_bias) v += F::to_floats(T2{reinterpret_cast<const T*>(p.bias)[col], T{}}).x;
    reinterpret_cast<T*>(p.C)[(size_t)row * prob_n + col] = F::from_floats(v, 0.f).x;
  };
  // One accumulator fragment's 4 values (frag_at) + bias, converted and stored
  auto store_frag = [&](int wn, int mb, int j, int ln, float4 v) {
    const FragAt at = frag_at(wn, mb, j, ln);
    if constexpr (TR || WG) {
      store_one(at.row, at.col, v.x);
      store_one(at.row + 1, at.col, v.y);
      store_one(at.row, at.col + 8, v.z);
      store_one(at.row + 1, at.col + 8, v.w);
    } else {
      store_pair(at.row, at.col, v.x, v.y);
      store_pair(at.row + 8, at.col, v.z, v.w);
    }
  };

  // Where C allows 16-byte stores (c_16), the wgmma tiles' unsplit epilogue passes C through
  // shared memory (below). The split-K sum keeps store_frag: staging it per warp as well cost
  // 2-3.5 s of compile time in the largest generated file and measured level on the GPU
  // (docs/performance.md, nineteenth session).
  const bool c_16 = WG && (reinterpret_cast<uintptr_t>(p.C) & 15) == 0 && prob_n % 8 == 0;
  // The wide tile's unsplit C, where c_16: a warp whose 32 lanes hold one whole fragment stores it
  // through a 256-byte shared scratch: stmatrix .trans turns it into 8 rows of 16 columns,
  // written as 16 16-byte stores. Same bias and rounding as store_one, so the same bits.
  auto store_frag_warp = [&](int wn, int mb, int j, float4 v) {
    const FragAt at = frag_at(wn, mb, j, 0);  // the fragment's first row and column
    if (p.has_bias) {
      const T* bias = reinterpret_cast<const T*>(p.bias);
      const float b0 = F::to_floats(T2{bias[at.col + lane / 4], T{}}).x;
      const float b8 = F::to_floats(T2{bias[at.col + 8 + lane / 4], T{}}).x;
      v.x += b0;
      v.y += b0;
      v.z += b8;
      v.w += b8;
    }
    const uint32_t scratch = ptx::smem_addr(smem) + 256u * warp;
    ptx::stmatrix_x2_trans(scratch + 32u * (lane % 8) + 16u * ((lane / 8) % 2), bits_of(F::from_floats(v.x, v.y)),
                           bits_of(F::from_floats(v.z, v.w)));
    __syncwarp();
    if (lane < 16 && at.row + lane / 2 < prob_m)
      *reinterpret_cast<int4*>(reinterpret_cast<T*>(p.C) + (size_t)(at.row + lane / 2) * prob_n + at.col + 8 * (lane % 2)) =
          ptx::ld_shared_16(scratch + 16u * lane);
    __syncwarp();
  };

  // ---- global reduction over K slices: each block writes its partial (fragment order) to
  // C_tmp, and the last to arrive at the tile's counter sums all of them in slice order
  // (bit-identical run to run), adds the bias, stores C and resets the counter.
  if (slices > 1) {
    // W2: every warp holds its own fragments (128 rows: twice the partial), indexed by warp
    const size_t slot_floats = (size_t)partial_floats(W2 ? 8 : thread_m_blocks, thread_n_blocks);
    auto frag_index = [&](int wn, int mb, int j) { return ((wn * MB + mb) * NJ + j) * 32 + lane; };
    const int part_warp = W2 ? warp : warp_n;
    __shared__ int is_last;
    if (W2 || warp_k == 0) {
      if (p.use_fp32_reduce) {
        float4* part = reinterpret_cast<float4*>(p.C_tmp + ((size_t)sg.slot0 + slice) * slot_floats);
#pragma unroll
        for (int mb = 0; mb < MB; ++mb)
#pragma unroll
          for (int j = 0; j < NJ; ++j)
            __stcg(part + frag_index(part_warp, mb, j), make_float4(acc[mb][j][0], acc[mb][j][1], acc[mb][j][2], acc[mb][j][3]));
      } else {
        // 16-bit partials (half the traffic, rounding at every slice)
        uint2* part = reinterpret_cast<uint2*>(p.C_tmp) + ((size_t)sg.slot0 + slice) * slot_floats / 4;
#pragma unroll
        for (int mb = 0; mb < MB; ++mb)
#pragma unroll
          for (int j = 0; j < NJ; ++j) {
            uint2 v;
            v.x = bits_of(F::from_floats(acc[mb][j][0], acc[mb][j][1]));
            v.y = bits_of(F::from_floats(acc[mb][j][2], acc[mb][j][3]));
            __stcg(part + frag_index(part_warp, mb, j), v);
          }
      }
    }
    __threadfence();
    __syncthreads();
    // Sum fragment indices [idx_begin, idx_end) of the tile over all slices, in slice order, add
    // the bias and store C: all threads (coalesced 16-byte reads); any thread can handle any
    // fragment index.
    constexpr int NF4 = (W2 ? WARPS : N_WARPS) * MB * NJ * 32;
    auto sum_slices = [&](int idx_begin, int idx_end) {
      for (int idx = idx_begin + tid; idx < idx_end; idx += threads) {
        float4 sum = make_float4(0.f, 0.f, 0.f, 0.f);
        // up to 8 slices' loads in flight, then added in slice order
#pragma unroll 1
        for (int s0 = 0; s0 < slices; s0 += 8) {
          float4 v[8];
#pragma unroll
          for (int u = 0; u < 8; ++u) {
            const int sl = s0 + u;
            if (sl < slices) {
              if (p.use_fp32_reduce) {
                v[u] = __ldcg(reinterpret_cast<const float4*>(p.C_tmp + ((size_t)sg.slot0 + sl) * slot_floats) + idx);
              } else {
                const uint2 h =
                    __ldcg(reinterpret_cast<const uint2*>(p.C_tmp) + ((size_t)sg.slot0 + sl) * slot_floats / 4 + idx);
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
        const int wn = W2 ? idx / (32 * NJ * MB) % N_WARPS : idx / (32 * NJ * MB);  // W2: warp wv = idx / (32 NJ MB)
        const int mb = W2 ? idx / (32 * NJ * MB) / N_WARPS : (idx / (32 * NJ)) % MB;  // (warpgroup wv / 4, column wv % 4)
        const int j = W2 ? (idx / 32) % (NJ * MB) : (idx / 32) % NJ;
        store_frag(wn, mb, j, idx % 32, sum);
      }
    };
    // reduce_together (host: a one-wave grid; compiled only into the multi-m-block tiles, whose
    // partials are big enough to gain, not into the 1-m-block and 8-row ones): the tile is
    // cut into `slices` shares, and every block that sees all partials in claims one and sums it,
    // instead of the last block summing the whole tile alone (that read 512 KB of partials, 64
    // rows x 256 columns x 8 slices, in ~10 us). The tile's counter word holds the arrivals (bits
    // 0-9), the claimed shares (10-19) and the blocks done (20-31). A block that waits longer
    // than kWaitCycles for the others (they may not be resident: other work on the GPU) leaves
    // without a share, and the last to arrive claims shares until none is left, so every share
    // is summed exactly once and nothing waits on a block that cannot start. The same sum order
    // as the last-arrival sum below: the same bits.
    if constexpr (MB > 1) {
      if (p.reduce_together) {
        __shared__ int claim;  // a share to sum, or >= slices: none (left)
        constexpr long long kWaitCycles = 1ll << 17;  // ~70-90 us
        unsigned* word = reinterpret_cast<unsigned*>(p.locks + tile);
        if (tid == 0) {
          is_last = (atomicAdd(word, 1u) & 1023u) + 1 == unsigned(slices);
          bool all_in = is_last;
          const long long t0 = clock64();
          while (!all_in && clock64() - t0 < kWaitCycles) all_in = (ptx::ld_acquire_gpu(p.locks + tile) & 1023) >= slices;
          claim = all_in ? int((atomicAdd(word, 1u << 10) >> 10) & 1023u) : slices;
        }
        __syncthreads();
        const int share = (NF4 / 32 + slices - 1) / slices * 32;  // whole warps of fragments
        while (claim < slices) {
          __threadfence();
          const int c = claim;
          sum_slices(min(NF4, c * share), min(NF4, (c + 1) * share));
          __syncthreads();  // all have read `claim`
          if (tid == 0) claim = is_last ? int((atomicAdd(word, 1u << 10) >> 10) & 1023u) : slices;
          __syncthreads();
        }
        // the last block done with the counter leaves it at 0
        if (tid == 0 && (atomicAdd(word, 1u << 20) >> 20) + 1 == unsigned(slices)) *word = 0u;
        return;
      }
    }
    // the last block to arrive sums the whole tile
    if (tid == 0) is_last = atomicAdd(p.locks + tile, 1) == slices - 1;
    __syncthreads();
    if (!is_last) return;
    __threadfence();
    sum_slices(0, NF4);
    if (tid == 0) p.locks[tile] = 0;
    return;
  }

  // ---- epilogue: bias, convert, store (rows >= prob_m predicated)
  if constexpr (WG) {
    // The wgmma tiles' fragments are transposed (4 single elements in 2 rows each), which made
    // this store 4 scattered 2-byte writes per fragment: 8-15% of the 64- and 128-row tiles' time
    // where K is not split (H100, 8192 x 28672). So the tile goes through shared memory instead:
    // stmatrix .trans writes the converted fragments as row-major C rows (16-byte chunks XOR
    // row % 8, conflict-free both ways), then every thread stores whole 16-byte chunks of rows
    // < prob_m. Same bias and rounding as store_one, so the same bits.
    // The wide tile instead stores by warp (store_frag_warp) after one barrier: 5% faster than
    // the staging at 8192 x 28672, M = 64..1024 (kbench, H100, nineteenth session).
    if constexpr (W2) {
      if (c_16) {
        __syncthreads();  // the ring is done with (the scratch is ring slot 0's first 2 KB)
        const float* f = &acc[0][0][0];
#pragma unroll
        for (int q = 0; q < MB * NJ; ++q)
          store_frag_warp(warp_n, wg, q, make_float4(f[4 * q], f[4 * q + 1], f[4 * q + 2], f[4 * q + 3]));
        return;
      }
    }
    if (!W2 && c_16) {
      static_assert(BM * BN * 2 <= SM.total, "the staged C tile fits the shared memory");
      constexpr int CHR = BN / 8;  // 16-byte chunks per row
      const uint32_t c_s = ptx::smem_addr(smem);
      auto chunk = [&](int r, int ch) { return c_s + uint32_t(r * (BN * 2) + ((ch ^ (r % 8)) * 16)); };
      __syncthreads();  // the ring and the k-warp sum's buffer are done with
      if (warp_k == 0) {
        const T* bias = reinterpret_cast<const T*>(p.bias);
#pragma unroll
        for (int mb = 0; mb < MB; ++mb)
#pragma unroll
          for (int j = 0; j < NJ; ++j) {
            // the fragment's (row, column) block: frag_at of lane 0, relative to the tile
            const FragAt at = frag_at(warp_n, mb, j, 0);
            const int r0 = at.row - m_base, c0 = at.col - n_base;
            float4 v = make_float4(acc[mb][j][0], acc[mb][j][1], acc[mb][j][2], acc[mb][j][3]);
            // (the bias as in store_frag_warp, written out again: a shared helper compiled the
            // wgmma kernels to other machine code than the measured one)
            if (p.has_bias) {
              const float b0 = F::to_floats(T2{bias[at.col + lane / 4], T{}}).x;
              const float b8 = F::to_floats(T2{bias[at.col + 8 + lane / 4], T{}}).x;
              v.x += b0;
              v.y += b0;
              v.z += b8;
              v.w += b8;
            }
            // (x, y): columns c0 + lane / 4, rows r0 + 2 (lane % 4), +1; (z, w): columns + 8
            ptx::stmatrix_x2_trans(chunk(r0 + lane % 8, c0 / 8 + (lane / 8) % 2), bits_of(F::from_floats(v.x, v.y)),
                                   bits_of(F::from_floats(v.z, v.w)));
          }
      }
      __syncthreads();
      const int rows = min(BM, prob_m - m_base);
      T* const c_tile = reinterpret_cast<T*>(p.C) + (size_t)m_base * prob_n + n_base;
      for (int i = tid; i < rows * CHR; i += threads)
        *reinterpret_cast<int4*>(c_tile + (size_t)(i / CHR) * prob_n + 8 * (i % CHR)) =
            ptx::ld_shared_16(chunk(i / CHR, i % CHR));
      return;
    }
  }
  if constexpr (W2) {
    const float* f = &acc[0][0][0];
#pragma unroll
    for (int q = 0; q < MB * NJ; ++q) store_frag(warp_n, wg, q, lane, make_float4(f[4 * q], f[4 * q + 1], f[4 * q + 2], f[4 * q + 3]));
  } else if (warp_k == 0) {
#pragma unroll
    for (int j = 0; j < NJ; ++j)
#pragma unroll
      for (int mb = 0; mb < MB; ++mb)
        store_frag(warp_n, mb, j, lane, make_float4(acc[mb][j][0], acc[mb][j][1], acc[mb][j][2], acc[mb][j][3]));
  }
}

// The block's work: by default one segment, (tile, K slice) = divmod(blockIdx.x, slices) with
// slices = gridDim.x / tiles and equal K slices. With p.stream_k (stream_k_shape() kernels, only
// when MARLIN_STREAM_K asks: slower on the H100 so far, docs/performance.md), the (tile, K tile) units of
// the whole GEMM are dealt out evenly to the gridDim.x blocks in order, so a block's run may
// start inside one tile and end inside a later one: it works its segments one after another
// (each with its own pipeline fill and split-K partial). That keeps every SM equally busy when
// the tile count is not a multiple of the grid (8192 x 28672 at M <= 16: 224 or 112 tiles on
// 132 SMs). The contributors of a tile are consecutive blocks; pair (tile t, block b) gets
// partial slot t + b, unique because a later block never works on an earlier tile.
template <ScalarTypeId a_type_id, ScalarTypeId b_type_id, ScalarTypeId s_type_id, int threads,
          int thread_m_blocks, int thread_n_blocks, int thread_k_blocks, bool m_block_size_8, int stages,
          int group_blocks, bool is_zp_float, bool W2 = false>
__device__ __forceinline__ void marlin_body(const KernelParams& p) {
  constexpr int BM = m_block_size_8 ? 8 : (W2 ? 128 : 16 * thread_m_blocks);
  constexpr bool SK = !W2 && stream_k_shape(threads, thread_m_blocks);  // else the host never asks
  const int m_tiles = (p.prob_m + BM - 1) / BM;
  const int tiles = m_tiles * (p.prob_n / (16 * thread_n_blocks));
  const int k_iters = (p.prob_k + 16 * thread_k_blocks - 1) / (16 * thread_k_blocks);
  Segment sg;
  int u = 0, u_end = 0;  // stream-K: the block's units [u, u_end), unit = tile * k_iters + K tile
  // stream-K: units per block q (the first r blocks take one more), and which block holds unit v
  const int units = tiles * k_iters, q = units / gridDim.x, r = units % gridDim.x;
  auto block_of = [&](int v) { return v < r * (q + 1) ? v / (q + 1) : r + (v - r * (q + 1)) / q; };
  if (!SK || !p.stream_k) {
    const int slices = gridDim.x / tiles;
    const int tile = blockIdx.x / slices;
    if (tile >= tiles) return;  // whole block: never happens with a host-computed grid
    const int slice = blockIdx.x % slices;
    const int iters_per_slice = (k_iters + slices - 1) / slices;
    const int it_begin = min(k_iters, slice * iters_per_slice);
    sg = Segment{tile, slices, slice, it_begin, min(k_iters, it_begin + iters_per_slice), tile * slices};
    if constexpr (!SK) {
      marlin_segment<a_type_id, b_type_id, s_type_id, threads, thread_m_blocks, thread_n_blocks, thread_k_blocks,
                     m_block_size_8, stages, group_blocks, is_zp_float, W2>(p, sg);
      return;
    }
  } else {
    const int b = blockIdx.x;
    u = b * q + min(b, r);
    u_end = u + q + (b < r ? 1 : 0);
  }
  if constexpr (SK) {
  while (true) {
    if (p.stream_k) {
      if (u >= u_end) return;
      const int tile = u / k_iters, t0 = tile * k_iters;
      const int first = block_of(t0), last = block_of(t0 + k_iters - 1);
      sg = Segment{tile, last - first + 1, int(blockIdx.x) - first, u - t0, min(u_end - t0, k_iters), tile + first};
      u = t0 + k_iters;
    }
    marlin_segment<a_type_id, b_type_id, s_type_id, threads, thread_m_blocks, thread_n_blocks, thread_k_blocks,
                   m_block_size_8, stages, group_blocks, is_zp_float, W2>(p, sg);
    if (!p.stream_k) return;
    __syncthreads();  // the next segment refills the shared memory this one used last
  }
  }
}

}  // namespace detail

template <ScalarTypeId a_type_id, ScalarTypeId b_type_id, ScalarTypeId c_type_id,
          ScalarTypeId s_type_id, int threads, int thread_m_blocks, int thread_n_blocks,
          int thread_k_blocks, bool m_block_size_8, int stages, int group_blocks,
          bool is_zp_float>
__global__ void __launch_bounds__(threads) Marlin(MARLIN_KERNEL_PARAMS) {
  static_assert(threads == 128 || threads == 256, "threads must be 128 or 256");
  static_assert(!m_block_size_8 || thread_m_blocks == 1, "the 8-row tile needs thread_m_blocks == 1");
  if constexpr (body_supported<a_type_id, b_type_id, c_type_id, s_type_id, group_blocks, is_zp_float>()) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    if constexpr (a_type_id == type_id::kBFloat16) {
      __trap();  // no bf16 tensor cores on sm75
    } else
#endif
    {
      // the 4-m-block wgmma tile has a second mode, 128-row tiles (W2), chosen by the host
      if constexpr (MARLIN_HAS_WGMMA && thread_m_blocks == 4 &&
                    wgmma_shape(threads, m_block_size_8, thread_n_blocks, thread_k_blocks)) {
        if (params.wide_m) {
          detail::marlin_body<a_type_id, b_type_id, s_type_id, threads, thread_m_blocks, thread_n_blocks,
                              thread_k_blocks, m_block_size_8, stages, group_blocks, is_zp_float, true>(params);
          return;
        }
      }
      detail::marlin_body<a_type_id, b_type_id, s_type_id, threads, thread_m_blocks, thread_n_blocks,
                          thread_k_blocks, m_block_size_8, stages, group_blocks, is_zp_float>(params);
    }
  } else if constexpr (a8_body_supported<a_type_id, b_type_id, c_type_id, s_type_id, group_blocks, is_zp_float>()) {
    // 8-bit activations: marlin_a8.cuh (arch guards inside)
    marlin_a8_entry<a_type_id, b_type_id, c_type_id, s_type_id, threads, thread_m_blocks, thread_n_blocks,
                    thread_k_blocks, m_block_size_8, stages, group_blocks>(params);
  } else {
    // combinations without a body: the host refuses these.
    __trap();
  }
}

}  // namespace marlin
