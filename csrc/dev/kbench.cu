// Dev-only kernel micro-benchmark (not part of the library build): times chosen Marlin template
// instances (fp16 activations, GPTQ 4-bit, group 128) directly, at chosen split-K factors, next to
// a pure streaming kernel that reads the weights with the same access pattern and pipeline depth
// but does no math. Used to find where small-M time goes (docs/performance.md).
//
//   nvcc -O3 -std=c++17 --expt-relaxed-constexpr -gencode arch=compute_90a,code=sm_90a \
//        -I csrc/include csrc/dev/kbench.cu -o build/kbench && build/kbench
//
// sm_90a is what the library builds for 9.0: the (64,256,256) rows then time the wgmma path; an
// sm_90 build of the same file times the mma.sync body of those tiles (the A/B in
// docs/performance.md).
//
// Weights are random bits (timing only; correctness is tests/gpu's job). Weight copies rotate so
// that the 50 MB L2 never holds the next call's weights.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "marlin/marlin_template.cuh"
#include "marlin/tma.h"

using namespace marlin;

#define CK(x)                                                                                   \
  do {                                                                                          \
    cudaError_t e_ = (x);                                                                       \
    if (e_ != cudaSuccess) {                                                                    \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(1);                                                                             \
    }                                                                                           \
  } while (0)

// The streaming kernels' ring: fetch(u, slot) for u in [u0, u1), stages - 1 ahead, one commit
// group per step (as the Marlin K loop), XOR-ing one word of each landed stage into acc.
template <int stages, typename Fetch>
__device__ __forceinline__ void stream_ring(const int4* sm, int stage_int4, int u0, int u1, Fetch&& fetch, int& acc) {
  for (int s = 0; s < stages - 1; ++s) {
    if (u0 + s < u1) fetch(u0 + s, s);
    ptx::cp_async_commit();
  }
  int st = 0;
  for (int u = u0; u < u1; ++u) {
    ptx::cp_async_wait<stages - 2>();
    __syncthreads();
    const int nxt = u + stages - 1;
    if (nxt < u1) fetch(nxt, (st + stages - 1) % stages);
    ptx::cp_async_commit();
    acc ^= reinterpret_cast<const int*>(sm + st * stage_int4)[threadIdx.x];
    st = (st + 1) % stages;
  }
}

// Streams the B tiles of a (BN x K slice) exactly as the Marlin fetch does (one 16-byte cp.async
// per chunk, `stages`-deep ring, one commit group per K tile) and XORs one word per thread so
// nothing is dead. kmajor: the tiles of a 64-column strip are contiguous along K (an alternative
// layout) instead of row-major over tiles.
template <int threads, int BN, int BK, int stages, bool kmajor>
__global__ void __launch_bounds__(threads) stream_b(const int4* B, int N, int K, int* out) {
  extern __shared__ int4 sm[];
  constexpr int TW4 = 128 / 4;       // int4 per 16x64 4-bit tile
  constexpr int NT = BN / 64;        // tiles per k16 row of the block
  constexpr int CH = BK / 16 * NT * TW4;  // int4 per stage
  const int n_tiles = N / BN, k_iters = K / BK;
  const int slices = gridDim.x / n_tiles;
  const int tile = blockIdx.x / slices, slice = blockIdx.x % slices;
  const int per = (k_iters + slices - 1) / slices;
  const int b0 = slice * per, b1 = min(k_iters, b0 + per);
  auto src = [&](int it, int c) -> const int4* {
    const int kr = it * (BK / 16) + c / (NT * TW4);
    const int t = (c / TW4) % NT, w = c % TW4;
    const int nt = tile * NT + t;
    const size_t tix = kmajor ? (size_t)nt * (K / 16) + kr : (size_t)kr * (N / 64) + nt;
    return B + tix * TW4 + w;
  };
  auto fetch = [&](int it, int st) {
#pragma unroll
    for (int c = threadIdx.x; c < CH; c += threads) ptx::cp_async16(sm + st * CH + c, src(it, c), true);
  };
  int acc = 0;
  stream_ring<stages>(sm, CH, b0, b1, fetch, acc);
  if (acc == 0x12345678) out[0] = acc;
}

