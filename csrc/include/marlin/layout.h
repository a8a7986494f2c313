// Tile layout constants and the shared-memory model, shared by the kernel template and the host
// dispatch (so both agree on how many bytes a kernel needs). See docs/kernel.md.
#pragma once
#include <cstdint>

#include "marlin/scalar_type.h"

#if defined(__CUDACC__)
#define MARLIN_HD __host__ __device__
#else
#define MARLIN_HD
#endif

namespace marlin {

// Weights are cut into 16 (k) x 64 (n) tiles stored contiguously, row-major over tiles.
constexpr int kTileK = 16;
constexpr int kTileN = 64;
constexpr int kMinThreadN = 64;

// Bits of the weight codes of a (supported) weight type.
constexpr MARLIN_HD int weight_bits(ScalarTypeId b) { return scalar_type_bits(b); }

// int32 words per 16x64 weight tile.
constexpr MARLIN_HD int tile_words(int bits) { return kTileK * kTileN * bits / 32; }

// The TMA box of a B stage (tma.h set_b_tma, marlin_template.cuh): B is k / 16 rows of
// n * bits / 4 8-byte words. A tile row of up to kBoxMax words (the most a box dimension may
// hold) is a 2-D box (words, k16 rows); a longer one (8-bit codes, 256 columns: 512 words) a 3-D
// box of kBoxMax-word pieces (words, pieces, k16 rows), which lands in the same row-major order.
constexpr int kBoxMax = 256;
constexpr MARLIN_HD int b_tile_row_words(int bits, int tile_n) { return tile_n * bits / 4; }
constexpr MARLIN_HD bool b_box_3d(int bits, int tile_n) { return b_tile_row_words(bits, tile_n) > kBoxMax; }
struct BoxAt {
  int c0, c1, c2;  // innermost first; c2 only in 3-D
};
// The box of the tile whose columns start at n_base, for the k16 rows from K offset k0.
constexpr MARLIN_HD BoxAt b_box_at(int bits, int tile_n, int n_base, int k0) {
  return b_box_3d(bits, tile_n) ? BoxAt{0, n_base * bits / 4 / kBoxMax, k0 / 16} : BoxAt{n_base * bits / 4, k0 / 16, 0};
}

constexpr MARLIN_HD int round_up(int x, int to) { return (x + to - 1) / to * to; }
constexpr MARLIN_HD int round16(int x) { return round_up(x, 16); }

// Number of scale rows one K tile touches (group_blocks > 0 groups never straddle a tile edge
// because both are powers of two in 16-row units).
constexpr MARLIN_HD int scale_rows_per_tile(int thread_k_blocks, int group_blocks) {
  return group_blocks > 0 ? (thread_k_blocks > group_blocks ? thread_k_blocks / group_blocks : 1)
                          : (group_blocks == -1 ? 1 : 0);
}

// Bytes of the k-warp reduction buffer (it reuses the pipeline's shared memory after the K loop):
// every warp but the first of each 64-column warp column hands over thread_m_blocks * 8
// fragments of 4 floats per lane. Also the W4A8 model's (layout_a8.h).
constexpr MARLIN_HD int reduce_bytes(int threads, int thread_m_blocks, int thread_n_blocks) {
  const int n_warps = thread_n_blocks / 4, k_warps = threads / 32 / n_warps;
  return (k_warps - 1) * n_warps * 32 * thread_m_blocks * 8 * 4 * 4;
}

// Tile shapes whose kernels multiply with wgmma when built for sm_90a (ptx_wgmma.cuh,
// docs/kernel.md): 256 threads = two warpgroups (one per k warp) whose 4 warps are the 4
// 64-column warp columns of a 256-wide tile, and 64-deep K tiles, so that an A row (64 halves)
// is one 128-byte swizzle row.
constexpr MARLIN_HD bool wgmma_shape(int threads, bool m_block_size_8, int thread_n_blocks, int thread_k_blocks) {
  return threads == 256 && !m_block_size_8 && thread_n_blocks == 16 && thread_k_blocks == 4;
}
constexpr int kWgmmaAlign = 1024;

// Tile shapes whose kernels can run a stream-K grid (marlin_template.cuh marlin_body): the
// 256-thread tiles of at most 2 m blocks, the ones that serve chunks of <= 16 rows (the 8-row
// and 1-m-block (128,128,256) tiles, the 2-m-block wgmma tile). Only these carry the loop over
// a block's segments. ptxas gives them more registers with it (the 8-row tile 64 -> 126, the
// 2-m-block wgmma tile 156 -> 226), and even without stream-K they ran faster on the H100 (M = 1
// 14336 x 4096 GPTQ-4 g128 17.0 -> 15.5 us, 8192 x 28672 NVFP4 67 -> 59; docs/performance.md);
// in the other kernels the loop raised registers up to spills, so they do not carry it.
constexpr MARLIN_HD bool stream_k_shape(int threads, int thread_m_blocks) {
  return threads == 256 && thread_m_blocks <= 2;
}

struct SmemModel {
  int a_bytes, b_bytes, s_bytes, z_bytes, g_bytes, stage_bytes, red_bytes, total;
};

// Shared memory of one block: `stages` copies of (A tile, B tile, scale rows, zero-point rows,
// g_idx slice); the cross-warp reduction buffer reuses the same memory after the main loop.
// `wgmma`: the kernel takes the wgmma path (a wgmma_shape() tile built for sm_90a; the host asks
// dispatch.h's wgmma_kernel): each of its two warpgroups has its own ring of `stages` slots,
// the slots start on 1024-byte boundaries (the swizzle period) and 1024 bytes more align the
// dynamic shared memory. Overestimating (wgmma for a kernel without it) only wastes memory.
constexpr MARLIN_HD SmemModel smem_model(int bits, int threads, int thread_m_blocks, bool m_block_size_8,
                                         int thread_n_blocks, int thread_k_blocks, int stages,
                                         int group_blocks, bool has_zp, bool is_zp_float, bool wgmma) {
  SmemModel m{};
  const int bm = m_block_size_8 ? 8 : 16 * thread_m_blocks;
  const int bn = 16 * thread_n_blocks, bk = 16 * thread_k_blocks;
  const int srows = scale_rows_per_tile(thread_k_blocks, group_blocks);
  m.a_bytes = round16(bm * bk * 2);
  m.b_bytes = round16(bk * bn * bits / 8);
  m.s_bytes = round16(srows * bn * 2);
  m.z_bytes = has_zp ? round16(is_zp_float ? srows * bn * 2 : srows * bn / 2) : 0;
  m.g_bytes = group_blocks == 0 ? round16(bk * 4) : 0;
  m.stage_bytes = m.a_bytes + m.b_bytes + m.s_bytes + m.z_bytes + m.g_bytes;
  const bool wg = wgmma && wgmma_shape(threads, m_block_size_8, thread_n_blocks, thread_k_blocks);
  if (wg) m.stage_bytes = round_up(m.stage_bytes, kWgmmaAlign);
  m.red_bytes = reduce_bytes(threads, thread_m_blocks, thread_n_blocks);
  const int pipe = (wg ? 2 : 1) * stages * m.stage_bytes + (wg ? kWgmmaAlign : 0);
  const int red = m.red_bytes + (wg ? kWgmmaAlign : 0);
  m.total = pipe > red ? pipe : red;
  return m;
}

// The wide mode of the 4-m-block wgmma tile (marlin_template.cuh W2, KernelParams::wide_m): one
// ring of 128-row stages, 1024-byte aligned, inside `budget` bytes (what the host allocates for
// the default mode); total = budget.
constexpr MARLIN_HD SmemModel smem_model_wide(int bits, int thread_n_blocks, int thread_k_blocks, int group_blocks,
                                              bool has_zp, bool is_zp_float, int budget) {
  SmemModel m = smem_model(bits, 256, 8, false, thread_n_blocks, thread_k_blocks, 1, group_blocks, has_zp, is_zp_float,
                           false);
  m.stage_bytes = round_up(m.stage_bytes, kWgmmaAlign);
  m.total = budget;
  return m;
}
// Its ring slots: as many as fit after the 1 KB alignment, at most 8.
constexpr MARLIN_HD int wide_stages(const SmemModel& m) {
  const int fit = (m.total - kWgmmaAlign) / m.stage_bytes;
  return fit < 8 ? fit : 8;
}

// Floats of C_tmp one (tile, slice) partial occupies (fragment order, fp32).
constexpr MARLIN_HD int partial_floats(int thread_m_blocks, int thread_n_blocks) {
  return 16 * thread_m_blocks * 16 * thread_n_blocks;
}

}  // namespace marlin
