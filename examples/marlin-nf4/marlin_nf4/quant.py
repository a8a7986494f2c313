"""NF4 reference quantizer (round to the nearest code after absmax scaling) and the packing
into marlin's tile layout. Needs torch; the plugin itself (marlin_nf4) does not."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from marlin_nf4 import GROUP_BLOCKS
from marlin_nf4.codebook import NF4_VALUES

GROUP_SIZE = 16 * GROUP_BLOCKS


@dataclass
class NF4Weight:
    q: torch.Tensor  # int32 codes [K, N], 0..15
    scales: torch.Tensor  # [K / 64, N] absmax per group, in the activation dtype
    w_ref: torch.Tensor  # float32 [K, N]: what the kernel computes with (codes as 16-bit floats) x scale


def codebook(dtype: torch.dtype, device=None) -> torch.Tensor:
    """The code values as the kernel sees them: rounded to the activation dtype."""
    return torch.tensor(NF4_VALUES, dtype=torch.float32, device=device).to(dtype).to(torch.float32)


def quantize_nf4(w: torch.Tensor, dtype: torch.dtype = torch.float16) -> NF4Weight:
    """w [K, N] float -> NF4 codes with one absmax scale per 64 rows of each column."""
    w = w.to(torch.float32)
    K, N = w.shape
    if K % GROUP_SIZE:
        raise ValueError(f"K={K} must be a multiple of {GROUP_SIZE}")
    wg = w.reshape(K // GROUP_SIZE, GROUP_SIZE, N)
    scales = wg.abs().amax(1).clamp_min(1e-8).to(dtype)
    s = scales.to(torch.float32)[:, None]
    exact = torch.tensor(NF4_VALUES, device=w.device)
    q = (wg / s).unsqueeze(-1).sub(exact).abs().argmin(-1).to(torch.int32)
    w_ref = codebook(dtype, w.device)[q.long()] * s
    return NF4Weight(q.reshape(K, N), scales, w_ref.reshape(K, N))


def prepare_nf4(w: NF4Weight, device="cuda") -> dict:
    """Pack an NF4Weight for ``marlin_core.runtime.ops.gemm(a, **prepared)``: the codes go through
    GPTQ's 4-bit packing and marlin's GPU repack (the tile layout does not care what the codes
    mean), the scales through marlin's scale preparation."""
    from marlin_core.runtime import ops, packing

    from marlin_nf4 import NF4

    K, N = w.q.shape
    qweight = packing.gptq_pack(w.q, 4).to(device)
    return dict(b=ops.repack_gptq(qweight, K, N, 4), scales=packing.prepare_scales(w.scales.to(device)),
                b_type=NF4, size_n=N)