// The same stream over a stream-K split: the (tile, K tile) units, tile-major, dealt out evenly to
// gridDim.x blocks, so a block's run crosses tile boundaries and the blocks read at staggered K
// positions. drain: empty the ring and refill it at each tile boundary (what a block running
// its segments one after another does); else the ring runs on across the boundary.
template <int threads, int BN, int BK, int stages, bool drain>
__global__ void __launch_bounds__(threads) stream_b_sk(const int4* B, int N, int K, int* out) {
  extern __shared__ int4 sm[];
  constexpr int TW4 = 128 / 4;
  constexpr int NT = BN / 64;
  constexpr int CH = BK / 16 * NT * TW4;
  const int n_tiles = N / BN, k_iters = K / BK;
  const int units = n_tiles * k_iters, q = units / gridDim.x, r = units % gridDim.x;
  const int b = blockIdx.x;
  const int u0 = b * q + min(b, r), u1 = u0 + q + (b < r ? 1 : 0);
  auto fetch = [&](int u, int st) {
    const int tile = u / k_iters, it = u % k_iters;
#pragma unroll
    for (int c = threadIdx.x; c < CH; c += threads) {
      const int kr = it * (BK / 16) + c / (NT * TW4);
      const int t = (c / TW4) % NT, w = c % TW4;
      ptx::cp_async16(sm + st * CH + c, B + ((size_t)kr * (N / 64) + tile * NT + t) * TW4 + w, true);
    }
  };
  int acc = 0;
  int seg0 = u0;
  while (seg0 < u1) {
    const int seg1 = drain ? min(u1, (seg0 / k_iters + 1) * k_iters) : u1;
    stream_ring<stages>(sm, CH, seg0, seg1, fetch, acc);
    ptx::cp_async_wait<0>();
    __syncthreads();
    seg0 = seg1;
  }
  if (acc == 0x12345678) out[0] = acc;
}

// A hash of (index, seed): the pseudo-random source of both fills below.
__device__ __forceinline__ uint32_t hash_index(size_t i, uint32_t seed) {
  uint32_t x = uint32_t(i) * 2654435761u ^ seed;
  x ^= x >> 15;
  x *= 2246822519u;
  x ^= x >> 13;
  return x;
}

// Pseudo-random words: constant fill patterns time differently on HBM.
__global__ void fill_random(uint32_t* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    p[i] = hash_index(i, seed);
}

struct Buffers {
  std::vector<int4*> B;
  std::vector<half*> S;
  half *A, *C;
  float* ctmp;
  int* locks;
  int* out;
};

static float time_launches(int reps, const std::vector<int>& order, void (*launch)(int, void*), void* ctx) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) launch(order[i % order.size()], ctx);
  std::vector<float> ts;
  // KB_REPS=n: n times as many launches per batch (sustained load, e.g. to watch clocks and power)
  static const int rep_mult = std::getenv("KB_REPS") ? std::max(1, std::atoi(std::getenv("KB_REPS"))) : 1;
  reps *= rep_mult;
  for (int r = 0; r < 7; ++r) {
    CK(cudaEventRecord(a));
    for (int i = 0; i < reps; ++i) launch(order[i % order.size()], ctx);
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float ms;
    CK(cudaEventElapsedTime(&ms, a, b));
    ts.push_back(ms * 1000.f / reps);
  }
  std::sort(ts.begin(), ts.end());
  CK(cudaGetLastError());
  return ts[ts.size() / 2];
}

// Halves uniform in [lo, lo + span): activations and scales like real ones (constant operands
// draw less power, and the H100 then holds higher clocks under tensor-core load).
__global__ void fill_half(half* p, size_t n, uint32_t seed, float lo, float span) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    p[i] = __float2half(lo + span * float(hash_index(i, seed) >> 8) * (1.0f / 16777216.0f));
}

