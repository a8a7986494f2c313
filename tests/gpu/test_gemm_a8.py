"""8-bit activations (W4A8-INT8, W4A8-FP8, MXFP4 with fp8 activations) on the GPU: the repack
against the torch reference bit for bit, every (a, b, c, s, group) of the default set for M in
{1, 7, 16, 33, 64, 100, 256, 1000} and three (N, K) pairs (NaN-poisoned output, float32
reference a_ref @ w_ref, two runs bit-identical), every thread config, bias, 16-bit reduction,
the torch op, and which code path ran (sm89 fp8 kernels; the sm75 path with
MARLIN_FORCE_STAGES=2 and a library whose sm75 files are compute_75 PTX).

Each matrix test prints one line "A8 <scheme> max_rel_err=... path=..." (run with -s)."""

import os

import pytest
import torch

from cases_a8 import (SchemeA8, all_schemes_a8, activations_a8, check_a8, make_a8, nk_pairs_a8, repack_a8,
                      run_gemm_a8)
from marlin_core.runtime import a8, packing

MS = [1, 7, 16, 33, 64, 100, 256, 1000]
FORCE2 = os.environ.get("MARLIN_FORCE_STAGES") == "2"  # sm75 path: int8 activations, fp16 output only


def _path() -> str:
    info = a8.last_launch()
    return f"stages={info['stages']},ptx={info['ptx_version']},sass={info['binary_version']}"


def _skip_if_not_on_path(s: SchemeA8):
    if FORCE2 and not (s.act == "int8" and s.dtype == "fp16"):
        pytest.skip("the sm75 path has int8 activations with fp16 output only")
    if s.act == "fp8" and torch.cuda.get_device_capability() < (8, 9):
        pytest.skip("fp8 tensor cores need sm89+")


@pytest.mark.parametrize("awq", [False, True], ids=["gptq", "awq"])
@pytest.mark.parametrize("kn", [(32, 64), (128, 256), (224, 832)])
def test_repack_a8_matches_reference(awq, kn):
    k, n = kn
    g = torch.Generator().manual_seed(k + n)
    q = torch.randint(0, 16, (k, n), generator=g, dtype=torch.int32)
    src = packing.awq_pack(q) if awq else packing.gptq_pack(q, 4)
    out = repack_a8(src.cuda(), k, n, awq=awq)
    assert torch.equal(out.cpu(), a8.pack_a8_reference(q))
    # the torch op gives the same
    assert torch.equal(a8.repack_a8(src.cuda(), k, n, awq=awq).cpu(), out.cpu())


@pytest.mark.parametrize("scheme", all_schemes_a8(), ids=lambda s: s.id)
def test_gemm_a8_matrix(scheme: SchemeA8):
    _skip_if_not_on_path(scheme)
    failures, worst = [], 0.0
    for n, k in nk_pairs_a8(scheme.group_size):
        p = make_a8(scheme, n, k, seed=n + k)
        for m in MS:
            try:
                worst = max(worst, check_a8(p, m))
            except AssertionError as e:
                failures.append(f"M={m} N={n} K={k}: {e}")
    print(f"\nA8 {scheme.id} max_rel_err={worst:.3e} path={_path()}")
    assert not failures, "\n".join(failures)


SMALL = [(128, 128), (64, 128), (128, 64)]
LARGE = [(64, 256), (64, 128), (128, 64)]
M_FOR_BLOCKS = {1: 16, 2: 20, 3: 40, 4: 64}


