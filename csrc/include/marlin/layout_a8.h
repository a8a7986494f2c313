// Tile layout constants and the shared-memory model of the 8-bit-activation kernels
// (marlin_a8.cuh), shared by the kernel and the host dispatch (marlin_gemm_a8.cu).
// See docs/kernel.md, "8-bit activations".
#pragma once
#include "marlin/layout.h"

namespace marlin {

// Weights for 8-bit activations are cut into 32 (k) x 64 (n) tiles of 4-bit codes (256 int32).
constexpr int kTileKA8 = 32;
constexpr int kTileWordsA8 = kTileKA8 * kTileN * 4 / 32;

// Scale rows one K tile stages in shared memory: grouped scales only (per-channel scales are
// read once, after the K loop).
constexpr MARLIN_HD int a8_scale_rows(int thread_k_blocks, int group_blocks) {
  return group_blocks > 0 ? (thread_k_blocks > group_blocks ? thread_k_blocks / group_blocks : 1) : 0;
}

struct SmemModelA8 {
  int a_bytes, b_bytes, s_bytes, z_bytes, stage_bytes, red_bytes, total;
};

// `stages` copies of (A tile: BM x BK bytes, B tile: BK x BN nibbles, grouped scale rows,
// zero-point rows); the cross-warp reduction buffer reuses the same memory after the K loop.
constexpr MARLIN_HD SmemModelA8 smem_model_a8(int scale_bytes, int threads, int thread_m_blocks,
                                              int thread_n_blocks, int thread_k_blocks, int stages,
                                              int group_blocks, bool has_zp) {
  SmemModelA8 m{};
  const int bm = 16 * thread_m_blocks, bn = 16 * thread_n_blocks, bk = 16 * thread_k_blocks;
  const int srows = a8_scale_rows(thread_k_blocks, group_blocks);
  const int zrows = srows > 0 ? srows : 1;
  m.a_bytes = round16(bm * bk);
  m.b_bytes = round16(bk * bn / 2);
  m.s_bytes = round16(srows * bn * scale_bytes);
  m.z_bytes = has_zp ? round16(zrows * bn / 2) : 0;
  m.stage_bytes = m.a_bytes + m.b_bytes + m.s_bytes + m.z_bytes;
  m.red_bytes = reduce_bytes(threads, thread_m_blocks, thread_n_blocks);
  const int pipe = stages * m.stage_bytes;
  m.total = pipe > m.red_bytes ? pipe : m.red_bytes;
  return m;
}

}  // namespace marlin
