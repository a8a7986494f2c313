"""The split-K sum shared by a tile's blocks (`reduce_together`, docs/kernel.md "Split-K"): in a
one-wave grid of a multi-m-block tile, every block of a tile sums a share of it once all partials
are in, instead of the last block summing the whole tile.
- It gives the same bits as the last-arrival sum (MARLIN_REDUCE_TOGETHER=0). The knob is read
  once per process, so each side runs in its own process.
- It does not hang when a tile's blocks cannot all be resident. Here a kernel holds every SM but
  one until the GEMM has written its first output element, so the GEMM's blocks run one at a
  time: a block that waits for its partners must give up and leave the sum to the last of them.
"""

import ctypes
import functools
import os
import subprocess
import sys
import time

import pytest
import torch

from cases import TOL, Scheme, activations, make, run_gemm

HERE = os.path.dirname(os.path.abspath(__file__))

# (scheme, m, n, k, run_gemm overrides), run by cases.run_case. On the H100 each is a one-wave
# split-K grid of a multi-m-block tile: 4 m-blocks (wgmma, 16 tiles x 8 slices), 2 m-blocks, 3
# m-blocks, 2 M tiles of 4 m-blocks (4 slices), the 128-row wide mode (14336 x 4096 at M = 256: 32
# tiles x 4 slices), the mma.sync (64,128,128) tile, bf16, 8-bit weights, per-channel scales
CASES = [
    ("gptq4/fp16/128", 64, 4096, 4096, {}),
    ("gptq4/fp16/128", 32, 4096, 4096, {}),
    ("gptq4/fp16/128", 48, 4096, 4096, {}),
    ("gptq4/fp16/128", 128, 4096, 4096, {}),
    ("gptq4/fp16/128", 256, 4096, 14336, {}),
    ("gptq4/fp16/128", 64, 4096, 4096, {"thread_n": 128}),
    ("gptq4/bf16/128", 64, 4096, 4096, {}),
    ("gptq8/fp16/128", 64, 4096, 4096, {}),
    ("gptq4/fp16/-1", 64, 4096, 4096, {}),
]

_RUN_CASES = r"""
import sys, torch
sys.path.insert(0, sys.argv[1])
from cases import run_case
from test_reduce import CASES
torch.save([run_case(*c) for c in CASES], sys.argv[2])
"""


def _outputs(tmp_path, together: str) -> list[torch.Tensor]:
    out = tmp_path / f"c{together}.pt"
    env = dict(os.environ, MARLIN_REDUCE_TOGETHER=together)
    proc = subprocess.run([sys.executable, "-c", _RUN_CASES, HERE, str(out)], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(out)


def test_same_bits_as_the_last_arrival_sum(tmp_path):
    shared, last = _outputs(tmp_path, "1"), _outputs(tmp_path, "0")
    for case, x, y in zip(CASES, shared, last):
        assert torch.equal(x, y), f"{case}: the shared sum differs from the last-arrival sum"


# hold(c, flag, limit_ns): spin until the 16-bit word at c is no longer the fp16 NaN that
# torch.full writes (0x7E00), or limit_ns have passed; then set *flag = 1 if it timed out.
_HOLD_PTX = r"""
.version 7.0
.target sm_70
.address_size 64
.visible .entry hold(.param .u64 c, .param .u64 flag, .param .u64 limit_ns)
{
  .reg .pred %p<3>;
  .reg .b16 %h<2>;
  .reg .b32 %r<2>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [c];
  ld.param.u64 %rd2, [flag];
  ld.param.u64 %rd3, [limit_ns];
  cvta.to.global.u64 %rd1, %rd1;
  cvta.to.global.u64 %rd2, %rd2;
  mov.u64 %rd4, %globaltimer;
SPIN:
  ld.acquire.gpu.global.b16 %h1, [%rd1];
  setp.ne.b16 %p1, %h1, 0x7E00;
  @%p1 bra DONE;
  mov.u64 %rd5, %globaltimer;
  sub.u64 %rd6, %rd5, %rd4;
  setp.lt.u64 %p2, %rd6, %rd3;
  @%p2 bra SPIN;
  mov.u32 %r1, 1;
  st.global.u32 [%rd2], %r1;
DONE:
  ret;
}
"""
_SMEM_ATTR = 8  # CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES


@functools.lru_cache(maxsize=None)
def _hold_fn() -> tuple[ctypes.CDLL, ctypes.c_void_p, int]:
    """The driver library, hold() set up for the largest shared memory a block may have (so one
    block fills an SM), and that size."""
    cu = ctypes.CDLL("libcuda.so.1")
    mod, fn = ctypes.c_void_p(), ctypes.c_void_p()
    assert cu.cuModuleLoadData(ctypes.byref(mod), ctypes.c_char_p(_HOLD_PTX.encode())) == 0
    assert cu.cuModuleGetFunction(ctypes.byref(fn), mod, b"hold") == 0
    smem = torch.cuda.get_device_properties(0).shared_memory_per_block_optin
    assert cu.cuFuncSetAttribute(fn, _SMEM_ATTR, smem) == 0
    return cu, fn, smem


def test_no_hang_when_a_tile_is_not_resident():
    p = make(Scheme("gptq4", "fp16", 128), 4096, 4096)
    a = activations(64, 4096, torch.float16, seed=64)
    ref = a.float() @ p.w_ref
    c = torch.full((64, 4096), float("nan"), dtype=torch.float16, device="cuda")
    run_gemm(p, a, c)  # warm-up: workspace, kernel attributes
    torch.cuda.synchronize()
    c.fill_(float("nan"))
    flag = torch.zeros(1, dtype=torch.int32, device="cuda")
    torch.cuda.synchronize()

    cu, fn, smem = _hold_fn()
    side = torch.cuda.Stream()
    vals = [ctypes.c_uint64(c.data_ptr()), ctypes.c_uint64(flag.data_ptr()), ctypes.c_uint64(2_000_000_000)]
    params = (ctypes.c_void_p * 3)(*[ctypes.cast(ctypes.byref(v), ctypes.c_void_p) for v in vals])
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    assert cu.cuLaunchKernel(fn, sms - 1, 1, 1, 32, 1, 1, smem, ctypes.c_void_p(side.cuda_stream), params, None) == 0
    time.sleep(0.05)  # the holders are resident long before this
    t0 = time.perf_counter()
    run_gemm(p, a, c)
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    assert flag.item() == 0, "the GEMM did not write C within 2 s while it had one SM (a block waited forever?)"
    err = ((c.float() - ref).norm() / ref.norm()).item()
    assert not torch.isnan(c).any() and err < TOL["fp16"], f"relative error {err:.3g}"
    assert elapsed < 1.5, f"{elapsed:.2f} s"