struct Case {
  Buffers* buf;
  int M, N, K, grid, smem;
  KernelFn fn;
  int threads;
  void (*sfn)(const int4*, int, int, int*);
  bool wide;
  bool sk;  // stream-K grid (KernelParams::stream_k)
  int bm;   // the tile's A rows (the TMA box)
  int num_groups;
};

static void launch_marlin(int copy, void* ctx) {
  Case& c = *static_cast<Case*>(ctx);
  KernelParams p{};
  p.A = c.buf->A;
  p.B = c.buf->B[copy];
  p.C = c.buf->C;
  p.C_tmp = c.buf->ctmp;
  // KB_SHARED_SCALES=1: every weight copy reads the scales of copy 0, which then stay in L2 (to
  // tell the scale rows' DRAM reads apart from the rest of the kernel)
  static const bool shared_scales = std::getenv("KB_SHARED_SCALES") && std::atoi(std::getenv("KB_SHARED_SCALES"));
  p.scales = c.buf->S[shared_scales ? 0 : copy];
  p.num_groups = c.num_groups;
  p.prob_m = c.M;
  p.prob_n = c.N;
  p.prob_k = c.K;
  p.lda = c.K;
  p.locks = c.buf->locks;
  p.use_fp32_reduce = true;
  p.max_shared_mem = c.smem;
  p.wide_m = c.wide;
  p.stream_k = c.sk;
  // the wide mode's copies by TMA as the library makes them (KernelParams::a_tma / b_tma); KB_TMA=0:
  // cp.async, 1: the A tile only, 2 (default): A and the B stage
  static const int tma = std::getenv("KB_TMA") ? std::atoi(std::getenv("KB_TMA")) : 2;
  // KB_TMA_NARROW as MARLIN_TMA_NARROW: 0 the wide tile only, 1 (default) and the 64-row tile
  static const int narrow = std::getenv("KB_TMA_NARROW") ? std::atoi(std::getenv("KB_TMA_NARROW")) : 1;
  const bool use = (c.wide || (narrow >= 1 && c.bm == 64)) && !c.sk;
  if (use && tma >= 1) set_a_tma(p, c.buf->A, c.M, c.K, c.K, c.bm, 64);
  if (use && tma >= 2) set_b_tma(p, p.B, c.K, c.N, 4, 4, 256);
  c.fn<<<c.grid, c.threads, c.smem>>>(p);
}

static void launch_stream(int copy, void* ctx) {
  Case& c = *static_cast<Case*>(ctx);
  c.sfn<<<c.grid, c.threads, c.smem>>>(c.buf->B[copy], c.N, c.K, c.buf->out);
}

static const char* g_only = nullptr;  // argv[2]: run only variants whose name contains this
static int g_slices = 0;               // argv[3]: only this split factor

