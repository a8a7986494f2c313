"""Programmatic dependent launch (sm_90+, docs/kernel.md): a GEMM's blocks may start before the
previous kernel on the stream has completed. Each GEMM must still see everything that kernel
wrote:
- a kernel that lets its dependents start at once and only then, after a delay, writes the
  GEMM's A (NaN until written): fails if the GEMM reads A before griddepcontrol.wait;
- chains of GEMMs whose A is the previous one's C, eagerly and replayed from a CUDA graph;
- GEMMs whose weights a copy kernel rewrites just before them (they are prefetched into L2
  before the wait).
On GPUs before sm_90 the last two check the plain launches."""

import ctypes
import functools

import pytest
import torch

from cases import TOL, Packed, Scheme, activations, make, run_gemm

S = Scheme("gptq4", "fp16", 128)
K = 2048  # square layers so that they chain; |w| ~ 0.05 keeps 6 layers' outputs in fp16 range
LAYERS = 6


# dst[i] = src[i] (16-bit) for i < n, after letting dependent grids launch and spinning for
# delay_ns on the global timer: the write lands long after a dependent grid could have started.
_LATE_COPY_PTX = r"""
.version 8.0
.target sm_90
.address_size 64
.visible .entry late_copy(.param .u64 dst, .param .u64 src, .param .u32 n, .param .u64 delay_ns)
{
  .reg .pred %p<3>;
  .reg .b32 %r<8>;
  .reg .b64 %rd<12>;
  .reg .b16 %h<2>;
  griddepcontrol.launch_dependents;
  ld.param.u64 %rd1, [dst];
  ld.param.u64 %rd2, [src];
  ld.param.u32 %r1, [n];
  ld.param.u64 %rd3, [delay_ns];
  mov.u64 %rd4, %globaltimer;
SPIN:
  mov.u64 %rd5, %globaltimer;
  sub.u64 %rd6, %rd5, %rd4;
  setp.lt.u64 %p1, %rd6, %rd3;
  @%p1 bra SPIN;
  cvta.to.global.u64 %rd1, %rd1;
  cvta.to.global.u64 %rd2, %rd2;
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.u32 %r5, %r2, %r3, %r4;
  mov.u32 %r6, %nctaid.x;
  mul.lo.u32 %r6, %r6, %r3;
COPY:
  setp.ge.u32 %p2, %r5, %r1;
  @%p2 bra DONE;
  mul.wide.u32 %rd7, %r5, 2;
  add.u64 %rd8, %rd2, %rd7;
  ld.global.u16 %h1, [%rd8];
  add.u64 %rd9, %rd1, %rd7;
  st.global.u16 [%rd9], %h1;
  add.u32 %r5, %r5, %r6;
  bra COPY;
DONE:
  ret;
}
"""


@functools.lru_cache(maxsize=None)
def _late_copy_fn() -> tuple[ctypes.CDLL, ctypes.c_void_p]:
    """The driver library and late_copy, loaded once into torch's (current) context."""
    cu = ctypes.CDLL("libcuda.so.1")
    mod, fn = ctypes.c_void_p(), ctypes.c_void_p()
    assert cu.cuModuleLoadData(ctypes.byref(mod), ctypes.c_char_p(_LATE_COPY_PTX.encode())) == 0
    assert cu.cuModuleGetFunction(ctypes.byref(fn), mod, b"late_copy") == 0
    return cu, fn


def _late_copy(dst: torch.Tensor, src: torch.Tensor, delay_ns: int) -> None:
    """Launch late_copy (driver API) on torch's current stream."""
    cu, fn = _late_copy_fn()
    vals = [ctypes.c_uint64(dst.data_ptr()), ctypes.c_uint64(src.data_ptr()), ctypes.c_uint32(src.numel()),
            ctypes.c_uint64(delay_ns)]
    params = (ctypes.c_void_p * 4)(*[ctypes.cast(ctypes.byref(v), ctypes.c_void_p) for v in vals])
    stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
    assert cu.cuLaunchKernel(fn, 8, 1, 1, 256, 1, 1, 0, stream, params, None) == 0


@pytest.fixture(scope="module")
def layers() -> list[Packed]:
    return [make(S, K, K, seed=10 + i) for i in range(LAYERS)]


def _poisoned(m: int) -> list[torch.Tensor]:
    return [torch.full((m, K), float("nan"), dtype=torch.float16, device="cuda") for _ in range(LAYERS)]


