// The Marlin kernel template's declaration: what every generated instantiation file and the
// generated kernel_selector.h compile against. The body lives in marlin_template.cuh.
#pragma once
#include <cstdint>

#include "marlin/scalar_type.h"

namespace marlin {

// Runtime parameters of one launch. Passed by value as a single struct so that adding a field
// never changes the generated files.
struct KernelParams {
  const void* A;            // activations [prob_m, prob_k], row stride lda (elements)
  const void* B;            // weights in marlin's tile layout
  void* C;                  // output [prob_m, prob_n]
  float* C_tmp;             // fp32 scratch for the global reduction (use_fp32_reduce)
  const void* bias;         // [prob_n] in c_type, or nullptr
  const float* a_scales;    // per-token activation scales [prob_m] (8-bit activations)
  const void* scales;       // weight scales [num_groups, prob_n] in s_type (prepared layout)
  const float* global_scale;  // per-tensor scale (NVFP4), or nullptr
  const void* zp;           // zero points: packed ints or s_type floats (is_zp_float), or nullptr
  const int* g_idx;         // act-order group index per K row (group_blocks == 0), or nullptr
  int num_groups;
  int prob_m, prob_n, prob_k;
  int lda;
  int* locks;               // per-slice counters, zero on entry and left zero on exit
  bool has_bias;
  bool use_atomic_add;
  bool use_fp32_reduce;
  bool wide_m;              // the 4-m-block wgmma tile (sm_90a) with 128-row tiles (marlin_template.cuh W2)
  int max_shared_mem;       // dynamic shared memory granted to the launch, in bytes
  bool release_early;       // let the next kernel in after the K loop (dispatch.h launch_plan)
  bool reduce_together;     // split-K: every block of a tile sums a share (dispatch.h launch_plan)
  bool stream_k;            // blocks take even runs of (tile, K tile) units across tiles (marlin_template.cuh)
  bool a_tma;               // wide mode: the A tile comes by one TMA copy through a_map (tma.h)
  // the TMA descriptor of A (a CUtensorMap, opaque): [prob_m rows, prob_k] with row stride lda,
  // boxes of 128 rows x 64 halves in the 128-byte swizzle. It lives in the kernel's parameter
  // space (__grid_constant__), where the TMA unit reads it.
  alignas(64) unsigned char a_map[128];
  // with a_tma, 4-bit weights: the B stage too, one TMA copy through b_map (thread_k_blocks k16
  // rows of the tile's 8-byte words, no swizzle: the ring's B layout is the global one)
  bool b_tma;
  alignas(64) unsigned char b_map[128];
};

// __grid_constant__: the kernel hands the TMA unit the addresses of params.a_map / b_map, which
// must stay in parameter space (a by-value parameter whose address is taken is copied to local
// memory otherwise)
#define MARLIN_KERNEL_PARAMS const __grid_constant__ ::marlin::KernelParams params

// One kernel per combination of the 12 template parameters below; marlin gen writes the
// explicit instantiations and the selector that maps a runtime key to them.
template <ScalarTypeId a_type_id,     // activations
          ScalarTypeId b_type_id,     // quantized weights
          ScalarTypeId c_type_id,     // output
          ScalarTypeId s_type_id,     // weight scales
          int threads,                // threads per block: 128 or 256
          int thread_m_blocks,        // 16-row blocks of A per tile (1..4)
          int thread_n_blocks,        // 16-column blocks of the N tile
          int thread_k_blocks,        // 16-deep blocks of the K tile
          bool m_block_size_8,        // the M tile is 8 rows (thread_m_blocks == 1)
          int stages,                 // pipeline depth: 2 (sm75) or 4
          int group_blocks,           // -1 per-channel, 0 act-order, else group size / 16
          bool is_zp_float>           // zero points are floats (HQQ)
__global__ void Marlin(MARLIN_KERNEL_PARAMS);

// Uniform pointer type of every instantiation, what the selector hands back.
using KernelFn = void (*)(const ::marlin::KernelParams);

// The runtime key the selector dispatches on; field for field the template parameters.
struct KernelKey {
  ScalarTypeId a_type, b_type, c_type, s_type;
  int threads, thread_m_blocks, thread_n_blocks, thread_k_blocks;
  bool m_block_size_8;
  int stages, group_blocks;
  bool is_zp_float;
};

}  // namespace marlin