template <int threads, int tmb, int tnb, int tkb, bool m8, int stages, int gb = 8>
static void run_marlin(Buffers& buf, int M, int N, int K, int ncopies, int slices, const char* name,
                       bool wide = false) {
  if (g_slices <= -100) {  // an exact stream-K grid: once per variant, in place of split factor 1
    if (slices != 1) return;
    slices = g_slices;
  }
  if ((g_only && !std::strstr(name, g_only)) || (g_slices && slices != g_slices)) return;
  // KB_M=m: only the rows of that M (one launch target for ncu)
  static const int only_m = std::getenv("KB_M") ? std::atoi(std::getenv("KB_M")) : 0;
  if (only_m && M != only_m) return;
  auto fn = &Marlin<type_id::kFloat16, type_id::kU4B8, type_id::kFloat16, type_id::kFloat16, threads, tmb, tnb, tkb,
                    m8, stages, gb, false>;
  // wgmma path: an sm_90a build of this file (as marlin::host::wgmma_kernel decides it; an sm_90
  // build of a wgmma-shaped tile only gets more shared memory than it uses)
  cudaFuncAttributes fa;
  CK(cudaFuncGetAttributes(&fa, reinterpret_cast<const void*>(fn)));
  const bool wg = wgmma_shape(threads, m8, tnb, tkb) && fa.binaryVersion == 90;
  const SmemModel s = smem_model(4, threads, tmb, m8, tnb, tkb, stages, gb, false, false, wg);
  const int smem = s.total;  // stream-K grids too, as the library launches them
  CK(cudaFuncSetAttribute(reinterpret_cast<const void*>(fn), cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  int occ = 0;
  CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, fn, threads, smem));
  if (wide && !(wg && tmb == 4)) return;  // 128-row tiles: the sm_90a 4-m-block kernel only
  const int BM = m8 ? 8 : 16 * (wide ? 8 : tmb);
  const int tiles = (M + BM - 1) / BM * (N / (16 * tnb));
  // slices > 0: grid = tiles * slices; slices < 0: grid = -slices blocks per SM (stream-K)
  int sms;
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  // slices <= -100: a stream-K grid of exactly -slices blocks
  const int grid = slices > 0 ? tiles * slices : (slices <= -100 ? -slices : -slices * sms);
  const int sl = slices;
  if (size_t(2) * grid * partial_floats(wide ? 8 : tmb, tnb) * 4 > (size_t(256) << 20)) return;
  if (slices < 0 && !stream_k_shape(threads, tmb)) return;
  Case c{&buf, M, N, K, grid, smem, fn, threads, nullptr, wide, slices < 0, wide ? 128 : (m8 ? 8 : 16 * tmb),
         gb > 0 ? K / (16 * gb) : 1};
  std::vector<int> order(ncopies);
  for (int i = 0; i < ncopies; ++i) order[i] = i;
  const float us = time_launches(4 * ncopies, order, launch_marlin, &c);
  const double bytes = double(K) * N / 2 + double(c.num_groups) * N * 2 + double(M) * K * 2 + double(M) * N * 2;
  std::printf("| %-26s | %5d | %5d | %4d | %3d | %5d | %3d | %2d | %6.1f | %5.2f |\n", name, K, N, M, sl, grid,
              fa.numRegs, occ, us, bytes / us * 1e-6);
}

// Times a weight-streaming kernel (stream_b / stream_b_sk) on `grid` blocks and prints its row
// (sl: the split factor, or minus the blocks per SM of a stream-K grid).
static void time_stream(Buffers& buf, int N, int K, int ncopies, void (*fn)(const int4*, int, int, int*), int threads,
                        int smem, int grid, int sl, const char* name) {
  CK(cudaFuncSetAttribute(reinterpret_cast<const void*>(fn), cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  int occ = 0;
  CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, fn, threads, smem));
  Case c{&buf, 0, N, K, grid, smem, nullptr, threads, fn, false, false, 0};
  std::vector<int> order(ncopies);
  for (int i = 0; i < ncopies; ++i) order[i] = i;
  const float us = time_launches(4 * ncopies, order, launch_stream, &c);
  const double bytes = double(K) * N / 2;
  std::printf("| %-26s | %5d | %5d | %4s | %3d | %5d | %3s | %2d | %6.1f | %5.2f |\n", name, K, N, "-", sl, grid, "-",
              occ, us, bytes / us * 1e-6);
}

template <int threads, int BN, int BK, int stages, bool kmajor>
static void run_stream(Buffers& buf, int N, int K, int ncopies, int slices, const char* name) {
  if ((g_only && !std::strstr(name, g_only)) || (g_slices && slices != g_slices)) return;
  const int tiles = N / BN, k_iters = K / BK;
  const int per = (k_iters + slices - 1) / slices;
  const int sl = (k_iters + per - 1) / per;
  time_stream(buf, N, K, ncopies, &stream_b<threads, BN, BK, stages, kmajor>, threads,
              stages * (BK / 16) * (BN / 64) * 512, tiles * sl, sl, name);
}

