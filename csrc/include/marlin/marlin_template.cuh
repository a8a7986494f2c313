// The Marlin kernel template's definition. Generated instantiation files include this.
#pragma once
#include "marlin/kernel.h"

namespace marlin {

template <ScalarTypeId a_type_id, ScalarTypeId b_type_id, ScalarTypeId c_type_id,
          ScalarTypeId s_type_id, int threads, int thread_m_blocks, int thread_n_blocks,
          int thread_k_blocks, bool m_block_size_8, int stages, int group_blocks,
          bool is_zp_float>
__global__ void Marlin(MARLIN_KERNEL_PARAMS) {
  static_assert(threads == 128 || threads == 256, "threads must be 128 or 256");
  static_assert(!m_block_size_8 || thread_m_blocks == 1, "the 8-row tile needs thread_m_blocks == 1");
  // Placeholder until the kernel body lands (issue 3): a launch fails loudly rather than
  // returning garbage.
  __trap();
}

}  // namespace marlin