@pytest.mark.parametrize(
    "scheme",
    [SchemeA8("int8", "gptq", "fp16", 128), SchemeA8("int8", "awq", "bf16", 32), SchemeA8("int8", "awq", "fp16", -1),
     SchemeA8("fp8", "awq", "fp16", 64), SchemeA8("fp8", "gptq", "bf16", -1), SchemeA8("fp8", "mxfp4", "bf16", 32)],
    ids=lambda s: s.id,
)
@pytest.mark.parametrize("max_slices", [1, -1], ids=["noslice", "split"])
def test_every_config_a8(scheme, max_slices):
    _skip_if_not_on_path(scheme)
    p = make_a8(scheme, 512, 1152, seed=3)
    failures = []
    for mb, m in M_FOR_BLOCKS.items():
        for tk, tn in (SMALL if mb <= 1 else LARGE):
            for rows in [m] + ([m + 3 * 64] if mb == 4 else []):
                try:
                    check_a8(p, rows, thread_k=tk, thread_n=tn, max_slices=max_slices, max_m_blocks=4 if mb == 4 else -1)
                    info = a8.last_launch()
                    assert info["thread_m_blocks"] == mb, f"ran thread_m_blocks {info['thread_m_blocks']}"
                except Exception as e:  # noqa: BLE001
                    failures.append(f"m_blocks={mb} rows={rows} ({tk},{tn}): {e}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("scheme", [SchemeA8("int8", "gptq", "fp16", 128), SchemeA8("fp8", "awq", "bf16", 64)],
                         ids=lambda s: s.id)
def test_bias_and_16bit_reduce_a8(scheme):
    _skip_if_not_on_path(scheme)
    p = make_a8(scheme, 1024, 2048)
    for m in (1, 33, 256):
        check_a8(p, m, bias=True)
        check_a8(p, m, bias=True, use_fp32_reduce=False)


def test_code_path_reported():
    """Which kernels ran: fp8 activations come from the sm89 family (compute_89 PTX JIT-compiled
    on newer GPUs, or sm_89 SASS); with MARLIN_FORCE_STAGES=2, int8 runs the sm75 family."""
    if FORCE2:
        p = make_a8(SchemeA8("int8", "gptq", "fp16", 128), 256, 512)
        check_a8(p, 33)
        info = a8.last_launch()
        print(f"\nA8 sm75 path: {info}")
        assert info["stages"] == 2 and 75 in (info["ptx_version"], info["binary_version"]), info
        return
    p = make_a8(SchemeA8("int8", "gptq", "fp16", 128), 256, 512)
    check_a8(p, 33)
    info = a8.last_launch()
    print(f"\nA8 int8 path: {info}")
    assert info["stages"] == 4
    if torch.cuda.get_device_capability() >= (8, 9):
        p = make_a8(SchemeA8("fp8", "gptq", "fp16", 128), 256, 512)
        check_a8(p, 33)
        info = a8.last_launch()
        print(f"A8 fp8 path: {info}")
        assert info["stages"] == 4 and 89 in (info["ptx_version"], info["binary_version"]), info


def test_torch_op_and_compile():
    if FORCE2:
        pytest.skip("stages forced")
    s = SchemeA8("int8", "awq", "fp16", 128)
    p = make_a8(s, 256, 1024)
    x = torch.randn(3, 5, 1024, device="cuda")
    q, sc = a8.quantize_activations(x, "int8")
    out = a8.gemm_a8(q.reshape(3, 5, 1024), sc, p.b, p.scales, "kU4", 256, torch.float16, zp=p.zp)
    assert out.shape == (3, 5, 256) and out.dtype == torch.float16
    ref = (q.float() * sc[:, None]) @ p.w_ref
    assert ((out.reshape(15, 256).float() - ref).norm() / ref.norm()).item() < 2e-3

    def f(a, s_):
        return a8.gemm_a8(a, s_, p.b, p.scales, "kU4", 256, torch.float16, zp=p.zp)

    cf = torch.compile(f, fullgraph=True)
    assert torch.equal(cf(q, sc), f(q, sc))


