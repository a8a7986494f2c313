"""Shared helpers of the GPU tests, the memcheck grid and the benchmark: quantize a random
weight with a scheme's reference quantizer, pack it on the GPU, call the C ABI directly with a
NaN-poisoned output."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Optional

import torch

from marlin_core.runtime import library, packing, quant
from marlin_core.runtime.ops import TYPE_ID, workspace

DT = {"fp16": torch.float16, "bf16": torch.bfloat16}
TOL = {"fp16": 2e-3, "bf16": 1e-2}


@dataclass(frozen=True)
class Scheme:
    name: str  # awq | hqq | gptq4 | gptq8
    dtype: str  # fp16 | bf16
    group_size: int  # -1 per channel
    act_order: str = ""  # "" | "gidx" (group_blocks 0 kernel) | "sorted" (perm + grouped kernel)

    @property
    def id(self) -> str:
        return f"{self.name}-{self.dtype}-g{self.group_size}{'-' + self.act_order if self.act_order else ''}"


def all_schemes() -> list[Scheme]:
    out = []
    for dt in ("fp16", "bf16"):
        for gs in (-1, 32, 64, 128):
            out.append(Scheme("awq", dt, gs))
    out.append(Scheme("hqq", "fp16", 64))
    for name in ("gptq4", "gptq8"):
        for dt in ("fp16", "bf16"):
            for gs in (-1, 32, 64, 128):
                out.append(Scheme(name, dt, gs))
            out.append(Scheme(name, dt, 128, "gidx"))
            out.append(Scheme(name, dt, 64, "sorted"))
    return out


def nk_pairs(gs: int) -> list[tuple[int, int]]:
    """Three (N, K) pairs, non-square, with K not a multiple of the 128 K tile where the group
    size allows it (K % 64 != 0 too for per-channel)."""
    if gs in (-1, 32, 64):
        k2 = 1040 if gs == -1 else 2112  # 16 * 65 / 64 * 33
        k3 = 320  # 64 * 5
    else:
        k2, k3 = 1920, 384
    return [(512, 1152), (192, k2), (1024, k3)]


@dataclass
class Packed:
    scheme: Scheme
    n: int
    k: int
    b: torch.Tensor
    scales: torch.Tensor
    w_ref: torch.Tensor
    b_type: int
    zp: Optional[torch.Tensor] = None
    g_idx: Optional[torch.Tensor] = None
    perm: Optional[torch.Tensor] = None
    is_zp_float: bool = False


def make(s: Scheme, n: int, k: int, seed: int = 0, device="cuda") -> Packed:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(k, n, generator=g) * 0.05
    dt = DT[s.dtype]
    if s.name == "awq":
        qw = quant.quantize_awq(w, s.group_size, dt)
        qweight = packing.awq_pack(qw.q).to(device)
        qzeros = packing.awq_pack(qw.zeros).to(device)
        b = library_repack_awq(qweight, k, n)
        return Packed(s, n, k, b, packing.prepare_scales(qw.scales).to(device), qw.w_ref.to(device),
                      TYPE_ID["kU4"], zp=packing.prepare_awq_zeros(qzeros))
    if s.name == "hqq":
        qw = quant.quantize_hqq(w, s.group_size, dt)
        b = library_repack_gptq(packing.gptq_pack(qw.q, 4).to(device), None, k, n, 4)
        return Packed(s, n, k, b, packing.prepare_scales(qw.scales).to(device), qw.w_ref.to(device),
                      TYPE_ID["kU4"], zp=packing.prepare_zp_float(qw.zeros).to(device), is_zp_float=True)
    bits = 4 if s.name == "gptq4" else 8
    qw = quant.quantize_gptq(w, bits, s.group_size, act_order=bool(s.act_order), dtype=dt, generator=g)
    qweight = packing.gptq_pack(qw.q, bits).to(device)
    perm = g_idx = None
    if s.act_order:
        g_idx = qw.g_idx.to(device)
        if s.act_order == "sorted":
            perm = packing.act_order_perm(g_idx)
            g_idx = g_idx[perm.long()].contiguous()
    b = library_repack_gptq(qweight, perm, k, n, bits)
    return Packed(s, n, k, b, packing.prepare_scales(qw.scales).to(device), qw.w_ref.to(device),
                  TYPE_ID["kU4B8" if bits == 4 else "kU8B128"], g_idx=g_idx, perm=perm)


def _stream() -> ctypes.c_void_p:
    return ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)


def library_repack_gptq(qweight, perm, k, n, bits) -> torch.Tensor:
    out = torch.empty((k // 16, n * 16 * bits // 32), dtype=torch.int32, device=qweight.device)
    library.check(library.load().marlin_repack_gptq(
        qweight.data_ptr(), None if perm is None else perm.data_ptr(), out.data_ptr(), k, n, bits, _stream()))
    return out


def library_repack_awq(qweight, k, n) -> torch.Tensor:
    out = torch.empty((k // 16, n * 2), dtype=torch.int32, device=qweight.device)
    library.check(library.load().marlin_repack_awq(qweight.data_ptr(), out.data_ptr(), k, n, 4, _stream()))
    return out


def run_gemm(p: Packed, a: torch.Tensor, c: torch.Tensor, bias=None, use_fp32_reduce=True,
             thread_k=-1, thread_n=-1, max_m_blocks=-1, max_slices=-1) -> None:
    """C ABI call into a caller-provided (poisoned) output."""
    M, K = a.shape
    a_tmp = torch.empty_like(a) if p.perm is not None else None
    ws = workspace(a.device, torch.cuda.current_stream().cuda_stream)
    dt_id = TYPE_ID["kFloat16"] if a.dtype == torch.float16 else TYPE_ID["kBFloat16"]
    ptr = lambda t: None if t is None else t.data_ptr()  # noqa: E731
    args = library.GemmArgs(
        a=a.data_ptr(), lda=a.stride(0), b=p.b.data_ptr(), c=c.data_ptr(), scales=p.scales.data_ptr(),
        zp=ptr(p.zp), g_idx=ptr(p.g_idx), perm=ptr(p.perm), a_tmp=ptr(a_tmp), bias=ptr(bias),
        workspace=ws.data_ptr(), workspace_bytes=ws.numel(), a_type=dt_id, b_type=p.b_type, c_type=dt_id,
        s_type=dt_id, m=M, n=p.n, k=K, num_groups=p.scales.shape[0], is_zp_float=int(p.is_zp_float),
        use_fp32_reduce=int(use_fp32_reduce), use_atomic_add=0, thread_k=thread_k, thread_n=thread_n,
        max_m_blocks=max_m_blocks, max_slices=max_slices)
    library.check(library.load().marlin_gemm(ctypes.byref(args), _stream()))


def activations(m: int, k: int, dtype: torch.dtype, seed: int = 1) -> torch.Tensor:
    g = torch.Generator(device="cuda").manual_seed(seed)
    return torch.randn(m, k, generator=g, device="cuda", dtype=torch.float32).to(dtype)


def _checked_run(p: Packed, m: int, bias: bool = False, **kw):
    """Poison, run, compare with A @ w_ref in fp32. Returns (a, bias vector, output, relative
    error); raises AssertionError on failure."""
    dt = DT[p.scheme.dtype]
    a = activations(m, p.k, dt, seed=m)
    bvec = (torch.randn(p.n, device="cuda") * 0.5).to(dt) if bias else None
    ref = a.float() @ p.w_ref
    if bvec is not None:
        ref = ref + bvec.float()
    c = torch.full((m, p.n), float("nan"), dtype=dt, device="cuda")
    run_gemm(p, a, c, bias=bvec, **kw)
    torch.cuda.synchronize()
    assert not torch.isnan(c).any(), f"{int(torch.isnan(c).sum())} output elements never written"
    err = ((c.float() - ref).norm() / ref.norm()).item()
    assert err < TOL[p.scheme.dtype], f"relative error {err:.3g} >= {TOL[p.scheme.dtype]}"
    return a, bvec, c, err


def check(p: Packed, m: int, bias: bool = False, repeat: bool = True, **kw) -> float:
    """Poison, run, compare with A @ w_ref in fp32, run again and compare bitwise. Returns the
    relative error; raises AssertionError on failure."""
    a, bvec, c, err = _checked_run(p, m, bias, **kw)
    if repeat:
        c2 = torch.full_like(c, float("nan"))
        run_gemm(p, a, c2, bias=bvec, **kw)
        torch.cuda.synchronize()
        assert torch.equal(c.view(torch.int16), c2.view(torch.int16)), "two runs differ"
    return err


def run_case(scheme: str, m: int, n: int, k: int, kw: dict) -> torch.Tensor:
    """The output (on the CPU) of one case given as ("name/dtype/group", m, n, k, run_gemm
    overrides), with fixed seeds, checked as in `check` (without the second run)."""
    name, dtype, group = scheme.split("/")
    try:
        return _checked_run(make(Scheme(name, dtype, int(group)), n, k), m, **kw)[2].cpu()
    except AssertionError as e:
        raise AssertionError(f"{scheme} {m}x{n}x{k} {kw}: {e}") from None