// stream_b_sk with per_sm blocks per SM
template <int threads, int BN, int BK, int stages, bool drain>
static void run_stream_sk(Buffers& buf, int N, int K, int ncopies, int per_sm, const char* name) {
  if ((g_only && !std::strstr(name, g_only)) || (g_slices && -per_sm != g_slices)) return;
  int sms = 0;
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  time_stream(buf, N, K, ncopies, &stream_b_sk<threads, BN, BK, stages, drain>, threads,
              stages * (BK / 16) * (BN / 64) * 512, per_sm * sms, -per_sm, name);
}

constexpr int kMaxM = 1024;

// Usage: kbench [SHAPE_INDEX|-1 [VARIANT_SUBSTRING [SLICES]]]
int main(int argc, char** argv) {
  const int shapes[][2] = {{4096, 4096}, {14336, 4096}, {8192, 28672}, {4096, 14336}};  // (K, N)
  const int only_shape = argc > 1 ? std::atoi(argv[1]) : -1;
  if (argc > 2) g_only = argv[2];
  if (argc > 3) g_slices = std::atoi(argv[3]);
  int dev;
  CK(cudaGetDevice(&dev));
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, dev));
  std::printf("device %s, %d SMs\n", prop.name, prop.multiProcessorCount);
  std::printf("| variant | K | N | M | sl | blocks | regs | occ | us | TB/s |\n|---|---|---|---|---|---|---|---|---|---|\n");
  for (int si = 0; si < 4; ++si) {
    if (only_shape >= 0 && si != only_shape) continue;
    const int K = shapes[si][0], N = shapes[si][1];
    const size_t wbytes = size_t(K) * N / 2;
    const int ncopies = std::max<int>(2, int((150u << 20) / wbytes) + 1);
    Buffers buf;
    for (int i = 0; i < ncopies; ++i) {
      int4* b;
      half* s;
      CK(cudaMalloc(&b, wbytes));
      fill_random<<<1024, 256>>>(reinterpret_cast<uint32_t*>(b), wbytes / 4, 0x9e3779b9u * (i + 1));
      CK(cudaMalloc(&s, size_t(K / 128) * N * 2));
      fill_half<<<1024, 256>>>(s, size_t(K / 128) * N, 0x85ebca6bu * (i + 1), 0.001f, 0.002f);
      buf.B.push_back(b);
      buf.S.push_back(s);
    }
    CK(cudaMalloc(&buf.A, size_t(kMaxM) * K * 2));
    fill_half<<<1024, 256>>>(buf.A, size_t(kMaxM) * K, 0xc2b2ae35u, -1.f, 2.f);
    CK(cudaMalloc(&buf.C, size_t(kMaxM) * N * 2));
    CK(cudaMalloc(&buf.ctmp, size_t(256) << 20));
    CK(cudaMalloc(&buf.locks, 16384));
    CK(cudaMemset(buf.locks, 0, 16384));
    CK(cudaMalloc(&buf.out, 16));
    for (int sl : {1, 2, 4, 8}) {
      if (g_only) break;
      run_stream<256, 128, 128, 4, false>(buf, N, K, ncopies, sl, "stream 128x128 s4");
      run_stream<256, 128, 128, 8, false>(buf, N, K, ncopies, sl, "stream 128x128 s8");
      run_stream<256, 128, 128, 4, true>(buf, N, K, ncopies, sl, "stream 128x128 s4 kmajor");
      run_stream<256, 256, 64, 4, false>(buf, N, K, ncopies, sl, "stream 256x64 s4");
      run_stream<128, 64, 128, 4, false>(buf, N, K, ncopies, sl, "stream 64x128 s4");
      run_stream<128, 64, 128, 8, false>(buf, N, K, ncopies, sl, "stream 64x128 s8");
    }
    for (int per_sm : {1, 2}) {
      run_stream_sk<256, 128, 128, 4, false>(buf, N, K, ncopies, per_sm, "streamk 128x128 s4");
      run_stream_sk<256, 128, 128, 4, true>(buf, N, K, ncopies, per_sm, "streamk-drain 128x128 s4");
    }
    for (int M : {1, 16}) {
      for (int sl : {1, 2, 3, 4, 6, 8, -1, -2, -3}) {
        if (M == 1) {
          run_marlin<256, 1, 8, 8, true, 4>(buf, M, N, K, ncopies, sl, "m8 128x128x256 s4");
          run_marlin<256, 1, 8, 8, true, 8>(buf, M, N, K, ncopies, sl, "m8 128x128x256 s8");
          run_marlin<256, 1, 8, 8, true, 4, -1>(buf, M, N, K, ncopies, sl, "m8 gch 128x128x256 s4");
          // deeper K tiles / fewer k warps (outside DESIGN.md's thread configs): more k16
          // sub-tiles per warp between two barriers
          run_marlin<256, 1, 8, 16, true, 4>(buf, M, N, K, ncopies, sl, "m8 256x128x256 s4");
          run_marlin<128, 1, 8, 8, true, 4>(buf, M, N, K, ncopies, sl, "m8 128x128x128 s4");
          run_marlin<256, 1, 16, 4, true, 4>(buf, M, N, K, ncopies, sl, "m8 64x256x256 s4");
          run_marlin<128, 1, 4, 8, true, 4>(buf, M, N, K, ncopies, sl, "m8 128x64x128 s4");
          run_marlin<128, 1, 4, 8, true, 8>(buf, M, N, K, ncopies, sl, "m8 128x64x128 s8");
          run_marlin<128, 1, 8, 4, true, 4>(buf, M, N, K, ncopies, sl, "m8 64x128x128 s4");
          // the wgmma tiles (sm_90a) with one and two m blocks, most of their rows empty
          run_marlin<256, 1, 16, 4, false, 4>(buf, M, N, K, ncopies, sl, "mb1 64x256x256 s4");
          run_marlin<256, 2, 16, 4, false, 4>(buf, M, N, K, ncopies, sl, "mb2 64x256x256 s4");
        } else {
          run_marlin<256, 1, 8, 8, false, 4>(buf, M, N, K, ncopies, sl, "mb1 128x128x256 s4");
          run_marlin<256, 1, 16, 4, false, 4>(buf, M, N, K, ncopies, sl, "mb1 64x256x256 s4");
          run_marlin<256, 2, 16, 4, false, 4>(buf, M, N, K, ncopies, sl, "mb2 64x256x256 s4");
          run_marlin<256, 1, 8, 8, false, 8>(buf, M, N, K, ncopies, sl, "mb1 128x128x256 s8");
          run_marlin<128, 1, 4, 8, false, 4>(buf, M, N, K, ncopies, sl, "mb1 128x64x128 s4");
        }
      }
    }
    // larger M: the (64,256,256) tile, which runs with wgmma when built for sm_90a
    for (int M : {64, 128, 256, 1024}) {
      for (int sl : {1, 2, 4, 8}) {
        run_marlin<256, 4, 16, 4, false, 4>(buf, M, N, K, ncopies, sl, "mb4 64x256x256 s4");
        run_marlin<256, 4, 16, 4, false, 4>(buf, M, N, K, ncopies, sl, "mb4w 64x256x256 s4", true);
        run_marlin<256, 4, 16, 4, false, 5>(buf, M, N, K, ncopies, sl, "mb4 64x256x256 s5");
      }
    }
    for (auto* p : buf.B) cudaFree(p);
    for (auto* p : buf.S) cudaFree(p);
    cudaFree(buf.A);
    cudaFree(buf.C);
    cudaFree(buf.ctmp);
    cudaFree(buf.locks);
    cudaFree(buf.out);
  }
  return 0;
}
