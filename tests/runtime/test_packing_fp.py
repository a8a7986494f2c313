"""Preparation of FP8 / NVFP4 / MXFP4 weights for the kernel (packing.py, docs/kernel.md), on the
CPU. The kernel's register dequantization is emulated bit for bit in torch (shift the code's
bits under a 16-bit float's exponent, widen the prepared scale byte, multiply in 16 bits, apply
the fp32 factor) and must reproduce the quantizers' float32 w_ref."""

import pytest

torch = pytest.importorskip("torch")

from marlin_core.runtime import packing  # noqa: E402
from marlin_core.runtime import quant_fp as qf  # noqa: E402


def _f16(bits: torch.Tensor, dtype) -> torch.Tensor:
    """int32 holding 16-bit patterns -> float32 values of that 16-bit float type."""
    return bits.to(torch.int32).to(torch.int16).view(dtype).to(torch.float32)


# ---- the kernel's bit tricks, emulated (dequant.cuh) -----------------------------------


def emu_fp8_code(q: torch.Tensor, dtype) -> torch.Tensor:
    b = q.to(torch.int32)
    sh = 7 if dtype == torch.float16 else 4  # byte at bits 8..15, >> 1 (fp16) or >> 4 (bf16)
    return _f16(((b & 0x80) << 8) | ((b & 0x7F) << sh), dtype)


def emu_fp4_code(q: torch.Tensor, dtype) -> torch.Tensor:
    c = q.to(torch.int32)
    sh = 9 if dtype == torch.float16 else 6
    return _f16(((c & 8) << 12) | ((c & 7) << sh), dtype)


def emu_nvfp4_scale(b: torch.Tensor, dtype) -> torch.Tensor:
    b = b.to(torch.int32)
    bits = (b << 7) if dtype == torch.float16 else ((b << 4) | 0x7000)
    return _f16(bits, dtype)


def emu_mxfp4_scale(b: torch.Tensor) -> torch.Tensor:
    return _f16(b.to(torch.int32) << 7, torch.bfloat16)


def mul16(x: torch.Tensor, y: torch.Tensor, dtype) -> torch.Tensor:
    """hmul2: the exact product rounded once to the 16-bit type (float64 holds it exactly)."""
    return (x.double() * y.double()).to(dtype).to(torch.float32)


def unpermute(prepared: torch.Tensor) -> torch.Tensor:
    """Undo the scales' 8x8 column transpose."""
    perm = packing._col_perm(prepared.shape[1], prepared.device)
    out = torch.empty_like(prepared)
    out[:, perm] = prepared
    return out