def test_errors_a8():
    from marlin_core.runtime.library import MarlinError

    s = SchemeA8("int8", "gptq", "fp16", 128)
    p = make_a8(s, 256, 512)
    aq, asc, _ = activations_a8(4, 512, "int8")
    c = torch.empty(4, 256, device="cuda", dtype=torch.float16)
    # K not a multiple of 32
    with pytest.raises(MarlinError, match="multiple of 32"):
        run_gemm_a8(p, torch.zeros(4, 528, dtype=torch.int8, device="cuda"), asc, c)
    # marlin_gemm (the 16-bit entry) with an 8-bit a_type: refused, it has no a_scales
    import ctypes

    from marlin_core.runtime import library
    from marlin_core.runtime.ops import TYPE_ID, workspace

    ws = workspace(aq.device, torch.cuda.current_stream().cuda_stream)
    args = library.GemmArgs(a=aq.data_ptr(), lda=512, b=p.b.data_ptr(), c=c.data_ptr(), scales=p.scales.data_ptr(),
                            workspace=ws.data_ptr(), workspace_bytes=ws.numel(), a_type=TYPE_ID["kS8"],
                            b_type=TYPE_ID["kU4B8"], c_type=TYPE_ID["kFloat16"], s_type=TYPE_ID["kFloat16"], m=4,
                            n=256, k=512, num_groups=4, use_fp32_reduce=1, thread_k=-1, thread_n=-1,
                            max_m_blocks=-1, max_slices=-1)
    with pytest.raises(MarlinError, match="need per-token a_scales"):
        library.check(library.load().marlin_gemm(ctypes.byref(args), None))
    # unsupported combination through the a8 entry
    args.b_type = TYPE_ID["kU8B128"]
    with pytest.raises(MarlinError, match="unsupported type combination a=s8 b=u8b128"):
        library.check(a8._lib().marlin_gemm_a8(ctypes.byref(args), ctypes.c_void_p(asc.data_ptr()), None))


def test_strided_a_a8():
    """A as a view with row stride > K (lda = 704, a multiple of 16) and an offset start, with
    M chunks of 64 rows plus a remainder (the per-token scales advance with the rows)."""
    if FORCE2:
        pytest.skip("stages forced")
    s = SchemeA8("int8", "awq", "bf16", 64)
    p = make_a8(s, 256, 640)
    big_q, _, _ = activations_a8(300, 704, "int8")
    a = big_q[3:3 + 261, 16:16 + 640]
    assert a.stride(0) == 704 and a.data_ptr() % 16 == 0
    asc = (torch.rand(261, device="cuda") + 0.5) * 0.01
    ref = (a.float() * asc[:, None]) @ p.w_ref
    c = torch.full((261, 256), float("nan"), dtype=torch.bfloat16, device="cuda")
    run_gemm_a8(p, a, asc, c)
    torch.cuda.synchronize()
    assert not torch.isnan(c).any()
    assert ((c.float() - ref).norm() / ref.norm()).item() < 1e-2


@pytest.mark.parametrize("weight,act,dtype", [("gptq", "int8", torch.float16), ("awq", "fp8", torch.bfloat16),
                                              ("mxfp4", "fp8", torch.bfloat16)])
def test_prepare_and_linear_a8(weight, act, dtype):
    """Checkpoint tensors -> prepare_*_a8 -> linear_a8 on 16-bit activations (quantized per token
    inside), against float32 (q * s) @ w_ref with the same quantization."""
    if FORCE2 or (act == "fp8" and torch.cuda.get_device_capability() < (8, 9)):
        pytest.skip("path not available")
    from marlin_core.runtime import quant, quant_fp

    k, n = 512, 256
    w = torch.randn(k, n, generator=torch.Generator().manual_seed(7)) * 0.05
    if weight == "gptq":
        qw = quant.quantize_gptq(w, 4, 128, dtype=dtype)
        prep = a8.prepare_gptq_a8(packing.gptq_pack(qw.q, 4).cuda(), qw.scales.cuda(), k, n)
    elif weight == "awq":
        qw = quant.quantize_awq(w, 64, dtype)
        prep = a8.prepare_awq_a8(packing.awq_pack(qw.q).cuda(), packing.awq_pack(qw.zeros).cuda(), qw.scales.cuda(),
                                 k, n)
    else:
        qw = quant_fp.quantize_mxfp4(w)
        prep = a8.prepare_mxfp4_a8(qw.q.cuda(), qw.scales.cuda(), k, n)
    x = torch.randn(2, 9, k, device="cuda").to(dtype)
    y = a8.linear_a8(x, prep, act=act)
    assert y.shape == (2, 9, n) and y.dtype == dtype
    q, s = a8.quantize_activations(x, act)
    ref = (q.float() * s[:, None]) @ qw.w_ref.cuda()
    assert ((y.reshape(18, n).float() - ref).norm() / ref.norm()).item() < 1e-2
