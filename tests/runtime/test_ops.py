"""ops.gemm's two paths on CPU tensors with the library faked (conftest.fake_launch): plain eager
calls run the implementation without torch.ops and launch what the op would; fake / meta tensors,
torch.compile, make_fx and autograd get the custom op."""

import pytest

torch = pytest.importorskip("torch")

from marlin_core.runtime import ops, validate

K, N, G = 256, 128, 2


def weights(scheme="gptq", device="cpu"):
    w = {"b": torch.zeros(K // 16, N * 2, dtype=torch.int32, device=device),
         "scales": torch.zeros(G, N, dtype=torch.float16, device=device), "b_type": "kU4B8", "size_n": N}
    if scheme == "awq":
        w.update(b_type="kU4", zp=torch.zeros(G, N // 8, dtype=torch.int32, device=device))
    return w


def act(*lead, device="cpu"):
    return torch.randn(*lead, K, device=device).to(torch.float16)


@pytest.fixture
def direct(monkeypatch):
    """The calls gemm makes to the implementation itself (the op holds its own reference, so a
    call through torch.ops is not counted)."""
    calls = []
    impl = ops._gemm

    def counted(*args):
        calls.append(args)
        return impl(*args)

    monkeypatch.setattr(ops, "_gemm", counted)
    return calls


@pytest.mark.parametrize("scheme", ["gptq", "awq"])
def test_eager_call_launches_directly(fake_launch, direct, scheme):
    w = weights(scheme)
    a = act(3, 5)
    out = ops.gemm(a, **w)
    assert out.shape == (3, 5, N) and out.dtype == torch.float16
    assert len(direct) == 1
    [(name, f, (stream,))] = fake_launch.calls
    f16 = validate.TYPE_ID["kFloat16"]
    assert name == "marlin_gemm" and stream == 7
    assert (f["a"], f["lda"], f["b"], f["scales"]) == (a.data_ptr(), K, w["b"].data_ptr(), w["scales"].data_ptr())
    assert f["c"] == out.data_ptr() and (f["m"], f["n"], f["k"], f["num_groups"]) == (15, N, K, G)
    assert (f["a_type"], f["c_type"], f["s_type"]) == (f16, f16, f16)
    assert f["b_type"] == validate.TYPE_ID[w["b_type"]]
    assert f["zp"] == (w["zp"].data_ptr() if scheme == "awq" else None)
    assert (f["g_idx"], f["perm"], f["a_tmp"], f["bias"], f["global_scale"]) == (None,) * 5
    assert f["workspace_bytes"] == fake_launch.WORKSPACE_BYTES
    assert (f["is_zp_float"], f["use_fp32_reduce"], f["use_atomic_add"]) == (0, 1, 0)
    assert (f["thread_k"], f["thread_n"], f["max_m_blocks"], f["max_slices"]) == (-1, -1, -1, -1)


@pytest.mark.parametrize("extra", [
    {"scheme": "awq", "bias": True, "thread_k": 64, "thread_n": 256, "use_fp32_reduce": False},
    {"scheme": "gptq", "act_order": True, "max_m_blocks": 2, "max_slices": 3},
])
def test_eager_and_op_launch_the_same(fake_launch, direct, extra):
    extra = dict(extra)
    w = weights(extra.pop("scheme"))
    if extra.pop("bias", False):
        extra["bias"] = torch.zeros(N, dtype=torch.float16)
    if extra.pop("act_order", False):
        extra["g_idx"] = torch.arange(K, dtype=torch.int32) // (K // G)
        extra["perm"] = torch.arange(K, dtype=torch.int32)
    a = act(9)
    ops.gemm(a, **w, **extra)
    kw = dict(w, **extra)
    args = (a, kw["b"], kw["scales"], kw.get("zp"), kw.get("g_idx"), kw.get("perm"), kw.get("bias"),
            validate.TYPE_ID[kw["b_type"]], N, False, kw.get("use_fp32_reduce", True), kw.get("thread_k", -1),
            kw.get("thread_n", -1), kw.get("max_m_blocks", -1), kw.get("max_slices", -1))
    torch.ops.marlin.gemm.default(*args)
    assert len(direct) == 1
    (_, eager, _), (_, via_op, _) = fake_launch.calls
    assert (eager["a_tmp"] is None) == ("perm" not in extra)
    fresh = ("c", "a_tmp")  # the output and the act-order scratch are new per call
    assert {k: v for k, v in eager.items() if k not in fresh} == {k: v for k, v in via_op.items() if k not in fresh}


def test_eager_call_checks_before_launching(fake_launch, direct):
    with pytest.raises(validate.InvalidInput, match="kU4 weights need zero points"):
        ops.gemm(act(4), **dict(weights(), b_type="kU4"))
    with pytest.raises(validate.InvalidInput, match="unknown scalar type 'kU5'"):
        ops.gemm(act(4), **dict(weights(), b_type="kU5"))
    assert fake_launch.calls == [] and len(direct) == 1  # the bad type name fails in the wrapper


def test_fake_tensors_go_through_the_op(fake_launch, direct):
    from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode

    with FakeTensorMode():
        out = ops.gemm(act(2, 7), **weights("awq"))
    assert isinstance(out, FakeTensor) and out.shape == (2, 7, N) and out.dtype == torch.float16
    assert direct == [] and fake_launch.calls == []


def test_meta_tensors_go_through_the_op(fake_launch, direct):
    out = ops.gemm(act(7, device="meta"), **weights(device="meta"))
    assert out.is_meta and out.shape == (7, N)
    assert direct == [] and fake_launch.calls == []


def test_compile_fullgraph_records_the_op(fake_launch, direct, recording_backend):
    backend, graphs = recording_backend
    w = weights()

    def f(x):
        return ops.gemm(x * 2, **w) + 1

    out = torch.compile(f, fullgraph=True, backend=backend)(act(5))
    assert out.shape == (5, N)
    [gm] = graphs
    assert {torch.ops.marlin.gemm, torch.ops.marlin.gemm.default} & {n.target for n in gm.graph.nodes}
    assert direct == [] and len(fake_launch.calls) == 1  # the compiled graph ran the op


def test_make_fx_records_the_op(fake_launch, direct):
    from torch.fx.experimental.proxy_tensor import make_fx

    w = weights()
    gm = make_fx(lambda x: ops.gemm(x, **w))(act(5))
    assert torch.ops.marlin.gemm.default in [n.target for n in gm.graph.nodes]
    assert direct == []


def test_autograd_still_sees_the_op(fake_launch, direct):
    a = act(4).requires_grad_()
    out = ops.gemm(a, **weights())
    assert out.requires_grad and direct == [] and len(fake_launch.calls) == 1
    with pytest.raises(RuntimeError, match="no autograd formula"):
        out.float().sum().backward()
    with torch.no_grad():
        assert not ops.gemm(a, **weights()).requires_grad
    assert len(direct) == 1


def test_type_id():
    from marlin_core.types import BUILTIN_TYPES

    u4 = next(t for t in BUILTIN_TYPES if t.name == "kU4")
    assert ops.type_id("kU4") == ops.type_id(u4) == ops.type_id(u4.id) == u4.id
    for bad in ("kU5", 1.5, None):
        with pytest.raises(validate.InvalidInput, match="unknown scalar type"):
            ops.type_id(bad)
