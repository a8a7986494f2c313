"""GEMM with floating-point weights (issue 4 part A) on the GPU: FP8 (per channel, group 128),
NVFP4 and MXFP4 with fp16 / bf16 activations; M in {1, 7, 16, 33, 64, 100, 256, 1000}, three
(N, K) pairs each (non-square, K not a multiple of the K tile); output NaN-poisoned, compared
with float32 A @ w_ref (tolerances and why: cases_fp.TOL), two runs bit-identical.

Test ids start with the kernel path that ran: "sm80path" (4 stages) or "sm75path" (with
MARLIN_FORCE_STAGES=2 and a library whose sm75 files were built as compute_75 PTX; then only
the fp16 schemes run, as on a real sm75 GPU)."""

import json
import os

import pytest
import torch

from cases_fp import PATH, FpScheme, all_fp_schemes, check_fp, fp_nk_pairs, make_fp, run_gemm_fp

MS = [1, 7, 16, 33, 64, 100, 256, 1000]
SM75 = PATH == "sm75path"
ERRORS: dict[str, float] = {}


def test_path_is_what_the_library_was_built_for():
    from marlin_core.runtime import library

    info = library.built_info()
    print(f"kernel path: {PATH}; library {info}")
    if SM75:
        assert "7.5" in info["arch_list"], "MARLIN_FORCE_STAGES=2 needs a library with the sm75 family"


@pytest.mark.parametrize("scheme", all_fp_schemes(SM75), ids=lambda s: f"{PATH}-{s.id}")
def test_gemm_fp_matrix(scheme: FpScheme):
    failures, worst = [], 0.0
    for n, k in fp_nk_pairs(scheme):
        p = make_fp(scheme, n, k, seed=n + k)
        for m in MS:
            try:
                worst = max(worst, check_fp(p, m))
            except AssertionError as e:
                failures.append(f"M={m} N={n} K={k}: {e}")
    ERRORS[f"{PATH}-{scheme.id}"] = worst
    out = os.environ.get("MARLIN_FP_ERRORS")
    if out:  # max relative error per scheme, for the report
        with open(out, "a") as f:
            f.write(json.dumps({f"{PATH}-{scheme.id}": worst}) + "\n")
    assert not failures, "\n".join(failures)


SMALL = [(128, 128), (64, 128), (128, 64)]
LARGE = [(64, 256), (64, 128), (128, 64)]
M_FOR_BLOCKS = {0.5: 5, 1: 16, 2: 20, 3: 40, 4: 64}


@pytest.mark.parametrize("scheme", [s for s in all_fp_schemes(SM75) if s.group_size != -1],
                         ids=lambda s: f"{PATH}-{s.id}")
@pytest.mark.parametrize("max_slices", [1, -1], ids=["noslice", "split"])
def test_every_config_fp(scheme, max_slices):
    p = make_fp(scheme, 512, 1152 if scheme.group_size != 32 else 1152, seed=3)
    failures = []
    for mb, m in M_FOR_BLOCKS.items():
        for tk, tn in (SMALL if mb <= 1 else LARGE):
            try:
                check_fp(p, m, thread_k=tk, thread_n=tn, max_slices=max_slices, max_m_blocks=4 if mb == 4 else -1)
            except Exception as e:  # noqa: BLE001
                failures.append(f"m_blocks={mb} rows={m} ({tk},{tn}): {e}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("scheme", [FpScheme("nvfp4", "fp16", 16), FpScheme("fp8", "bf16", 128)],
                         ids=lambda s: f"{PATH}-{s.id}")
def test_bias_and_16bit_reduce_fp(scheme):
    if SM75 and scheme.dtype == "bf16":
        pytest.skip("bf16 on the sm75 path")
    p = make_fp(scheme, 1024, 2048)
    for m in (1, 33, 256):
        check_fp(p, m, bias=True)
        check_fp(p, m, bias=True, use_fp32_reduce=False)