def _chain(layers: list[Packed], x: torch.Tensor, outs: list[torch.Tensor]) -> None:
    a = x
    for p, c in zip(layers, outs):
        run_gemm(p, a, c)
        a = c


def _check_chain(layers: list[Packed], x: torch.Tensor, outs: list[torch.Tensor]) -> None:
    # each layer against its own input as the GEMM saw it, so that errors do not compound
    a = x
    for i, (p, c) in enumerate(zip(layers, outs)):
        assert not torch.isnan(c).any(), f"layer {i}: NaN in the output (read its input before it was written?)"
        ref = a.float() @ p.w_ref
        err = ((c.float() - ref).norm() / ref.norm()).item()
        assert err < TOL["fp16"], f"layer {i}: relative error {err:.3g}"
        a = c


@pytest.mark.skipif(not torch.cuda.is_available() or torch.cuda.get_device_capability() < (9, 0),
                    reason="griddepcontrol needs sm_90")
@pytest.mark.parametrize("m", [1, 16, 256])
def test_waits_for_a_kernel_that_lets_it_start_early(layers, m):
    p = layers[0]
    src = activations(m, K, torch.float16, seed=3)
    a = torch.full_like(src, float("nan"))
    c = torch.full((m, K), float("nan"), dtype=torch.float16, device="cuda")
    run_gemm(p, src, c)  # warm-up: workspace, kernel attributes
    torch.cuda.synchronize()
    c.fill_(float("nan"))
    _late_copy(a, src, delay_ns=200_000)
    run_gemm(p, a, c)
    torch.cuda.synchronize()
    assert torch.equal(a, src)
    assert not torch.isnan(c).any(), "the GEMM read A before the previous kernel wrote it"
    ref = src.float() @ p.w_ref
    err = ((c.float() - ref).norm() / ref.norm()).item()
    assert err < TOL["fp16"], f"relative error {err:.3g}"


# M = 1 and 16: the small-batch tiles, split K over the SMs (16 N tiles); 256: the 4-m-block tile
# (wgmma on an H100, 64- or 128-row tiles)
@pytest.mark.parametrize("m", [1, 16, 256])
def test_dependent_chain_eager(layers, m):
    x = activations(m, K, torch.float16, seed=m)
    for _ in range(3):
        outs = _poisoned(m)
        _chain(layers, x, outs)
        torch.cuda.synchronize()
        _check_chain(layers, x, outs)


@pytest.mark.parametrize("m", [1, 256])
def test_dependent_chain_graph(layers, m):
    x = activations(m, K, torch.float16, seed=m)
    outs = _poisoned(m)
    _chain(layers, x, outs)  # warm-up: workspace, kernel attributes
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        _chain(layers, x, outs)
    for seed in (1, 2):
        x.copy_(activations(m, K, torch.float16, seed=100 + seed))
        for c in outs:
            c.fill_(float("nan"))
        g.replay()
        torch.cuda.synchronize()
        _check_chain(layers, x, outs)


@pytest.mark.parametrize("graph", [False, True])
def test_weights_rewritten_just_before(layers, graph):
    # the GEMM prefetches its weights into L2 before it waits for the previous kernel: a copy
    # kernel that rewrites them right before must still win
    p0, p1 = layers[0], layers[1]
    b, s = p0.b.clone(), p0.scales.clone()
    live = Packed(S, K, K, b, s, p0.w_ref, p0.b_type)
    x = activations(16, K, torch.float16, seed=7)
    c = torch.full((16, K), float("nan"), dtype=torch.float16, device="cuda")

    def step(src: Packed) -> None:
        b.copy_(src.b)
        s.copy_(src.scales)
        run_gemm(live, x, c)

    if graph:
        step(p1)
        torch.cuda.synchronize()
        graphs = {}
        for i, src in enumerate((p0, p1)):
            graphs[i] = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graphs[i]):
                step(src)
    for i in (0, 1, 0, 1):
        src = (p0, p1)[i]
        c.fill_(float("nan"))
        if graph:
            graphs[i].replay()
        else:
            step(src)
        torch.cuda.synchronize()
        ref = x.float() @ src.w_ref
        err = ((c.float() - ref).norm() / ref.norm()).item()
        assert err < TOL["fp16"], f"weights of layer {i}: relative error {err:.3g}"