def expand(s: torch.Tensor, k: int) -> torch.Tensor:
    return s.repeat_interleave(k // s.shape[0], dim=0)


# ---- exponent-bias factors: every code -----------------------------------------------


@pytest.mark.parametrize("dtype,fold", [(torch.float16, 2.0**-8), (torch.bfloat16, 2.0**-120)])
def test_fp8_shift_is_value_times_power_of_two(dtype, fold):
    codes = torch.tensor([c for c in range(256) if c not in (0x7F, 0xFF)], dtype=torch.uint8)  # not NaN
    want = qf.e4m3_value(codes).double() * fold
    assert torch.equal(emu_fp8_code(codes, dtype).double(), want)  # subnormals included


@pytest.mark.parametrize("dtype,fold", [(torch.float16, 2.0**-14), (torch.bfloat16, 2.0**-126)])
def test_fp4_shift_is_value_times_power_of_two(dtype, fold):
    codes = torch.arange(16, dtype=torch.uint8)
    assert torch.equal(emu_fp4_code(codes, dtype).double(), qf.e2m1_decode(codes).double() * fold)


def test_nvfp4_scale_bytes_hand_values():
    # e4m3 bits: 1.0 = 0x38, 448 = 0x7e, 2^-9 (smallest subnormal) = 0x01, 0
    s = torch.tensor([0x38, 0x7E, 0x01, 0x00], dtype=torch.uint8)
    # fp16 of 128 = 0x5800, of 57344 = 0x7b00, of 2^-2 = 0x3400; bits 7..14
    assert packing.nvfp4_scale_bytes(s).tolist() == [0xB0, 0xF6, 0x68, 0x00]
    every = torch.tensor([c for c in range(0x7F)], dtype=torch.uint8)  # all finite e4m3 >= 0
    b = packing.nvfp4_scale_bytes(every)
    assert torch.equal(packing.nvfp4_scale_bytes_value(b), qf.e4m3_value(every))
    # the kernel's widening: fp16 scale * 2^7, bf16 scale * 2^119 (zero byte excepted)
    v = qf.e4m3_value(every).double()
    assert torch.equal(emu_nvfp4_scale(b, torch.float16).double(), v * 2.0**7)
    nz = every != 0
    assert torch.equal(emu_nvfp4_scale(b, torch.bfloat16).double()[nz], v[nz] * 2.0**119)
    with pytest.raises(ValueError, match="finite and >= 0"):
        packing.nvfp4_scale_bytes(torch.tensor([0xB8], dtype=torch.uint8))  # -1.0
    with pytest.raises(ValueError, match="finite and >= 0"):
        packing.nvfp4_scale_bytes(torch.tensor([0x7F], dtype=torch.uint8))  # NaN


def test_scale_column_order():
    s = torch.arange(128, dtype=torch.int32).to(torch.uint8).reshape(1, 128)
    p = packing.prepare_mxfp4_scales(s)
    # stored position 8 i + j of a 64-column chunk holds column i + 8 j
    assert p[0, 1].item() == 8 + 64 and p[0, 8].item() == 1 + 64 and p[0, 64 + 9].item() == 64 + 9 + 64
    assert torch.equal(unpermute(p), s + 64)


# ---- whole preparations against the quantizers' w_ref ----------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("group", [-1, 128])
def test_fp8_prepared_scales_reproduce_w_ref(dtype, group):
    g = torch.Generator().manual_seed(1)
    w = torch.randn(256, 128, generator=g) * 0.05
    r = qf.quantize_fp8(w, group, dtype)
    ps = packing.prepare_fp8_scales(r.scales)
    assert ps.dtype == dtype and ps.shape == r.scales.shape
    s = expand(unpermute(ps).to(torch.float32), 256)
    got = mul16(emu_fp8_code(r.q, dtype), s, dtype)  # (q 2^-k) * (s 2^k), rounded once
    assert torch.equal(got, r.w_ref.to(dtype).to(torch.float32))


def test_fp8_scale_overflow_is_refused():
    with pytest.raises(ValueError, match="too large"):
        packing.prepare_fp8_scales(torch.full((1, 64), 300.0, dtype=torch.float16))
    with pytest.raises(ValueError, match="too large"):
        packing.prepare_fp8_scales(torch.full((1, 64), 300.0, dtype=torch.bfloat16))
    packing.prepare_fp8_scales(torch.full((1, 64), 200.0, dtype=torch.bfloat16))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_nvfp4_prepared_reproduces_w_ref(dtype):
    g = torch.Generator().manual_seed(2)
    w = torch.randn(128, 64, generator=g) * 0.05
    w[16:32, 3] = 0.0  # a zero block: scale 0
    w[0:16, 5] *= 1e-4  # tiny block scales (e4m3 subnormals)
    r = qf.quantize_nvfp4(w)
    q = packing.nvfp4_zero_codes_of_zero_scales(r.q.to(torch.int32), r.scales)
    sb = packing.prepare_nvfp4_scales(r.scales)
    assert sb.dtype == torch.uint8
    gs = packing.prepare_nvfp4_global_scale(r.global_scale)
    s16 = expand(emu_nvfp4_scale(unpermute(sb), dtype), 128)
    prod = mul16(emu_fp4_code(q, dtype), s16, dtype)  # exact: value * scale * 2^-7
    assert torch.equal(prod.double(), (qf.e2m1_decode(q).double() * expand(qf.e4m3_value(r.scales), 128).double())
                       * 2.0**-7)
    got = prod * gs  # the kernel's fp32 epilogue factor
    assert torch.allclose(got, r.w_ref, rtol=2e-7, atol=0)
    assert (got[16:32, 3] == 0).all()


def test_nvfp4_zero_scale_zeroes_codes():
    codes = torch.full((32, 64), 5, dtype=torch.int32)
    s = torch.full((2, 64), 0x38, dtype=torch.uint8)
    s[1, 7] = 0
    z = packing.nvfp4_zero_codes_of_zero_scales(codes, s)
    assert (z[16:, 7] == 0).all() and (z[:16, 7] == 5).all() and int((z == 0).sum()) == 16


def test_mxfp4_prepared_reproduces_w_ref():
    g = torch.Generator().manual_seed(3)
    w = torch.randn(128, 64, generator=g) * 0.05
    w[:, 1] *= 1e6
    w[:, 2] *= 1e-9
    r = qf.quantize_mxfp4(w)
    sb = packing.prepare_mxfp4_scales(r.scales)
    s16 = expand(emu_mxfp4_scale(unpermute(sb)), 128)
    got = mul16(emu_fp4_code(r.q, torch.bfloat16), s16, torch.bfloat16) * 2.0**62
    assert torch.equal(got, r.w_ref)
    with pytest.raises(ValueError, match="above 190"):
        packing.prepare_mxfp4_scales(torch.full((1, 64), 200, dtype=torch.uint8))


@pytest.mark.parametrize("bits", [4, 8])
def test_fp_codes_use_the_integer_tile_layout(bits):
    """fp codes go through the integer packers unchanged (sign bit included): the tile word
    holding lane 0's sub-block 0 starts with B(0, 0), B(1, 0)."""
    g = torch.Generator().manual_seed(4)
    q = torch.randint(0, 1 << bits, (32, 128), generator=g, dtype=torch.int32)
    packed = packing.marlin_pack_reference(q, bits)
    word = int(packed[0, 0]) & 0xFFFFFFFF
    mask = (1 << bits) - 1
    assert word & mask == q[0, 0] and (word >> (bits if bits == 8 else 16)) & mask == q[1, 0]
    assert torch.equal(packing.gptq_unpack(packing.gptq_pack(q, bits), bits), q)


def test_fp8_expand_scales():
    one = torch.tensor(0.5, dtype=torch.float16)
    assert torch.equal(packing.fp8_expand_scales(one, 128), torch.full((1, 128), 0.5, dtype=torch.float16))
    blocks = torch.arange(2 * 2, dtype=torch.float32).reshape(2, 2).to(torch.bfloat16)  # [K/128, N/64]
    e = packing.fp8_expand_scales(blocks, 128)
    assert e.shape == (2, 128) and e[1, 63] == 2 and e[1, 64] == 3 and e[0, 0] == 0
    g = torch.ones(3, 128, dtype=torch.float16)
    assert packing.fp8_expand_scales(g, 128) is g
    with pytest.raises(ValueError, match="not a multiple"):
        packing.fp8_expand_scales(torch.ones(2, 3), 128)
