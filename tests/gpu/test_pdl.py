"""Programmatic dependent launch (sm_90+, docs/kernel.md): a GEMM's blocks may start while the
previous kernel on the stream still runs. Each GEMM must still see everything that kernel wrote:
chains of GEMMs where each one's A is the previous one's C (NaN-poisoned until written), eagerly
and replayed from a CUDA graph, and GEMMs whose weights a copy kernel rewrites just before them.
On GPUs before sm_90 the same tests check the plain launches."""

import pytest
import torch

from cases import TOL, Packed, Scheme, activations, make, run_gemm

S = Scheme("gptq4", "fp16", 128)
K = 2048  # square layers so that they chain; |w| ~ 0.05 keeps 6 layers' outputs in fp16 range
LAYERS = 6


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
