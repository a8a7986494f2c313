// What the 16-bit dispatch (marlin_gemm.cu) and the 8-bit-activation dispatch
// (marlin_gemm_a8.cu) share: the workspace layout, the thread configs in priority order, the dev
// knobs, the split-K factor and the choice among candidate configs (definitions: dispatch.cu).
#pragma once
#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "common.h"
#include "marlin/capi.h"
#include "marlin/kernel.h"
#include "marlin/layout.h"
#include "marlin/scalar_type.h"

namespace marlin {
namespace host {

constexpr int kLockInts = 4096;                      // lock counters at the start of the workspace
constexpr size_t kLockBytes = kLockInts * 4;         // C_tmp follows
constexpr int kMaxPartialFloats = 16 * 4 * 16 * 16;  // per SM: thread_m_blocks 4, thread_n 256
// Per SM when the wide mode splits K: one 128-row tile's partial each (the workspace holds this
// much; every other grid keeps to kMaxPartialFloats, as before the thirteenth session)
constexpr int kWidePartialFloats = 2 * kMaxPartialFloats;
constexpr int kSmemHeadroom = 512;

struct ThreadCfg {
  int thread_k, thread_n, threads;
};
constexpr ThreadCfg kSmallBatch[] = {{128, 128, 256}, {64, 128, 128}, {128, 64, 128}};
constexpr ThreadCfg kLargeBatch[] = {{64, 256, 256}, {64, 128, 128}, {128, 64, 128}};

// Dev knobs (environment, read once): MARLIN_WAVES = blocks per SM to aim for when there are too
// few tiles (0: the dispatch's default); MARLIN_MAX_PARTIAL_KB = cap on the partial bytes one
// tile's last block sums (slices * partial size); MARLIN_FORCE_STAGES (2: the sm75-family
// kernels on a newer GPU, from a library whose sm75 files are compute_75 PTX); MARLIN_WIDE_M (0:
// never the 128-row mode of the 4-m-block wgmma kernel, for A/B timing; 2: always where it
// applies, for tests); MARLIN_PDL (programmatic dependent launch, launch_plan: 0 plain launches,
// 1 without releasing the next kernel early, 2 the default; for A/B timing); MARLIN_SMALL_M_WGMMA
// (0: never the 2-m-block wgmma tile for chunks of <= 16 rows, 2: always where it exists, for
// tests and A/B; prefer_wgmma_small_m); MARLIN_REDUCE_TOGETHER (0: split-K partials summed by
// the last block alone, for A/B; launch_plan); MARLIN_STREAM_K (2: a stream-K grid wherever it
// fits, with the blocks per SM the kernel's occupancy allows (at most 2), 3: one block per SM;
// the default 0 never; stream_k_blocks); MARLIN_TMA (the wide mode's copies: 0 all by cp.async,
// 1 the A tile by TMA, 2 the default: A and the 4- and 8-bit B stage by TMA; for A/B, tma.h);
// MARLIN_TMA_NARROW (which tiles MARLIN_TMA applies to: 0 the wide tile only, 1 the default: and
// the 64-row tile).
struct Tuning {
  int waves = 0;
  int max_partial_kb = 512;
  int force_stages = 0;
  int wide_m = 1;
  int pdl = 2;
  int small_m_wgmma = 1;
  int reduce_together = 1;
  int stream_k = 0;
  int tma = 2;
  int tma_narrow = 1;
};
const Tuning& tuning();

const char* type_name(ScalarTypeId t);

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// cudaFuncSetAttribute(MaxDynamicSharedMemorySize) once per (device, kernel), again only if a
// launch needs more. Non-zero (error set) on failure.
int ensure_smem(int device, KernelFn fn, int bytes);

// Whether `fn` (of key `key`) multiplies with wgmma on this device: a wgmma_shape() tile (layout.h)
// whose machine code and PTX are for sm_90 (the generator builds 9.0 as sm_90a; see
// ptx_wgmma.cuh) on a 9.0 GPU, not a compute_75 / compute_89 PTX kernel JIT-compiled for it.
// Cached per kernel. The config choice, smem_model's `wgmma` and the wide mode follow it; it
// never says "no" for a kernel built for sm_90a on a 9.0 GPU. (A "yes" for an sm_90 build
// without the `a` would be wrong: the generator never makes one.)
bool wgmma_kernel(KernelFn fn, const KernelKey& key, const DeviceInfo& dev);

// The part of wgmma_kernel that reads the kernel's architectures (cudaFuncAttributes
// binaryVersion / ptxVersion): machine code for sm_90 from sm_90 PTX. A compute_75 / compute_89
// PTX kernel JIT-compiled on a 9.0 GPU reports binary 90 and PTX 75 / 89, and has no wgmma body.
// Trusting binary 90 alone once put such kernels on the wide mode's grid, and they wrote nothing
// (the sm75 path on the H100, test_odd_tile_counts).
constexpr bool wgmma_arch(int binary, int ptx) { return binary == 90 && ptx >= 90; }

// Whether `fn` may be launched with programmatic dependent launch: a 9.0+ GPU and machine code
// from sm_90+ PTX, whose body has the griddepcontrol calls (ptx.cuh; a compute_75 / compute_89
// PTX kernel JIT-compiled for the GPU has none and must not be launched early). Cached per kernel.
// The MARLIN_PDL knob is launch_plan's.
bool pdl_kernel(KernelFn fn, const DeviceInfo& dev);

// How one GEMM grid is launched on the stream (launch_plan):
// - pdl: with programmatic dependent launch. The grid may start while the previous kernel on the
//   stream is still running (the kernel waits for it before touching A, C or the workspace).
// - release_early: each block lets the next kernel in after its K loop (KernelParams), instead of
//   at its exit. Only for grids of at most one block per SM, and then `smem` is raised so that no
//   second block fits on an SM. Without that padding the next grid's blocks were placed next to
//   this grid's, and 8-bit weights ran 10-35% slower (FP8 14336 x 4096 M = 1 27.5 -> 33-37 us);
//   with it, a block of the next grid takes an SM as soon as this grid's block there exits
//   (GPTQ-4 4096 x 4096 M = 1 8.6-8.8 -> 7.8 us, FP8 level; H100, docs/performance.md).
// - reduce_together: split-K grids of at most one block per SM (all resident at once, unless
//   other work holds SMs) sum each tile's partials in all the tile's blocks, a 1/slices share
//   each, instead of in the last block to arrive alone (marlin_template.cuh; a block waits a
//   bounded time for the others, so this never hangs). Same sum order, so the same bits. Grids
//   of more blocks keep the last-arrival sum: their blocks would mostly wait for partners of
//   the next wave. At most 511 slices (10-bit fields in the tile's counter).
//   MARLIN_REDUCE_TOGETHER=0: never.
struct LaunchPlan {
  bool pdl = false;
  bool release_early = false;
  bool reduce_together = false;
  int smem = 0;  // dynamic shared memory to launch with
};
// `pdl_ok`: pdl_kernel's answer for the kernel; `slices`: the split-K factor; `smem`: the
// kernel's own need.
LaunchPlan launch_plan(bool pdl_ok, int blocks, int slices, int smem, const DeviceInfo& dev);

// The least dynamic shared memory of a block that keeps a second one off its SM; 0 if the
// device does not report its shared memory per SM.
constexpr int one_block_per_sm_smem(int smem_per_sm, int smem_reserved) {
  return smem_per_sm > 0 ? smem_per_sm / 2 - smem_reserved + 1 : 0;
}

// Launch one GEMM kernel as planned. Returns the launch error (cudaGetLastError's, which it
// also clears).
cudaError_t launch_gemm(KernelFn fn, int blocks, int threads, cudaStream_t stream, const KernelParams& p,
                        const LaunchPlan& plan);

// Bytes of one block's split-K partial (a slot of C_tmp): fp32, or 16-bit values without the
// fp32 reduce.
inline size_t partial_slot_bytes(int thread_m_blocks, int thread_n_blocks, bool fp32_reduce) {
  return size_t(partial_floats(thread_m_blocks, thread_n_blocks)) * (fp32_reduce ? 4 : 2);
}

// Split-K factor of a candidate with `tiles` tiles of k_iters K tiles each: aim for `target`
// blocks, at most k_iters slices, a tile's partials (summed by one block) under the knob's cap,
// at most max_slices (if > 0), within the workspace (kMaxPartialFloats per SM); no empty slices.
// `wide`: a candidate of the wide mode, whose 128 KB partials get kWidePartialFloats per SM and
// twice the knob's cap per tile, so that it can split as finely as the 64-row mode (8 slices of
// 16 tiles; its split grids are one wave, whose blocks share each tile's sum).
int split_slices(int tiles, int k_iters, size_t slot_bytes, int target, int max_slices, const DeviceInfo& dev,
                 bool wide = false);

// Blocks of `fn` (launched with `threads` threads and `smem` bytes of dynamic shared memory) that
// fit on one SM (cudaOccupancyMaxActiveBlocksPerMultiprocessor), cached per kernel and size;
// 1 if the query fails.
int blocks_per_sm(KernelFn fn, int threads, int smem);

// The stream-K grid for a chunk of <= 16 rows in `tiles` tiles of `k_iters` K tiles each, on a
// stream_k_shape() kernel (marlin_template.cuh marlin_body: blocks take even runs of (tile,
// K tile) units across tile boundaries), or 0 to keep the split-K grid. Only when
// MARLIN_STREAM_K asks for it (2: `per_sm` blocks per SM, the kernel's occupancy, at most 2;
// 3: one per SM): on the H100 it was slower wherever tried (seventh session, 8192 x 28672 M = 1
// GPTQ-4 g128 55.2 -> 58.3 us, GPTQ-8 83.1 -> 99.9; docs/performance.md), so the default never
// takes it. `slot_bytes`: one split-K partial (a grid of G blocks needs tiles + G of them).
int stream_k_blocks(int rows, int tiles, int k_iters, int per_sm, size_t slot_bytes, const DeviceInfo& dev);

// Whether the 4-m-block wgmma kernel should take its 128-row mode (marlin_template.cuh W2) for a
// chunk: `tiles` x `slices` blocks of 64-row tiles against `tiles_w` x `slices_w` of 128-row ones,
// `k_iters` K tiles of 64 deep. Predicted time, in K tiles of the 64-row mode: whole waves of
// blocks x (a block's K tiles x its cost + the split-K partial's cost when split). A 128-row K
// tile costs kWideTileCost (kbench on the H100, 8192 x 28672 M = 256 / 1024: 1.6 per wave since
// the twelfth session's wide-mode changes, 1.7-1.9 before). A block's split-K partial (written,
// then a share of the tile's partials read back and summed) costs kSplitCost / kSplitCostWide
// (64 / 128 KB; fitted to the thirteenth session's H100 sweep of 14336 x 4096, 4096 x 14336 and
// 4096 x 4096 at M = 128..1024, docs/performance.md: they are why 16 wide tiles in 8 slices beat
// 32 64-row tiles in 4 on K = 14336 (28 K tiles a block) and lose on K = 4096 (8)). So 224 tiles
// (2 waves on 132 SMs) become 112 (1 wave x 1.6), while a small layer that split-K already
// spreads over the SMs keeps the 64-row mode unless its K is deep. MARLIN_WIDE_M=0 / 2: never /
// always.
constexpr double kWideTileCost = 1.6;
constexpr double kSplitCost = 5.0;
constexpr double kSplitCostWide = 14.0;
bool prefer_wide(int tiles, int slices, int tiles_w, int slices_w, int k_iters, const DeviceInfo& dev);

// Whether a chunk of <= 16 rows should run on the 2-m-block wgmma tile (64,256,256) of sm_90a,
// most of its 32 rows empty, instead of the 8-row or 1-m-block mma.sync tiles. `tiles_wg`: its
// 256-column tiles; `eight_bit_or_channel`: 8-bit weights, or per-channel scales without zero
// points. H100, graph rows, one library, MARLIN_SMALL_M_WGMMA=0 -> on (docs/performance.md):
// - 9..16 rows, when split-K stays at <= 2 slices (more than one tile per three SMs): 8192 x 28672
//   M = 16 GPTQ-4 g128 67.5 -> 55.9 us, per channel 64.1 -> 47.1, GPTQ-8 103.3 -> 83.2, FP8
//   109.4 -> 84.4; 4096 x 14336 (56 tiles) GPTQ-4 23.3 -> 21.4. With 16 tiles (14336 x 4096,
//   4096 x 4096, 8 slices) it was slower (4096 x 4096 9.7 -> 14.0).
// - <= 8 rows, only without split-K (a tile per two SMs) and for those formats: 8192 x 28672 M = 1
//   GPTQ-8 96.8-97.2 -> 81.6-82.1 us, FP8 101-102 -> 81.7-82.0, GPTQ-4 per channel 50.5-52.1 ->
//   44.7-45.0; the 8-row tile stays ahead for GPTQ-4 g128 (level), AWQ-4 (+4%), NVFP4 (+8%), and
//   on 4096 x 14336 for all (GPTQ-4 19.0 -> 21.9).
// - 9..16 rows of 4-bit weights with group scales, also with few tiles when K is deep: at least
//   16 K tiles of 64 per SM (`k_iters_wg`: K tiles per 256-column tile). Since split-K grids of
//   this tile share their sum (launch_plan reduce_together), 14336 x 4096 (16 tiles x 224 K
//   tiles) M = 9 / 16 GPTQ-4 g128 ran 21.3 / 21.8 -> 19.0 us; 4096 x 4096 (64 K tiles) stays off
//   (9.4 -> 10.0), as do 8-bit (level) and per-channel weights (18.8 -> 20.2 at M = 16).
bool prefer_wgmma_small_m(int rows, int tiles_wg, int k_iters_wg, bool eight_bit_or_channel, const DeviceInfo& dev);

// Split-K factor of an 8-row-tile candidate (two blocks fit an SM) from split_slices' `slices`:
// where one slice leaves SMs idle (between half and all of them get a tile), two, so that every
// SM gets a block. choose_candidate applies it for 4-bit weights, so that on 4096 x 14336 at
// M <= 8 the (128,128,256) tile split in 2 (224 blocks) ties with, and by priority beats, the
// (128,64,128) tile's 224 unsplit tiles. H100, graph rows (thirteenth session, two rounds):
// GPTQ-4 g128 M = 1 20.1-20.2 -> 18.8-19.4 us, M = 8 19.9-20.0 -> 18.2-19.1; AWQ-4 M = 1
// 21.1 -> 19.3-19.5, M = 8 22.2-22.6 -> 20.1-20.2; NVFP4 -2%. 8-bit weights lost at M = 1
// (GPTQ-8 26.7-26.8 -> 28.8-29.7, FP8 26.8-27.0 -> 27.9-28.7), so they keep the unsplit pick.
// Grids already split keep theirs. `max_slices` (> 0) caps it.
int m8_slices(int tiles, int slices, int k_iters, int max_slices, const DeviceInfo& dev);

// Split factors of the candidates (each with .key and .tiles) for a K of `k`, then the pick: the
// candidate that fills the GPU best, counting blocks up to one per SM; ties (any config that
// reaches every SM) go to the earlier one, i.e. the priority order. More blocks than SMs is not
// better in itself: on an H100, (8192 x 28672, M <= 16) runs 52.9 us with 224 blocks of
// (128,128,256) and 57-84 us with 448 of (128,64,128) (csrc/dev/kbench.cu, docs/performance.md).
// `m8`: the candidates are 8-row tiles, whose split m8_slices raises. Returns the pick's index and
// sets *slices.
template <class Cand>
int choose_candidate(const Cand* cands, int n, int k, bool fp32_reduce, int target, int max_slices,
                     const DeviceInfo& dev, int* slices, bool m8 = false) {
  int pick = 0, best = -1;
  for (int i = 0; i < n; ++i) {
    const KernelKey& key = cands[i].key;
    const int bk = 16 * key.thread_k_blocks;
    const int k_iters = (k + bk - 1) / bk;
    const size_t slot_bytes = partial_slot_bytes(key.thread_m_blocks, key.thread_n_blocks, fp32_reduce);
    int sl = split_slices(cands[i].tiles, k_iters, slot_bytes, target, max_slices, dev);
    if (m8) sl = m8_slices(cands[i].tiles, sl, k_iters, max_slices, dev);
    const int score = cands[i].tiles * sl < dev.sms ? cands[i].tiles * sl : dev.sms;
    if (score > best) {
      best = score;
      pick = i;
      *slices = sl;
    }
  }
  return pick;
}

// The launch parameters of one M chunk (rows of A at `a`, lda, output at `c`) that both dispatches
// fill the same way; the caller sets a_scales / global_scale / g_idx where they apply and
// max_shared_mem.
inline KernelParams chunk_params(const marlin_gemm_args* g, const void* a, int64_t lda, void* c, int rows) {
  KernelParams p{};
  p.A = a;
  p.B = g->b;
  p.C = c;
  p.C_tmp = reinterpret_cast<float*>(reinterpret_cast<char*>(g->workspace) + kLockBytes);
  p.locks = reinterpret_cast<int*>(g->workspace);
  p.bias = g->bias;
  p.scales = g->scales;
  p.zp = g->zp;
  p.num_groups = g->num_groups;
  p.prob_m = rows;
  p.prob_n = g->n;
  p.prob_k = g->k;
  p.lda = int(lda);
  p.has_bias = g->bias != nullptr;
  p.use_atomic_add = false;
  p.use_fp32_reduce = g->use_fp32_reduce != 0;
  return p;
}

}  // namespace host
}  // namespace marlin
