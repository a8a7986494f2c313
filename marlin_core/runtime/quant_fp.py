"""Reference quantizers of the floating-point weight formats (FP8, NVFP4, MXFP4) and of 8-bit
activations (per-token int8 / fp8). Pure torch, any device. Like ``quant.py`` they return the
codes in natural [K, N] order (weights used as ``A @ W``), the scales, and the float32 values
the kernel must reproduce (``w_ref`` / ``a_ref``).

Formats:
- FP8 (e4m3fn): w ~ q * s, s per output channel or per group of 128 rows, in the activation dtype.
- NVFP4: w ~ q * s16 * g; q e2m1, s16 an e4m3fn scale per 16 rows, g one float32 per tensor.
- MXFP4: w ~ q * 2^e; q e2m1, e an e8m0 exponent (bias 127) per 32 rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

FP8_MAX = 448.0
FP4_MAX = 6.0
# e2m1 magnitudes by code 0..7 (sign is bit 3)
E2M1_VALUES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


@dataclass
class FloatQuantizedWeight:
    scheme: str  # "fp8" | "nvfp4" | "mxfp4"
    group_size: int  # rows per scale; -1 = per channel
    q: torch.Tensor  # uint8 codes [K, N]: e4m3fn bits (fp8) or e2m1 nibbles (fp4)
    scales: torch.Tensor  # [K / group, N]: activation dtype (fp8), uint8 e4m3fn bits (nvfp4), uint8 e8m0 (mxfp4)
    w_ref: torch.Tensor  # float32 [K, N]
    global_scale: Optional[torch.Tensor] = None  # float32 scalar (nvfp4)


def _grouped(w: torch.Tensor, group: int) -> torch.Tensor:
    K, N = w.shape
    g = K if group == -1 else group
    if g <= 0 or K % g:
        raise ValueError(f"group size {group} must divide K={K}")
    return w.reshape(K // g, g, N)


def e2m1_encode(x: torch.Tensor) -> torch.Tensor:
    """Round to the nearest e2m1 value (ties to the even code), saturating at +-6: uint8 codes."""
    mag = x.abs().clamp_max(FP4_MAX)
    values = torch.tensor(E2M1_VALUES, device=x.device, dtype=torch.float32)
    mids = (values[1:] + values[:-1]) / 2
    code = torch.bucketize(mag, mids, right=True)  # the nearest value; a tie goes up here...
    tie = (code > 0) & (mag == mids[(code - 1).clamp_min(0)])
    code = torch.where(tie & (code % 2 == 1), code - 1, code)  # ...and back down to an even code
    sign = ((x < 0) & (code > 0)).to(torch.uint8) << 3
    return code.to(torch.uint8) | sign


def e2m1_decode(code: torch.Tensor) -> torch.Tensor:
    values = torch.tensor(E2M1_VALUES, device=code.device, dtype=torch.float32)
    mag = values[(code & 7).long()]
    return torch.where((code & 8) != 0, -mag, mag)


def e4m3_bits(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float8_e4m3fn).view(torch.uint8)


def e4m3_value(bits: torch.Tensor) -> torch.Tensor:
    return bits.view(torch.float8_e4m3fn).to(torch.float32)


def quantize_fp8(w: torch.Tensor, group_size: int = -1, dtype: torch.dtype = torch.float16) -> FloatQuantizedWeight:
    """FP8 e4m3fn weights with a scale per output channel (-1) or per group of rows (128)."""
    w = w.to(torch.float32)
    K, N = w.shape
    wg = _grouped(w, group_size)
    # A scale that is 0 in `dtype` (an all-zero group, or one so small that amax / 448
    # underflows fp16) would make w / s NaN: use dtype's smallest normal there (the codes are
    # then 0). w / s is clamped to +-448 because rounding s to dtype can push it just past.
    scales = (wg.abs().amax(1) / FP8_MAX).to(dtype)
    scales = torch.where(scales > 0, scales, torch.full_like(scales, torch.finfo(dtype).tiny))
    s = scales.to(torch.float32)[:, None]
    q = e4m3_bits((wg / s).clamp(-FP8_MAX, FP8_MAX))
    w_ref = (e4m3_value(q) * s).reshape(K, N)
    return FloatQuantizedWeight("fp8", group_size, q.reshape(K, N), scales, w_ref)


def quantize_nvfp4(w: torch.Tensor) -> FloatQuantizedWeight:
    """NVFP4: e2m1 codes, an e4m3fn scale per 16 rows, and a float32 global scale chosen so that
    the largest block scale lands at e4m3's maximum."""
    w = w.to(torch.float32)
    K, N = w.shape
    wg = _grouped(w, 16)
    g = (w.abs().amax() / (FP8_MAX * FP4_MAX)).clamp_min(1e-12)
    s_bits = e4m3_bits((wg.abs().amax(1) / (FP4_MAX * g)).clamp(max=FP8_MAX))
    s = e4m3_value(s_bits)[:, None] * g
    q = e2m1_encode(torch.where(s > 0, wg / torch.where(s > 0, s, 1.0), 0.0))
    w_ref = (e2m1_decode(q) * s).reshape(K, N)
    return FloatQuantizedWeight("nvfp4", 16, q.reshape(K, N), s_bits, w_ref, g)


def quantize_mxfp4(w: torch.Tensor) -> FloatQuantizedWeight:
    """MXFP4 (OCP MX): e2m1 codes with a shared power-of-two scale per 32 rows, the block's
    largest exponent minus e2m1's (2), stored as e8m0 (bias 127)."""
    w = w.to(torch.float32)
    K, N = w.shape
    wg = _grouped(w, 32)
    amax = wg.abs().amax(1)
    e = torch.where(amax > 0, torch.floor(torch.log2(amax.clamp_min(2.0**-126))) - 2, torch.zeros_like(amax))
    e = e.clamp(-127, 127)
    scales = (e + 127).to(torch.uint8)
    s = torch.exp2(e)[:, None]
    q = e2m1_encode(wg / s)
    w_ref = (e2m1_decode(q) * s).reshape(K, N)
    return FloatQuantizedWeight("mxfp4", 32, q.reshape(K, N), scales, w_ref)


@dataclass
class QuantizedActivation:
    q: torch.Tensor  # int8 or float8_e4m3fn [M, K]
    scales: torch.Tensor  # float32 [M], per token
    a_ref: torch.Tensor  # float32 [M, K] = q * scales


def quantize_act_int8(a: torch.Tensor) -> QuantizedActivation:
    """Per-token symmetric int8: q = round(a / s), s = max|a| / 127 per row."""
    a = a.to(torch.float32)
    s = (a.abs().amax(1) / 127).clamp_min(1e-12)
    q = torch.clamp(torch.round(a / s[:, None]), -127, 127).to(torch.int8)
    return QuantizedActivation(q, s, q.to(torch.float32) * s[:, None])


def quantize_act_fp8(a: torch.Tensor) -> QuantizedActivation:
    """Per-token fp8 e4m3fn: q = a / s, s = max|a| / 448 per row."""
    a = a.to(torch.float32)
    s = (a.abs().amax(1) / FP8_MAX).clamp_min(1e-12)
    q = (a / s[:, None]).to(torch.float8_e4m3fn)
    return QuantizedActivation(q, s, q.to(torch.float32) * s[:, None])
