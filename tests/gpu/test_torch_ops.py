"""The torch custom ops: eager, torch.compile(fullgraph=True), CUDA graph capture, opcheck."""

import pytest
import torch

from marlin_core.runtime import ops, packing, quant


def _gptq_layer(n=512, k=1024, dtype=torch.float16, act_order=False):
    w = torch.randn(k, n) * 0.05
    qw = quant.quantize_gptq(w, 4, 128, act_order=act_order, dtype=dtype)
    prep = ops.prepare_gptq(packing.gptq_pack(qw.q, 4).cuda(), qw.scales.cuda(), k, n, 4,
                            g_idx=None if qw.g_idx is None else qw.g_idx.cuda())
    return prep, qw.w_ref.cuda()


@pytest.mark.parametrize("act_order", [False, True])
def test_eager_op(act_order):
    prep, w_ref = _gptq_layer(act_order=act_order)
    a = torch.randn(3, 5, 1024, device="cuda", dtype=torch.float16)
    out = ops.gemm(a, **prep)
    assert out.shape == (3, 5, 512)
    ref = a.float() @ w_ref
    assert ((out.float() - ref).norm() / ref.norm()).item() < 2e-3


def test_awq_and_hqq_wrappers():
    k, n = 512, 256
    w = torch.randn(k, n) * 0.05
    qa = quant.quantize_awq(w, 128)
    prep = ops.prepare_awq(packing.awq_pack(qa.q).cuda(), packing.awq_pack(qa.zeros).cuda(), qa.scales.cuda(), k, n)
    a = torch.randn(9, k, device="cuda", dtype=torch.float16)
    ref = a.float() @ qa.w_ref.cuda()
    assert ((ops.gemm(a, **prep).float() - ref).norm() / ref.norm()).item() < 2e-3
    qh = quant.quantize_hqq(w, 64)
    prep = ops.prepare_hqq(qh.q.cuda(), qh.scales.cuda(), qh.zeros.cuda(), k, n)
    ref = a.float() @ qh.w_ref.cuda()
    assert ((ops.gemm(a, **prep).float() - ref).norm() / ref.norm()).item() < 2e-3


def test_torch_compile_fullgraph():
    prep, w_ref = _gptq_layer()
    bias = torch.randn(512, device="cuda", dtype=torch.float16)

    def f(x):
        return torch.relu(ops.gemm(x * 2.0, bias=bias, **prep)) + 1.0

    x = torch.randn(17, 1024, device="cuda", dtype=torch.float16)
    eager = f(x)
    compiled = torch.compile(f, fullgraph=True)(x)
    assert torch.equal(eager, compiled)


def test_cuda_graph_capture():
    prep, w_ref = _gptq_layer()
    x = torch.randn(8, 1024, device="cuda", dtype=torch.float16)
    ops.gemm(x, **prep)  # warm-up: workspace allocated, kernel attributes set
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        y = ops.gemm(x, **prep)
    x.copy_(torch.randn_like(x))
    g.replay()
    torch.cuda.synchronize()
    assert torch.equal(y, ops.gemm(x, **prep))


def test_opcheck():
    prep, _ = _gptq_layer(n=256, k=256)
    a = torch.randn(4, 256, device="cuda", dtype=torch.float16)
    args = (a, prep["b"], prep["scales"], None, None, None, None, ops.TYPE_ID["kU4B8"], 256, False, True,
            -1, -1, -1, -1)
    torch.library.opcheck(torch.ops.marlin.gemm.default, args)