def test_global_scale_is_applied_and_required():
    """NVFP4's per-tensor scale multiplies the output (a large one must not overflow a 16-bit
    intermediate), and the host refuses NVFP4 without it / other formats with it."""
    from marlin_core.runtime.library import MarlinError

    p = make_fp(FpScheme("nvfp4", "fp16", 16), 256, 512)
    a = torch.randn(8, 512, device="cuda", dtype=torch.float16)
    c1 = torch.empty(8, 256, device="cuda", dtype=torch.float16)
    c2 = torch.empty_like(c1)
    run_gemm_fp(p, a, c1)
    run_gemm_fp(p, a, c2, global_scale=p.prep["global_scale"] * 4.0)
    torch.cuda.synchronize()
    # a power of two: exact, except where c1 is an fp16 subnormal (there round(4y) != 4 round(y))
    normal = c1.float().abs() >= 2.0**-14
    assert normal.float().mean() > 0.99
    assert torch.equal(c2.float()[normal], c1.float()[normal] * 4.0)
    assert torch.allclose(c2.float(), c1.float() * 4.0, rtol=0, atol=4 * 2.0**-24)
    p.prep = dict(p.prep, global_scale=None)
    with pytest.raises(MarlinError, match="needs global_scale"):
        run_gemm_fp(p, a, c1, global_scale=None)


def test_torch_op_fp():
    """The custom op path (ops.gemm with the prepare_* dict)."""
    from marlin_core.runtime import ops

    for s in all_fp_schemes(SM75):
        p = make_fp(s, 256, 1152 if s.group_size == 128 else 1040 if s.group_size != 32 else 1088)
        a = torch.randn(3, 5, p.k, device="cuda", dtype=torch.float16 if s.dtype == "fp16" else torch.bfloat16)
        out = ops.gemm(a, **p.prep)
        ref = a.float().reshape(-1, p.k) @ p.w_ref
        err = ((out.reshape(-1, 256).float() - ref).norm() / ref.norm()).item()
        assert out.shape == (3, 5, 256) and err < 1e-2, (s.id, err)


def test_fp_repack_matches_reference():
    """FP codes (sign bit set in half of them) through the GPTQ packer + GPU repack equal the
    pure-torch tile layout."""
    from marlin_core.runtime import ops, packing

    g = torch.Generator().manual_seed(5)
    for bits in (4, 8):
        q = torch.randint(0, 1 << bits, (384, 192), generator=g, dtype=torch.int32)
        got = ops.repack_gptq(packing.gptq_pack(q, bits).cuda(), 384, 192, bits)
        assert torch.equal(got.cpu(), packing.marlin_pack_reference(q, bits))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_fp8_per_tensor_and_block_scales(dtype):
    """Checkpoint scale shapes through ops.prepare_fp8: one per-tensor value, and 128 x 128
    block scales [K / 128, N / 128]."""
    if SM75 and dtype == torch.bfloat16:
        pytest.skip("bf16 on the sm75 path")
    from marlin_core.runtime import ops
    from marlin_core.runtime import quant_fp as qf

    K, N = 512, 256
    g = torch.Generator().manual_seed(7)
    w = torch.randn(K, N, generator=g) * 0.05
    w[:128, 128:] *= 8  # one block much larger
    per_tensor = (w.abs().max() / 448).to(dtype)
    blocks = (w.reshape(K // 128, 128, N // 128, 128).abs().amax((1, 3)) / 448).to(dtype)
    a = torch.randn(33, K, device="cuda", dtype=dtype)
    for scales, s_full in ((per_tensor, per_tensor.float().expand(K, N)),
                           (blocks, blocks.float().repeat_interleave(128, 0).repeat_interleave(128, 1))):
        q = qf.e4m3_bits((w / s_full).clamp(-448, 448))
        w_ref = qf.e4m3_value(q) * s_full
        out = ops.gemm(a, **ops.prepare_fp8(q.cuda(), scales.cuda(), K, N))
        ref = a.float() @ w_ref.cuda()
        err = ((out.float() - ref).norm() / ref.norm()).item()
        assert err < (2e-3 if dtype == torch.float16 else 1e-2), err
