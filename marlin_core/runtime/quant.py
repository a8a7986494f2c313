"""Round-to-nearest reference quantizers, one per scheme. Each returns the integer codes in
natural [K, N] order (K = input features, N = output features, i.e. the weight is used as
``A @ W`` with W [K, N]), the scales (and zero points) rounded to the activation dtype, and
``w_ref``: the float32 dequantized weight that the kernel must reproduce.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch


@dataclass
class QuantizedWeight:
    scheme: str  # "gptq" | "awq" | "hqq"
    bits: int
    group_size: int  # -1 = per channel
    q: torch.Tensor  # int32 codes [K, N]
    scales: torch.Tensor  # [num_groups, N], dtype of the activations
    w_ref: torch.Tensor  # float32 [K, N]
    zeros: Optional[torch.Tensor] = None  # int32 codes or float [num_groups, N]
    g_idx: Optional[torch.Tensor] = None  # int32 [K] (act-order)


def _groups(w: torch.Tensor, group_size: int) -> int:
    K = w.shape[0]
    if group_size == -1:
        return 1
    if group_size <= 0 or K % group_size:
        raise ValueError(f"group_size {group_size} must divide K={K}")
    return K // group_size


def quantize_gptq(
    w: torch.Tensor,
    bits: int = 4,
    group_size: int = 128,
    act_order: bool = False,
    dtype: torch.dtype = torch.float16,
    generator: Optional[torch.Generator] = None,
) -> QuantizedWeight:
    """Symmetric GPTQ-style RTN: q = clamp(round(w / s) + 2^(bits-1)), value = (q - 2^(bits-1)) s
    (kU4B8 / kU8B128). With act_order the rows are grouped in a random order (as GPTQ's
    activation order does) and g_idx[k] is the group of row k."""
    if bits not in (4, 8):
        raise ValueError("bits must be 4 or 8")
    w = w.to(torch.float32)
    K, N = w.shape
    G = _groups(w, group_size)
    gs = K // G
    half = 1 << (bits - 1)
    if act_order:
        if G < 2:
            raise ValueError("act_order needs group_size < K")
        order = torch.randperm(K, generator=generator).to(w.device)
        g_idx = torch.empty(K, dtype=torch.int32, device=w.device)
        g_idx[order] = (torch.arange(K, device=w.device) // gs).to(torch.int32)
    else:
        g_idx = (torch.arange(K, device=w.device) // gs).to(torch.int32)
    gl = g_idx.to(torch.int64)
    amax = torch.zeros(G, N, device=w.device).scatter_reduce_(
        0, gl[:, None].expand(K, N), w.abs(), "amax", include_self=True
    )
    scales = (amax / (half - 1)).clamp_min(1e-8).to(dtype)
    s_rows = scales.to(torch.float32)[gl]  # [K, N]
    q = torch.clamp(torch.round(w / s_rows) + half, 0, 2 * half - 1).to(torch.int32)
    w_ref = (q.to(torch.float32) - half) * s_rows
    return QuantizedWeight("gptq", bits, group_size, q, scales, w_ref, None, g_idx if act_order else None)


def quantize_awq(
    w: torch.Tensor, group_size: int = 128, dtype: torch.dtype = torch.float16
) -> QuantizedWeight:
    """Asymmetric 4-bit RTN with integer zero points (kU4): value = (q - z) s."""
    w = w.to(torch.float32)
    K, N = w.shape
    G = _groups(w, group_size)
    wg = w.reshape(G, K // G, N)
    wmin = wg.amin(1).clamp_max(0.0)
    wmax = wg.amax(1).clamp_min(0.0)
    scales = ((wmax - wmin) / 15).clamp_min(1e-8).to(dtype)
    s = scales.to(torch.float32)
    zeros = torch.clamp(torch.round(-wmin / s), 0, 15).to(torch.int32)
    q = torch.clamp(torch.round(wg / s[:, None]) + zeros[:, None], 0, 15).to(torch.int32)
    w_ref = ((q - zeros[:, None]).to(torch.float32) * s[:, None]).reshape(K, N)
    return QuantizedWeight("awq", 4, group_size, q.reshape(K, N), scales, w_ref, zeros)


def quantize_hqq(
    w: torch.Tensor, group_size: int = 64, dtype: torch.dtype = torch.float16
) -> QuantizedWeight:
    """Asymmetric 4-bit RTN with float zero points (HQQ's format; no HQQ optimisation step):
    value = (q - z) s with z a float16."""
    w = w.to(torch.float32)
    K, N = w.shape
    G = _groups(w, group_size)
    wg = w.reshape(G, K // G, N)
    wmin, wmax = wg.amin(1), wg.amax(1)
    scales = ((wmax - wmin) / 15).clamp_min(1e-8).to(dtype)
    s = scales.to(torch.float32)
    zeros = (-wmin / s).to(dtype)
    z = zeros.to(torch.float32)
    q = torch.clamp(torch.round(wg / s[:, None] + z[:, None]), 0, 15).to(torch.int32)
    w_ref = ((q.to(torch.float32) - z[:, None]) * s[:, None]).reshape(K, N)
    return QuantizedWeight("hqq", 4, group_size, q.reshape(K, N), scales, w_ref, zeros)
