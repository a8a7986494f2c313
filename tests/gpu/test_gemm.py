"""GEMM correctness on the GPU: every (activation, weight, group, zero-point kind) of issue 3,
M in {1, 7, 16, 33, 64, 100, 256, 1000}, three (N, K) pairs each; output poisoned with NaN,
compared with float32 A @ dequant(B), and run twice for bit-identical output."""

import pytest
import torch

from cases import Scheme, all_schemes, check, make, nk_pairs

MS = [1, 7, 16, 33, 64, 100, 256, 1000]


@pytest.mark.parametrize("scheme", all_schemes(), ids=lambda s: s.id)
def test_gemm_matrix(scheme: Scheme):
    failures = []
    for n, k in nk_pairs(scheme.group_size):
        p = make(scheme, n, k, seed=n + k)
        for m in MS:
            try:
                check(p, m)
            except AssertionError as e:
                failures.append(f"M={m} N={n} K={k}: {e}")
    assert not failures, "\n".join(failures)


# every thread config and m-block count of the default set, forced one at a time
SMALL = [(128, 128), (64, 128), (128, 64)]
LARGE = [(64, 256), (64, 128), (128, 64)]
# rows -> m blocks: 5 -> 0.5 (8-row tile), 16 -> 1, 20 -> 2, 40 -> 3, 64 -> 4
M_FOR_BLOCKS = {0.5: 5, 1: 16, 2: 20, 3: 40, 4: 64}


@pytest.mark.parametrize(
    "scheme",
    [Scheme("gptq4", "fp16", 128), Scheme("awq", "bf16", 32), Scheme("gptq8", "bf16", 128, "gidx"),
     Scheme("hqq", "fp16", 64), Scheme("gptq8", "fp16", -1)],
    ids=lambda s: s.id,
)
@pytest.mark.parametrize("max_slices", [1, -1], ids=["noslice", "split"])
def test_every_config(scheme, max_slices):
    k = 1152 if scheme.group_size != -1 else 1040
    p = make(scheme, 512, k, seed=3)
    failures = []
    for mb, m in M_FOR_BLOCKS.items():
        for tk, tn in (SMALL if mb <= 1 else LARGE):
            for rows in [m] + ([m + 3 * 64] if mb == 4 else []):  # several M tiles in one launch too
                try:
                    check(p, rows, thread_k=tk, thread_n=tn, max_slices=max_slices,
                          max_m_blocks=4 if mb == 4 else -1)
                except Exception as e:  # noqa: BLE001
                    failures.append(f"m_blocks={mb} rows={rows} ({tk},{tn}): {e}")
    assert not failures, "\n".join(failures)


def test_max_m_blocks_chunks():
    p = make(Scheme("gptq4", "fp16", 128), 256, 512)
    for mmb in (1, 2, 3):
        check(p, 300, max_m_blocks=mmb)


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_bias_and_fp16_reduce(dtype):
    p = make(Scheme("gptq4", dtype, 128), 1024, 2048)
    for m in (1, 33, 256):
        check(p, m, bias=True)
        # 16-bit partials: still accurate at this K, still deterministic
        check(p, m, bias=True, use_fp32_reduce=False)


# The wgmma tiles stage C through shared memory and store 16-byte chunks when C is 16-byte
# aligned, and store single elements otherwise (C need only be 4-byte aligned): both ways must
# give the same bits, with bias, for the 64-row tile unsplit (max_slices=1) and split, the wide
# mode (M = 128 on an H100) and ragged M. On other GPUs both calls take the one path there is.
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_output_alignment_same_bits(dtype):
    import cases

    p = make(Scheme("gptq4", dtype, 128), 256 * 8, 1024, seed=11)
    dt = cases.DT[dtype]
    bias = (torch.randn(p.n, device="cuda") * 0.5).to(dt)
    for m, kw in ((64, {"max_slices": 1}), (64, {}), (128, {}), (200, {"max_slices": 1}), (16, {})):
        a = cases.activations(m, p.k, dt, seed=m)
        ref = a.float() @ p.w_ref + bias.float()
        flat = torch.full((m * p.n + 8,), float("nan"), dtype=dt, device="cuda")
        c16 = flat[: m * p.n].view(m, p.n)  # torch allocations are 256-byte aligned
        c4 = flat[2 : 2 + m * p.n].view(m, p.n)  # 4-byte aligned only
        assert c16.data_ptr() % 16 == 0 and c4.data_ptr() % 16 == 4
        cases.run_gemm(p, a, c16, bias=bias, **kw)
        torch.cuda.synchronize()
        out16 = c16.clone()
        flat.fill_(float("nan"))
        cases.run_gemm(p, a, c4, bias=bias, **kw)
        torch.cuda.synchronize()
        assert not torch.isnan(out16).any() and not torch.isnan(c4).any(), f"M={m} {kw}: rows left unwritten"
        assert torch.equal(out16.view(torch.int16), c4.view(torch.int16)), f"M={m} {kw}: the two stores differ"
        assert ((out16.float() - ref).norm() / ref.norm()).item() < 1e-2, f"M={m} {kw}"


