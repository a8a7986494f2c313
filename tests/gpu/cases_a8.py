"""Helpers of the 8-bit-activation GPU tests and memcheck grid: quantize a random weight with the
scheme's reference quantizer and random activations per token, pack on the GPU, call the C ABI
(marlin_gemm_a8) into a NaN-poisoned output, compare with float32 a_ref @ w_ref."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Optional

import torch

from marlin_core.runtime import a8, library, packing, quant, quant_fp
from marlin_core.runtime.ops import TYPE_ID, workspace

DT = {"fp16": torch.float16, "bf16": torch.bfloat16}
# Tolerances on ||C - ref|| / ||ref||, ref = a_ref @ w_ref in float32 with a_ref the dequantized
# 8-bit activations and w_ref the dequantized weights: the kernel's products are exact (int8 x
# s8 in int32; e4m3 x e4m3 has <= 8 significant bits, exact in the fp32 accumulator), group
# scales are applied in fp32, so the error is the final rounding to the output type (rms
# relative 2^-11 / sqrt(3) ~ 2.8e-4 for fp16, 2^-8 / sqrt(3) ~ 2.3e-3 for bf16) plus fp32
# summation-order noise (~1e-6). The bounds leave ~7x / ~4x headroom over that.
TOL = {"fp16": 2e-3, "bf16": 1e-2}


@dataclass(frozen=True)
class SchemeA8:
    act: str  # int8 | fp8
    weight: str  # awq | gptq | mxfp4
    dtype: str  # fp16 | bf16 (output)
    group_size: int  # -1 per channel

    @property
    def id(self) -> str:
        return f"{self.act}-{self.weight}-{self.dtype}-g{self.group_size}"


def all_schemes_a8() -> list[SchemeA8]:
    out = []
    for act in ("int8", "fp8"):
        for w in ("awq", "gptq"):
            for dt in ("fp16", "bf16"):
                for gs in (-1, 32, 64, 128):
                    out.append(SchemeA8(act, w, dt, gs))
    out.append(SchemeA8("fp8", "mxfp4", "bf16", 32))
    return out


def nk_pairs_a8(gs: int) -> list[tuple[int, int]]:
    """Three (N, K) pairs, non-square; K a multiple of 32 (the 8-bit MMA's k) and, where the group
    size allows, not of the 64 / 128 K tiles (the last K tile is partly past K)."""
    if gs in (-1, 32):
        return [(512, 1056), (192, 2080), (1024, 320)]
    if gs == 64:
        return [(512, 1088), (192, 2112), (1024, 320)]
    return [(512, 1152), (192, 1920), (1024, 384)]


@dataclass
class PackedA8:
    scheme: SchemeA8
    n: int
    k: int
    b: torch.Tensor
    scales: torch.Tensor
    w_ref: torch.Tensor
    b_type: int
    s_type: int
    zp: Optional[torch.Tensor] = None


def make_a8(s: SchemeA8, n: int, k: int, seed: int = 0, device="cuda") -> PackedA8:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(k, n, generator=g) * 0.05
    dt = DT[s.dtype]
    c_id = TYPE_ID["kFloat16" if s.dtype == "fp16" else "kBFloat16"]
    if s.weight == "awq":
        qw = quant.quantize_awq(w, s.group_size, dt)
        b = repack_a8(packing.awq_pack(qw.q).to(device), k, n, awq=True)
        zp = packing.prepare_awq_zeros(packing.awq_pack(qw.zeros)).to(device)
        return PackedA8(s, n, k, b, a8.prepare_scales_a8(qw.scales).to(device), qw.w_ref.to(device), TYPE_ID["kU4"],
                        c_id, zp)
    if s.weight == "gptq":
        qw = quant.quantize_gptq(w, 4, s.group_size, dtype=dt)
        b = repack_a8(packing.gptq_pack(qw.q, 4).to(device), k, n)
        return PackedA8(s, n, k, b, a8.prepare_scales_a8(qw.scales).to(device), qw.w_ref.to(device),
                        TYPE_ID["kU4B8"], c_id)
    qw = quant_fp.quantize_mxfp4(w)
    b = repack_a8(packing.gptq_pack(qw.q.to(torch.int32), 4).to(device), k, n)
    return PackedA8(s, n, k, b, a8.prepare_scales_a8(qw.scales).to(device), qw.w_ref.to(device),
                    TYPE_ID["kFE2M1f"], TYPE_ID["kFE8M0fnu"])


def _stream() -> ctypes.c_void_p:
    return ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)


def repack_a8(qweight, k, n, awq=False) -> torch.Tensor:
    out = torch.empty((k // 32, 4 * n), dtype=torch.int32, device=qweight.device)
    library.check(a8._lib().marlin_repack_a8(qweight.data_ptr(), out.data_ptr(), k, n, int(awq), _stream()))
    return out


def run_gemm_a8(p: PackedA8, aq: torch.Tensor, a_scales: torch.Tensor, c: torch.Tensor, bias=None,
                use_fp32_reduce=True, thread_k=-1, thread_n=-1, max_m_blocks=-1, max_slices=-1) -> None:
    M, K = aq.shape
    ws = workspace(aq.device, torch.cuda.current_stream().cuda_stream)
    a_id = TYPE_ID["kS8" if aq.dtype == torch.int8 else "kFE4M3fn"]
    c_id = TYPE_ID["kFloat16" if c.dtype == torch.float16 else "kBFloat16"]
    args = library.GemmArgs(
        a=aq.data_ptr(), lda=aq.stride(0), b=p.b.data_ptr(), c=c.data_ptr(), scales=p.scales.data_ptr(),
        zp=None if p.zp is None else p.zp.data_ptr(), bias=None if bias is None else bias.data_ptr(),
        workspace=ws.data_ptr(), workspace_bytes=ws.numel(), a_type=a_id, b_type=p.b_type, c_type=c_id,
        s_type=p.s_type, m=M, n=p.n, k=K, num_groups=p.scales.shape[0], is_zp_float=0,
        use_fp32_reduce=int(use_fp32_reduce), use_atomic_add=0, thread_k=thread_k, thread_n=thread_n,
        max_m_blocks=max_m_blocks, max_slices=max_slices)
    library.check(a8._lib().marlin_gemm_a8(ctypes.byref(args), ctypes.c_void_p(a_scales.data_ptr()), _stream()))


def activations_a8(m: int, k: int, act: str, seed: int = 1):
    g = torch.Generator(device="cuda").manual_seed(seed)
    a = torch.randn(m, k, generator=g, device="cuda", dtype=torch.float32)
    qa = quant_fp.quantize_act_int8(a) if act == "int8" else quant_fp.quantize_act_fp8(a)
    return qa.q.contiguous(), qa.scales.contiguous(), qa.a_ref


def check_a8(p: PackedA8, m: int, bias: bool = False, repeat: bool = True, **kw) -> float:
    """Poison, run, compare with a_ref @ w_ref in fp32, run again and compare bitwise. Returns the
    relative error; raises AssertionError on failure."""
    dt = DT[p.scheme.dtype]
    aq, asc, a_ref = activations_a8(m, p.k, p.scheme.act, seed=m)
    bvec = (torch.randn(p.n, device="cuda") * 0.5).to(dt) if bias else None
    ref = a_ref @ p.w_ref
    if bvec is not None:
        ref = ref + bvec.float()
    c = torch.full((m, p.n), float("nan"), dtype=dt, device="cuda")
    run_gemm_a8(p, aq, asc, c, bias=bvec, **kw)
    torch.cuda.synchronize()
    assert not torch.isnan(c).any(), f"{int(torch.isnan(c).sum())} output elements never written"
    err = ((c.float() - ref).norm() / ref.norm()).item()
    assert err < TOL[p.scheme.dtype], f"relative error {err:.3g} >= {TOL[p.scheme.dtype]}"
    if repeat:
        c2 = torch.full_like(c, float("nan"))
        run_gemm_a8(p, aq, asc, c2, bias=bvec, **kw)
        torch.cuda.synchronize()
        assert torch.equal(c.view(torch.int16), c2.view(torch.int16)), "two runs differ"
    return err
