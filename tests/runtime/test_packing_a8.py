"""The 8-bit-activation weight layout and scale order (docs/kernel.md, "8-bit activations"),
and the register tricks of marlin_a8.cuh re-done in torch: no GPU needed."""

import pytest

torch = pytest.importorskip("torch")

from marlin_core.runtime import a8, packing, quant, quant_fp  # noqa: E402


def test_pack_unpack_roundtrip():
    g = torch.Generator().manual_seed(0)
    q = torch.randint(0, 16, (64, 128), generator=g, dtype=torch.int32)
    packed = a8.pack_a8_reference(q)
    assert packed.shape == (2, 512) and packed.dtype == torch.int32
    assert torch.equal(a8.unpack_a8_reference(packed, 64, 128), q)


def test_pack_hand_worked_positions():
    # B(k=21, n=75) = 5 and everything else 0: tile (kt=0, nt=1); column 75 - 64 = 11 = 8 j + l // 4
    # with j = 1, l // 4 = 3; row 21 = 16 + 4 t + i with t = 1, i = 1 -> lane l = 13, nibble 2 i + 1
    # = 3. Word h*128 + l*4 + q with j = 4 h + q -> h = 0, q = 1: word 53 of tile 1 = 256 + 53.
    q = torch.zeros(32, 128, dtype=torch.int32)
    q[21, 75] = 5
    packed = a8.pack_a8_reference(q).reshape(-1)
    nz = torch.nonzero(packed).reshape(-1).tolist()
    assert nz == [256 + 53]
    assert int(packed[256 + 53]) == 5 << 12


def test_pack_rejects_bad_shapes():
    with pytest.raises(ValueError, match="multiple of 32"):
        a8.pack_a8_reference(torch.zeros(48, 64, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"\[0, 15\]"):
        a8.pack_a8_reference(torch.full((32, 64), 16, dtype=torch.int32))


def test_scale_order_is_accumulator_ownership():
    n = 128
    s = torch.arange(n, dtype=torch.float32)[None, :].repeat(3, 1)
    p = a8.prepare_scales_a8(s)
    for chunk in range(2):
        for t in range(4):  # lane % 4
            for j in range(8):  # n8 tile
                for e in range(2):  # accumulator column pair element
                    assert p[1, chunk * 64 + 16 * t + 2 * j + e] == chunk * 64 + 8 * j + 2 * t + e
    # e8m0 bytes keep their dtype
    assert a8.prepare_scales_a8(torch.zeros(2, 64, dtype=torch.uint8)).dtype == torch.uint8


def _bytes(x: int) -> list[int]:
    return [(x >> (8 * i)) & 0xFF for i in range(4)]


def test_s8_subtraction_trick_all_codes_and_zero_points():
    # kernel: ((x & 0x0f0f0f0f) | 0x80808080) - z * 0x01010101, then ^ 0x80808080 = bytes q - z
    for z in range(16):
        for q in range(16):
            x = q * 0x01010101 | (((q + 3) % 16) << 8)
            x &= 0x0F0F0F0F
            r = ((((x & 0x0F0F0F0F) | 0x80808080) - z * 0x01010101) & 0xFFFFFFFF) ^ 0x80808080
            want = [(b - z) & 0xFF for b in _bytes(x)]
            assert _bytes(r) == want


def test_int4_differences_are_exact_in_e4m3():
    d = torch.arange(-15, 16, dtype=torch.float32)
    assert torch.equal(d.to(torch.float8_e4m3fn).to(torch.float32), d)


def test_e2m1_to_e4m3_bit_move_is_times_2_pow_minus_6():
    codes = torch.arange(16, dtype=torch.uint8)
    moved = ((codes & 0x8) << 4) | ((codes & 0x7) << 2)
    got = moved.view(torch.float8_e4m3fn).to(torch.float32)
    assert torch.equal(got * 64, quant_fp.e2m1_decode(codes))


def _kernel_weights_s8(packed, K, N, zeros):
    """Signed weights as the int8 kernel builds them: the layout's nibbles, the SIMD trick."""
    codes = a8.unpack_a8_reference(packed, K, N).to(torch.int64)
    return codes - zeros


def test_int8_path_emulation_matches_reference():
    """The int8 kernel's arithmetic in torch: per-token int8 A, s8 weights q - z, int32 dot
    products per k32 sub-tile, each times its group scale, times the token scale."""
    g = torch.Generator().manual_seed(1)
    K, N, M, gs = 96, 64, 5, 32
    w = torch.randn(K, N, generator=g) * 0.05
    qw = quant.quantize_awq(w, gs, torch.float16)
    packed = a8.pack_a8_reference(qw.q)
    zeros = qw.zeros.repeat_interleave(gs, 0).to(torch.int64)
    ws8 = _kernel_weights_s8(packed, K, N, zeros)
    act = quant_fp.quantize_act_int8(torch.randn(M, K, generator=g))
    out = torch.zeros(M, N, dtype=torch.float64)
    s = qw.scales.to(torch.float64)
    for k0 in range(0, K, 32):
        part = act.q.to(torch.int64)[:, k0:k0 + 32] @ ws8[k0:k0 + 32]  # exact int32 partial
        out += part.to(torch.float64) * s[k0 // gs][None, :]
    out *= act.scales.to(torch.float64)[:, None]
    a_ref = act.q.double() * act.scales.double()[:, None]
    w_ref = (qw.q - qw.zeros.repeat_interleave(gs, 0)).double() * qw.scales.double().repeat_interleave(gs, 0)
    assert torch.allclose(qw.w_ref.double(), w_ref)
    ref = a_ref @ w_ref
    assert ((out - ref).norm() / ref.norm()).item() < 1e-12


def test_quantize_activations_shapes():
    a = torch.randn(2, 3, 64)
    q, s = a8.quantize_activations(a, "int8")
    assert q.dtype == torch.int8 and q.shape == (6, 64) and s.shape == (6,)
    q, s = a8.quantize_activations(a, "fp8")
    assert q.dtype == torch.float8_e4m3fn and s.dtype == torch.float32
    assert torch.allclose(q.float() * s[:, None], a.reshape(6, 64), rtol=0.07, atol=1e-3)


def test_mxfp4_prepare_uses_gptq_style_packing():
    # the repack input of MXFP4 codes is the GPTQ packing of the nibbles (K-major)
    codes = torch.randint(0, 16, (64, 64), dtype=torch.int32)
    assert torch.equal(packing.gptq_unpack(packing.gptq_pack(codes, 4), 4), codes)