# 67 N tiles of 256 (a prime count): M = 64, 128 and 200 (a 192-row chunk and an 8-row one) give
# 67, 134 and 201 tiles of 64 rows (67 and 134 of 128 rows), counts that fill neither one wave of
# a 132-SM GPU nor whole waves; with bias, and with 16-bit partials. On an H100 the dispatch
# takes the wide (128-row) mode for M = 128; MARLIN_WIDE_M=2 takes it for every >= 128-row chunk.
@pytest.mark.parametrize(
    "scheme",
    [Scheme("gptq4", "fp16", 128), Scheme("awq", "bf16", 128), Scheme("gptq8", "fp16", 128, "gidx")],
    ids=lambda s: s.id,
)
def test_odd_tile_counts(scheme):
    p = make(scheme, 256 * 67, 1024, seed=5)
    for m in (64, 128, 200):
        check(p, m, bias=True)
    check(p, 128, use_fp32_reduce=False)


def test_errors_are_clear():
    from marlin_core.runtime.library import MarlinError

    p = make(Scheme("gptq4", "fp16", 128), 256, 512)
    a = torch.randn(4, 512, device="cuda", dtype=torch.float16)
    c = torch.empty(4, 256, device="cuda", dtype=torch.float16)
    import cases

    bad = cases.Packed(p.scheme, 250, 512, p.b, p.scales, p.w_ref, p.b_type)
    with pytest.raises(MarlinError, match="multiple of 64"):
        cases.run_gemm(bad, a, c)
    # no instantiated kernel for a forced config that is not in the default set (one m block: with
    # more, 4 rows may take the 2-m-block tile of that config, MARLIN_SMALL_M_WGMMA=2)
    with pytest.raises(MarlinError, match="no kernel.*built for archs"):
        cases.run_gemm(p, a, c, thread_k=64, thread_n=256, max_m_blocks=1)
    fp8 = cases.Packed(p.scheme, 256, 512, p.b, p.scales, p.w_ref, cases.TYPE_ID["kFE2M1f"])  # fp4 needs byte scales
    with pytest.raises(MarlinError, match="unsupported type combination"):
        cases.run_gemm(fp8, a, c)


def test_strided_a_and_large_m_remainders():
    """A as a view with row stride > K (lda), and M whose last chunk is the 8-row tile."""
    import cases

    p = make(Scheme("gptq4", "bf16", 64), 256, 640)
    ms = (4104, 4096 + 20, 5)
    big = cases.activations(max(ms) + 3, 640 + 64, torch.bfloat16)
    for m in ms:
        a = big[3 : 3 + m, 8 : 8 + 640]  # 16-byte aligned start, lda = 704
        assert a.shape == (m, 640) and a.stride(0) == 704
        ref = a.float() @ p.w_ref
        c = torch.full((m, 256), float("nan"), dtype=torch.bfloat16, device="cuda")
        cases.run_gemm(p, a, c)
        torch.cuda.synchronize()
        assert not torch.isnan(c).any()
        assert ((c.float() - ref).norm() / ref.norm()).item() < 1e-2


def test_streams_use_separate_workspaces():
    from marlin_core.runtime import ops

    p = make(Scheme("gptq4", "fp16", 128), 512, 4096)
    x = torch.randn(4, 4096, device="cuda", dtype=torch.float16)
    s1, s2 = torch.cuda.Stream(), torch.cuda.Stream()
    outs = {}
    torch.cuda.synchronize()
    for name, s in (("a", s1), ("b", s2)):
        with torch.cuda.stream(s):
            outs[name] = [ops.gemm(x, p.b, p.scales, "kU4B8", 512) for _ in range(20)]
    torch.cuda.synchronize()
    ref = ops.gemm(x, p.b, p.scales, "kU4B8", 512)
    for name in outs:
        for o in outs[name]:
            assert torch.equal(o, ref)
    assert ops.workspace(x.device, s1.cuda_stream).data_ptr() != ops.workspace(x.device, s2.cuda_stream).data_ptr()


# The 8-row tile scales each group's fp32 sums once and gives the MMA raw codes, magic + q
# (marlin_template.cuh FOLD / RAW): its sums pass through (magic + bias) x sum(a) before they
# cancel, the most where the activations share a large offset. There it must still be at least
# as exact as the tiles that dequantize and scale every weight in 16 bits.
@pytest.mark.parametrize(
    "scheme",
    [Scheme("gptq4", "fp16", 128), Scheme("gptq4", "bf16", 32), Scheme("gptq8", "fp16", 64),
     Scheme("gptq8", "bf16", 128)],
    ids=lambda s: s.id,
)
def test_folded_scales_with_offset_activations(scheme):
    import cases

    p = make(scheme, 512, 2048, seed=5)
    dt = cases.DT[scheme.dtype]
    g = torch.Generator(device="cuda").manual_seed(7)
    a = (8 + torch.randn(16, p.k, generator=g, device="cuda")).to(dt)  # mean 8
    ref = a[:8].float() @ p.w_ref

    def error_of_first_8_rows(m):  # m = 8: the 8-row tile; 16: a 16-row one
        c = torch.full((m, p.n), float("nan"), dtype=dt, device="cuda")
        cases.run_gemm(p, a[:m], c)
        torch.cuda.synchronize()
        return ((c[:8].float() - ref).norm() / ref.norm()).item()

    folded, scaled = error_of_first_8_rows(8), error_of_first_8_rows(16)
    assert folded <= scaled, f"8-row tile {folded:.3g} > 16-row tile {scaled:.3g}"
