"""Helpers of the floating-point-weight GPU tests (FP8, NVFP4, MXFP4 with 16-bit activations):
quantize with marlin_core.runtime.quant_fp, prepare with ops.prepare_fp8 / prepare_nvfp4 /
prepare_mxfp4 (GPTQ-style packing + the GPU repack), call the C ABI into a NaN-poisoned output."""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from typing import Optional

import torch

from cases import DT, activations, nk_pairs
from marlin_core.runtime import library, ops
from marlin_core.runtime import quant_fp as qf
from marlin_core.runtime.ops import TYPE_ID, workspace

# Tolerances on ||out - ref|| / ||ref|| against float32 A @ w_ref (w_ref = the exactly
# dequantized weights). The kernel's only roundings are (a) the 16-bit product code * scale
# for FP8 (one rounding per weight: 2^-11 fp16, 2^-8 bf16 relative; NVFP4 / MXFP4 products are
# exact, see docs/kernel.md) and (b) the final conversion of the fp32 sum to fp16 / bf16
# (relative rms ~2.8e-4 / 2.2e-3). Sums are fp32. So fp16 lands near 3e-4 and bf16 near 2.5e-3;
# the bounds leave ~5x headroom and stay far below what a wrong code, scale or fold gives
# (>= 1e-1, or powers of two off).
TOL = {
    ("fp8", "fp16"): 2e-3,
    ("fp8", "bf16"): 1e-2,
    ("nvfp4", "fp16"): 2e-3,
    ("nvfp4", "bf16"): 1e-2,
    ("mxfp4", "bf16"): 1e-2,
}

# which kernel family runs: MARLIN_FORCE_STAGES=2 with a compute_75 PTX library = the sm75 path
PATH = "sm75path" if os.environ.get("MARLIN_FORCE_STAGES") == "2" else "sm80path"


@dataclass(frozen=True)
class FpScheme:
    name: str  # fp8 | nvfp4 | mxfp4
    dtype: str  # fp16 | bf16
    group_size: int  # rows per scale; -1 = per channel

    @property
    def id(self) -> str:
        return f"{self.name}-{self.dtype}-g{self.group_size}"


def all_fp_schemes(sm75: bool = False) -> list[FpScheme]:
    out = [FpScheme("fp8", dt, gs) for dt in ("fp16", "bf16") for gs in (-1, 128)]
    out += [FpScheme("nvfp4", dt, 16) for dt in ("fp16", "bf16")]
    out.append(FpScheme("mxfp4", "bf16", 32))
    if sm75:  # sm75: fp16 only (no bf16 tensor cores); MXFP4 is bf16-only
        out = [s for s in out if s.dtype == "fp16"]
    return out


def fp_nk_pairs(s: FpScheme) -> list[tuple[int, int]]:
    # K = 1040 (16 * 65) / 2112 (32 * 66): not a multiple of the 64 / 128 K tiles
    return nk_pairs({-1: -1, 16: -1, 32: 32, 128: 128}[s.group_size])


@dataclass
class FpPacked:
    scheme: FpScheme
    n: int
    k: int
    prep: dict
    w_ref: torch.Tensor


def make_fp(s: FpScheme, n: int, k: int, seed: int = 0, device="cuda") -> FpPacked:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(k, n, generator=g) * 0.05
    dt = DT[s.dtype]
    if s.name == "fp8":
        r = qf.quantize_fp8(w, s.group_size, dt)
        prep = ops.prepare_fp8(r.q.to(device), r.scales.to(device), k, n)
    elif s.name == "nvfp4":
        w[:16, 1] = 0.0  # one all-zero block (zero scale)
        r = qf.quantize_nvfp4(w)
        prep = ops.prepare_nvfp4(r.q.to(device), r.scales.to(device), r.global_scale, k, n)
    else:
        r = qf.quantize_mxfp4(w)
        prep = ops.prepare_mxfp4(r.q.to(device), r.scales.to(device), k, n)
    return FpPacked(s, n, k, prep, r.w_ref.to(device))


def _stream() -> ctypes.c_void_p:
    return ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)


def run_gemm_fp(p: FpPacked, a: torch.Tensor, c: torch.Tensor, bias=None, use_fp32_reduce=True,
                thread_k=-1, thread_n=-1, max_m_blocks=-1, max_slices=-1,
                global_scale: Optional[torch.Tensor] = None) -> None:
    M, K = a.shape
    ws = workspace(a.device, torch.cuda.current_stream().cuda_stream)
    dt_id = TYPE_ID["kFloat16"] if a.dtype == torch.float16 else TYPE_ID["kBFloat16"]
    pr = p.prep
    s_type = TYPE_ID[pr["s_type"]] if "s_type" in pr else dt_id
    gs = pr.get("global_scale") if global_scale is None else global_scale
    args = library.GemmArgs(
        a=a.data_ptr(), lda=a.stride(0), b=pr["b"].data_ptr(), c=c.data_ptr(), scales=pr["scales"].data_ptr(),
        zp=None, g_idx=None, perm=None, a_tmp=None, bias=None if bias is None else bias.data_ptr(),
        workspace=ws.data_ptr(), workspace_bytes=ws.numel(), a_type=dt_id, b_type=TYPE_ID[pr["b_type"]],
        c_type=dt_id, s_type=s_type, m=M, n=p.n, k=K, num_groups=pr["scales"].shape[0], is_zp_float=0,
        use_fp32_reduce=int(use_fp32_reduce), use_atomic_add=0, thread_k=thread_k, thread_n=thread_n,
        max_m_blocks=max_m_blocks, max_slices=max_slices, global_scale=None if gs is None else gs.data_ptr())
    library.check(library.load().marlin_gemm(ctypes.byref(args), _stream()))


def check_fp(p: FpPacked, m: int, bias: bool = False, repeat: bool = True, **kw) -> float:
    """Poison, run, compare with float32 A @ w_ref, rerun and compare bitwise; returns the
    relative error."""
    dt = DT[p.scheme.dtype]
    a = activations(m, p.k, dt, seed=m)
    bvec = (torch.randn(p.n, device="cuda") * 0.5).to(dt) if bias else None
    ref = a.float() @ p.w_ref
    if bvec is not None:
        ref = ref + bvec.float()
    c = torch.full((m, p.n), float("nan"), dtype=dt, device="cuda")
    run_gemm_fp(p, a, c, bias=bvec, **kw)
    torch.cuda.synchronize()
    assert not torch.isnan(c).any(), f"{int(torch.isnan(c).sum())} output elements never written"
    err = ((c.float() - ref).norm() / ref.norm()).item()
    tol = TOL[(p.scheme.name, p.scheme.dtype)]
    assert err < tol, f"relative error {err:.3g} >= {tol}"
    if repeat:
        c2 = torch.full_like(c, float("nan"))
        run_gemm_fp(p, a, c2, bias=bvec, **kw)
        torch.cuda.synchronize()
        assert torch.equal(c.view(torch.int16), c2.view(torch.int16)), "two runs differ"
    return err
