"""Pure-torch reference of marlin's weight tile layout and of the scale / zero-point
preparation (docs/kernel.md). The GPU repack kernels must match :func:`marlin_pack_reference`
bit for bit. Works on any device; nothing here needs CUDA.
"""

from __future__ import annotations

import torch

TILE_K = 16
TILE_N = 64

# nibble i of a 4-bit word holds fragment value ORDER4[i]
ORDER4 = (0, 2, 4, 6, 1, 3, 5, 7)
# AWQ checkpoints: nibble i of a word holds column AWQ_ORDER[i] of its 8 columns
AWQ_ORDER = (0, 2, 4, 6, 1, 3, 5, 7)


def _to_int32(x: torch.Tensor) -> torch.Tensor:
    """int64 holding uint32 bit patterns -> int32 with the same bits."""
    x = x & 0xFFFFFFFF
    return torch.where(x >= 2**31, x - 2**32, x).to(torch.int32)


def _check_codes(q: torch.Tensor, bits: int) -> None:
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits}")
    if q.dim() != 2:
        raise ValueError(f"codes must be 2-D [K, N], got shape {tuple(q.shape)}")


def marlin_pack_reference(q: torch.Tensor, bits: int) -> torch.Tensor:
    """Unsigned codes ``q`` [K, N] (K % 16 == 0, N % 64 == 0) -> tile layout
    int32 [K / 16, N * 16 / (32 / bits)].

    16x64 tiles, row-major over tiles. In a tile, lane t (0..31) and 16-column sub-block w
    (0..3) own v = [B(r,c), B(r+1,c), B(r+8,c), B(r+9,c), B(r,c+8), B(r+1,c+8), B(r+8,c+8),
    B(r+9,c+8)] with r = 2 (t % 4), c = 16 w + t / 4.  4-bit: one word at t*4 + w, nibble i =
    v[ORDER4[i]].  8-bit: words (v0..v3) and (v4..v7), bytes in order, at
    (w // 2) * 128 + t * 4 + (w % 2) * 2 + {0, 1}.
    """
    _check_codes(q, bits)
    K, N = q.shape
    if K % TILE_K or N % TILE_N:
        raise ValueError(f"K={K} must be a multiple of {TILE_K} and N={N} of {TILE_N}")
    q = q.to(torch.int64)
    dev = q.device
    tiles = q.reshape(K // 16, 16, N // 64, 64).permute(0, 2, 1, 3)  # [kt, nt, 16, 64]
    t = torch.arange(32, device=dev)
    w = torch.arange(4, device=dev)
    i = torch.arange(8, device=dev)
    dr = torch.tensor([0, 1, 8, 9], device=dev)
    rows = (2 * (t % 4))[:, None] + dr[i % 4][None, :]  # [t, i]
    cols = 16 * w[:, None, None] + (t // 4)[None, :, None] + 8 * (i // 4)[None, None, :]  # [w, t, i]
    rows_b = rows[None].expand(4, 32, 8)  # [w, t, i]
    v = tiles[:, :, rows_b, cols]  # [kt, nt, w, t, i]
    v = v.permute(0, 1, 3, 2, 4)  # [kt, nt, t, w, i]
    if bits == 4:
        if int(q.max()) > 15 or int(q.min()) < 0:
            raise ValueError("4-bit codes must be in [0, 15]")
        order = torch.tensor(ORDER4, device=dev)
        shifts = 4 * torch.arange(8, device=dev)
        word = (v[..., order] << shifts).sum(-1)  # [kt, nt, t, w]
        out = word.reshape(K // 16, -1)
    else:
        if int(q.max()) > 255 or int(q.min()) < 0:
            raise ValueError("8-bit codes must be in [0, 255]")
        shifts = 8 * torch.arange(4, device=dev)
        lo = (v[..., 0:4] << shifts).sum(-1)  # column c
        hi = (v[..., 4:8] << shifts).sum(-1)  # column c + 8
        words = torch.stack([lo, hi], dim=-1)  # [kt, nt, t, w, 2]
        kt, nt = words.shape[:2]
        words = words.reshape(kt, nt, 32, 2, 2, 2)  # [kt, nt, t, h, w%2, half]
        words = words.permute(0, 1, 3, 2, 4, 5)  # [kt, nt, h, t, w%2, half]
        out = words.reshape(K // 16, -1)
    return _to_int32(out)


# ---- checkpoint formats ---------------------------------------------------------------


def gptq_pack(q: torch.Tensor, bits: int) -> torch.Tensor:
    """Codes [K, N] -> GPTQ qweight int32 [K / pack, N], packed along K, LSB first."""
    _check_codes(q, bits)
    pack = 32 // bits
    K, N = q.shape
    if K % pack:
        raise ValueError(f"K={K} must be a multiple of {pack}")
    q = q.to(torch.int64).reshape(K // pack, pack, N)
    shifts = (bits * torch.arange(pack, device=q.device))[None, :, None]
    return _to_int32((q << shifts).sum(1))


def gptq_unpack(qweight: torch.Tensor, bits: int) -> torch.Tensor:
    """GPTQ qweight int32 [K / pack, N] -> codes int32 [K, N]."""
    pack = 32 // bits
    w = qweight.to(torch.int64) & 0xFFFFFFFF
    shifts = (bits * torch.arange(pack, device=w.device))[None, :, None]
    codes = (w[:, None, :] >> shifts) & ((1 << bits) - 1)
    return codes.reshape(-1, qweight.shape[1]).to(torch.int32)


def awq_pack(q: torch.Tensor, bits: int = 4) -> torch.Tensor:
    """Codes [R, N] -> AWQ int32 [R, N / 8]: nibble i of word j holds column 8 j + AWQ_ORDER[i].
    Used for both AWQ qweight ([K, N]) and qzeros ([num_groups, N])."""
    if bits != 4:
        raise ValueError("AWQ packing is 4-bit only")
    R, N = q.shape
    if N % 8:
        raise ValueError(f"N={N} must be a multiple of 8")
    q = q.to(torch.int64).reshape(R, N // 8, 8)[..., list(AWQ_ORDER)]
    shifts = 4 * torch.arange(8, device=q.device)
    return _to_int32((q << shifts).sum(-1))


def awq_unpack(packed: torch.Tensor, bits: int = 4) -> torch.Tensor:
    """AWQ int32 [R, N / 8] -> codes int32 [R, N]."""
    if bits != 4:
        raise ValueError("AWQ packing is 4-bit only")
    w = packed.to(torch.int64) & 0xFFFFFFFF
    shifts = 4 * torch.arange(8, device=w.device)
    nib = (w[..., None] >> shifts) & 0xF  # [R, N/8, nibble]
    inv = [AWQ_ORDER.index(j) for j in range(8)]
    return nib[..., inv].reshape(packed.shape[0], -1).to(torch.int32)


def hqq_unpack_4bit_u8(packed: torch.Tensor) -> torch.Tensor:
    """Inverse of HQQ's 4-bit packing of a uint8 tensor (high nibble: first half of dim 0,
    low nibble: second half)."""
    p = packed.to(torch.uint8)
    return torch.cat([(p >> 4) & 0xF, p & 0xF], dim=0)


# ---- scales and zero points ------------------------------------------------------------


def _col_perm(n: int, device) -> torch.Tensor:
    """Stored column order: position chunk*64 + 8 i + j holds column chunk*64 + i + 8 j, so a
    lane's 8 columns (lane/4 + 8 j) are contiguous."""
    if n % 64:
        raise ValueError(f"N={n} must be a multiple of 64")
    p = torch.arange(64, device=device).reshape(8, 8).t().reshape(64)  # p[8i+j] = i + 8j
    return (torch.arange(n // 64, device=device)[:, None] * 64 + p[None, :]).reshape(n)


def prepare_scales(scales: torch.Tensor) -> torch.Tensor:
    """Scales [num_groups, N] -> the kernel's order (same shape and dtype, contiguous)."""
    if scales.dim() != 2:
        raise ValueError(f"scales must be [num_groups, N], got {tuple(scales.shape)}")
    return scales[:, _col_perm(scales.shape[1], scales.device)].contiguous()


def prepare_zp_float(zp: torch.Tensor) -> torch.Tensor:
    """Float zero points (HQQ) [num_groups, N] -> the kernel's order (like the scales)."""
    return prepare_scales(zp)


def prepare_zp_int(zp: torch.Tensor) -> torch.Tensor:
    """Integer zero points [num_groups, N] (values 0..15) -> int32 [num_groups, N / 8]: the
    scales' column order, 8 consecutive values per word, LSB first."""
    if zp.dim() != 2:
        raise ValueError(f"zero points must be [num_groups, N], got {tuple(zp.shape)}")
    G, N = zp.shape
    z = zp.to(torch.int64)[:, _col_perm(N, zp.device)].reshape(G, N // 8, 8)
    if int(z.max()) > 15 or int(z.min()) < 0:
        raise ValueError("int4 zero points must be in [0, 15]")
    shifts = 4 * torch.arange(8, device=zp.device)
    return _to_int32((z << shifts).sum(-1))


def prepare_awq_zeros(qzeros: torch.Tensor) -> torch.Tensor:
    """AWQ qzeros int32 [num_groups, N / 8] -> the kernel's packed zero points."""
    return prepare_zp_int(awq_unpack(qzeros))


def act_order_perm(g_idx: torch.Tensor) -> torch.Tensor:
    """perm = stable argsort of g_idx (int32): repack with it, pass it to gemm."""
    return torch.argsort(g_idx.to(torch.int64), stable=True).to(torch.int32)


# ---- floating-point weights (FP8, NVFP4, MXFP4) -----------------------------------------
#
# Codes use the integer tile layouts unchanged: e4m3 bytes as 8-bit codes, e2m1 nibbles (sign
# in bit 3) as 4-bit codes. The kernel turns a code into a 16-bit float by shifting its bits
# under the float's exponent (docs/kernel.md), which yields value * 2^-FOLD; the preparation
# below puts that power of two back, exactly, into the scales or into an fp32 factor.

# e4m3 -> fp16 / bf16 by shifting gives value * 2^-8 / 2^-120 (exponent biases 15 - 7, 127 - 7)
FP8_FOLD_LOG2 = {torch.float16: 8, torch.bfloat16: 120}
# e2m1 -> 16-bit gives value * 2^-14 (fp16) / 2^-126 (bf16); the NVFP4 byte scale below gives
# scale * 2^7 (fp16) / scale * 2^119 (bf16): the product is value * scale * 2^-7 either way
NVFP4_GLOBAL_FOLD = 2.0**7
# MXFP4 (bf16): prepared byte = e8m0 + 64 -> bf16 2^(e - 63); with e2m1's 2^-126 the product
# is value * 2^(e - 127) * 2^-62; the kernel multiplies the fp32 sums by 2^62
MXFP4_BYTE_OFFSET = 64


def fp8_expand_scales(scales: torch.Tensor, size_n: int) -> torch.Tensor:
    """FP8 checkpoint scales -> [num_groups, N]: a per-tensor scale (one value) becomes per
    channel [1, N]; block scales [K / bk, N / bn] are repeated bn times along N; [G, N] stays."""
    if scales.numel() == 1:
        return scales.reshape(1, 1).expand(1, size_n).contiguous()
    if scales.dim() != 2:
        raise ValueError(f"FP8 scales must be one value, [num_groups, N] or block scales [K/bk, N/bn], "
                         f"got {tuple(scales.shape)}")
    if scales.shape[1] == size_n:
        return scales
    if size_n % scales.shape[1]:
        raise ValueError(f"FP8 block scales {tuple(scales.shape)}: N = {size_n} is not a multiple of {scales.shape[1]}")
    return scales.repeat_interleave(size_n // scales.shape[1], dim=1).contiguous()


def prepare_fp8_scales(scales: torch.Tensor) -> torch.Tensor:
    """FP8 weight scales [num_groups, N] in the activation dtype (float16 / bfloat16) -> the
    kernel's column order, multiplied by 2^8 (float16) or 2^120 (bfloat16): exact (a power of
    two) unless it overflows, which raises."""
    if scales.dtype not in FP8_FOLD_LOG2:
        raise ValueError(f"FP8 scales must be float16 or bfloat16 (the activation dtype), got {scales.dtype}")
    out = (scales.to(torch.float32) * 2.0 ** FP8_FOLD_LOG2[scales.dtype]).to(scales.dtype)
    if not torch.isfinite(out).all():
        raise ValueError(
            f"FP8 scale too large for {scales.dtype} once multiplied by 2^{FP8_FOLD_LOG2[scales.dtype]} "
            f"(max {float(scales.abs().max()):.4g}); scales must be finite and below "
            f"{65504 / 256 if scales.dtype == torch.float16 else 2.0 ** 8:.4g}")
    return prepare_scales(out)


def nvfp4_scale_bytes(s_bits: torch.Tensor) -> torch.Tensor:
    """e4m3fn scale bits (uint8) -> the kernel's NVFP4 scale byte: bits 7..14 of the float16
    scale * 2^7 (5-bit exponent, 3-bit mantissa, no sign). Exact for every finite e4m3 value
    >= 0: scale * 2^7 is an fp16 normal (>= 2^-2) or 0 with at most 3 mantissa bits."""
    v = s_bits.to(torch.uint8).view(torch.float8_e4m3fn).to(torch.float32)
    if not torch.isfinite(v).all() or bool((v < 0).any()):
        raise ValueError("NVFP4 scales must be finite and >= 0")
    h = (v * NVFP4_GLOBAL_FOLD).to(torch.float16).view(torch.int16).to(torch.int32)
    return ((h >> 7) & 0xFF).to(torch.uint8)


def nvfp4_scale_bytes_value(b: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`nvfp4_scale_bytes` (float32 scale values)."""
    return ((b.to(torch.int32) << 7).to(torch.int16)).view(torch.float16).to(torch.float32) / NVFP4_GLOBAL_FOLD


def prepare_nvfp4_scales(s_bits: torch.Tensor) -> torch.Tensor:
    """NVFP4 e4m3fn scale bits uint8 [K / 16, N] -> prepared bytes uint8 [K / 16, N] in the
    kernel's column order (the same 8x8 transpose as 16-bit scales, one byte each)."""
    if s_bits.dim() != 2:
        raise ValueError(f"scales must be [num_groups, N], got {tuple(s_bits.shape)}")
    return prepare_scales(nvfp4_scale_bytes(s_bits))


def prepare_nvfp4_global_scale(global_scale) -> torch.Tensor:
    """The checkpoint's per-tensor float32 scale -> the kernel's: times 2^7, float32 [1]."""
    g = torch.as_tensor(global_scale, dtype=torch.float32).reshape(1)
    return g * NVFP4_GLOBAL_FOLD


def nvfp4_zero_codes_of_zero_scales(codes: torch.Tensor, s_bits: torch.Tensor) -> torch.Tensor:
    """Codes [K, N] with the codes of every group whose scale is 0 set to 0 (their weight is 0
    either way; the bf16 kernel widens a zero scale byte to 2^97, so the code must be 0)."""
    K, N = codes.shape
    zero = s_bits.view(torch.float8_e4m3fn).to(torch.float32) == 0  # [K / 16, N]
    zero = zero.repeat_interleave(K // s_bits.shape[0], dim=0)
    return torch.where(zero, torch.zeros_like(codes), codes)


def prepare_mxfp4_scales(e8m0: torch.Tensor) -> torch.Tensor:
    """MXFP4 e8m0 exponents uint8 [K / 32, N] (scale 2^(e - 127)) -> prepared bytes e + 64 in
    the kernel's column order. Exponents above 190 (scales above 2^63) are refused; the
    products stay exact for e >= 64 (scales >= 2^-63)."""
    if e8m0.dim() != 2:
        raise ValueError(f"scales must be [num_groups, N], got {tuple(e8m0.shape)}")
    e = e8m0.to(torch.int32)
    if bool((e > 254 - MXFP4_BYTE_OFFSET).any()):
        raise ValueError(f"MXFP4 scale exponents above {254 - MXFP4_BYTE_OFFSET} (2^63) are not supported")
    return prepare_scales((e + MXFP4_BYTE_OFFSET).to(torch.uint8))
