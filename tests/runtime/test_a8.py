"""a8.gemm_a8's path choice (the same launch.eager as ops.gemm) on CPU: plain eager calls run the
implementation without torch.ops; fake tensors and torch.compile get the custom op."""

import pytest

torch = pytest.importorskip("torch")

from marlin_core.runtime import a8
from marlin_core.runtime.validate import TYPE_ID

K, N, G = 256, 128, 2


@pytest.fixture
def direct(monkeypatch):
    """Stands in for the implementation when gemm_a8 calls it itself (CPU tensors cannot reach
    the library); the op keeps its own reference, so calls through torch.ops are not seen."""
    calls = []

    def impl(a, a_scales, b, scales, zp, bias, b_type_id, s_type_id, size_n, out_dtype, *rest):
        calls.append({"a": a, "a_scales": a_scales, "b_type_id": b_type_id, "s_type_id": s_type_id})
        return torch.zeros(a.shape[0], size_n, dtype=out_dtype)

    monkeypatch.setattr(a8, "_gemm_a8", impl)
    return calls


def inputs(scales_dtype=torch.float16):
    return {"a": torch.zeros(3, 5, K, dtype=torch.int8), "a_scales": torch.ones(3, 5),
            "b": torch.zeros(K // 32, 4 * N, dtype=torch.int32), "scales": torch.zeros(G, N, dtype=scales_dtype),
            "zp": torch.zeros(G, N // 8, dtype=torch.int32), "b_type": "kU4", "size_n": N,
            "out_dtype": torch.bfloat16}


@pytest.mark.parametrize("scales_dtype,s_type,want", [
    (torch.float16, None, "kFloat16"),
    (torch.bfloat16, None, "kBFloat16"),
    (torch.uint8, None, "kFE8M0fnu"),
    (torch.uint8, "kFE8M0fnu", "kFE8M0fnu"),
])
def test_eager_call_runs_the_implementation(direct, scales_dtype, s_type, want):
    out = a8.gemm_a8(**inputs(scales_dtype), s_type=s_type)
    assert out.shape == (3, 5, N) and out.dtype == torch.bfloat16
    [call] = direct
    assert call["a"].shape == (15, K) and call["a_scales"].shape == (15,)
    assert (call["b_type_id"], call["s_type_id"]) == (TYPE_ID["kU4"], TYPE_ID[want])


def test_fake_tensors_go_through_the_op(direct):
    from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode

    with FakeTensorMode():
        out = a8.gemm_a8(**inputs())
    assert isinstance(out, FakeTensor) and out.shape == (3, 5, N) and out.dtype == torch.bfloat16
    assert direct == []


def test_compile_fullgraph_records_the_op(direct, recording_backend):
    backend, graphs = recording_backend
    kw = inputs()

    def f(a):
        return a8.gemm_a8(**dict(kw, a=a)) + 1

    # the graph runs the op's real implementation, which refuses CPU tensors
    with pytest.raises(ValueError, match="a must be a 2-D CUDA"):
        torch.compile(f, fullgraph=True, backend=backend)(kw["a"])
    [gm] = graphs
    assert {torch.ops.marlin.gemm_a8, torch.ops.marlin.gemm_a8.default} & {n.target for n in gm.graph.nodes}
    assert direct == []
