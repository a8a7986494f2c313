"""Reference packers against hand-checked small cases and an independent per-element decoder.
CPU only."""

import pytest

torch = pytest.importorskip("torch")

from marlin_core.runtime import packing, quant  # noqa: E402


def _q_lin(K, N, mod=16):
    k = torch.arange(K)[:, None]
    n = torch.arange(N)[None, :]
    return ((3 * k + n) % mod).to(torch.int32)


def test_pack4_hand_checked_words():
    q = _q_lin(16, 64)
    out = packing.marlin_pack_reference(q, 4)
    assert out.shape == (1, 128) and out.dtype == torch.int32
    # lane 0, sub-block 0: v = [q00, q10, q80, q90, q08, q18, q88, q98] = [0, 3, 8, 11, 8, 11, 0, 3]
    # nibbles = v[0,2,4,6,1,3,5,7] = [0, 8, 8, 0, 3, 11, 11, 3]
    assert out[0, 0].item() == 0x3BB30880
    # lane 5, sub-block 2: c = 33, r = 2: v = [7, 10, 15, 2, 15, 2, 7, 10] -> [7,15,15,7,10,2,2,10]
    assert out[0, 5 * 4 + 2].item() == 0xA22A7FF7 - 2**32


def test_pack8_hand_checked_words():
    q = _q_lin(16, 64, mod=256)
    out = packing.marlin_pack_reference(q, 8)
    assert out.shape == (1, 256)
    # lane 0, sub-block 0, column 0: rows 0, 1, 8, 9 -> 0, 3, 24, 27 (bytes in order)
    assert out[0, 0].item() == 0x1B180300
    # column 8: 8, 11, 32, 35
    assert out[0, 1].item() == 0x23200B08
    # lane 1, sub-block 3: h = 1, word (w%2)*2 = 2 -> offset 128 + 4 + 2; c = 48, rows 2, 3, 10, 11
    assert out[0, 128 + 4 + 2].item() == (54 | 57 << 8 | 78 << 16 | 81 << 24)


def _decode_loop(packed, K, N, bits):
    """Independent element-wise inverse of the documented layout."""
    words_per_tile = 16 * 64 * bits // 32
    flat = [int(x) & 0xFFFFFFFF for x in packed.reshape(-1).tolist()]
    q = torch.zeros(K, N, dtype=torch.int32)
    n_tiles = N // 64
    for kt in range(K // 16):
        for nt in range(n_tiles):
            base = (kt * n_tiles + nt) * words_per_tile
            for t in range(32):
                r = 2 * (t % 4)
                for w in range(4):
                    c = 16 * w + t // 4
                    spots = [(r, c), (r + 1, c), (r + 8, c), (r + 9, c),
                             (r, c + 8), (r + 1, c + 8), (r + 8, c + 8), (r + 9, c + 8)]
                    if bits == 4:
                        word = flat[base + t * 4 + w]
                        order = [0, 2, 4, 6, 1, 3, 5, 7]
                        for i in range(8):
                            rr, cc = spots[order[i]]
                            q[kt * 16 + rr, nt * 64 + cc] = (word >> (4 * i)) & 15
                    else:
                        for half in range(2):
                            word = flat[base + (w // 2) * 128 + t * 4 + (w % 2) * 2 + half]
                            for i in range(4):
                                rr, cc = spots[4 * half + i]
                                q[kt * 16 + rr, nt * 64 + cc] = (word >> (8 * i)) & 255
    return q


@pytest.mark.parametrize("bits", [4, 8])
def test_pack_roundtrip_random(bits):
    g = torch.Generator().manual_seed(bits)
    K, N = 32, 128
    q = torch.randint(0, 1 << bits, (K, N), generator=g, dtype=torch.int32)
    packed = packing.marlin_pack_reference(q, bits)
    assert packed.shape == (K // 16, N * 16 * bits // 32)
    assert torch.equal(_decode_loop(packed, K, N, bits), q)


def test_pack_rejects_bad_shapes_and_codes():
    with pytest.raises(ValueError):
        packing.marlin_pack_reference(torch.zeros(8, 64, dtype=torch.int32), 4)
    with pytest.raises(ValueError):
        packing.marlin_pack_reference(torch.zeros(16, 32, dtype=torch.int32), 4)
    with pytest.raises(ValueError):
        packing.marlin_pack_reference(torch.full((16, 64), 16, dtype=torch.int32), 4)


def test_gptq_and_awq_checkpoint_packing():
    q = torch.arange(1, 9, dtype=torch.int32)[:, None].repeat(1, 8)  # rows 1..8
    assert packing.gptq_pack(q, 4)[0, 0].item() == 0x87654321 - 2**32
    assert torch.equal(packing.gptq_unpack(packing.gptq_pack(q, 4), 4), q)
    row = torch.arange(8, dtype=torch.int32)[None, :]
    # AWQ: nibble i holds column [0,2,4,6,1,3,5,7][i]
    assert packing.awq_pack(row)[0, 0].item() == 0x75316420
    g = torch.Generator().manual_seed(0)
    z = torch.randint(0, 16, (3, 64), generator=g, dtype=torch.int32)
    assert torch.equal(packing.awq_unpack(packing.awq_pack(z)), z)
    q8 = torch.randint(0, 256, (8, 64), generator=g, dtype=torch.int32)
    assert torch.equal(packing.gptq_unpack(packing.gptq_pack(q8, 8), 8), q8)


def test_prepare_scales_and_zero_points():
    s = torch.arange(128, dtype=torch.float32)[None, :]
    ps = packing.prepare_scales(s)
    assert ps[0, :8].tolist() == [0, 8, 16, 24, 32, 40, 48, 56]
    assert ps[0, 8:10].tolist() == [1, 9]
    assert ps[0, 64:66].tolist() == [64, 72]
    z = (torch.arange(64, dtype=torch.int32) % 16)[None, :]
    pz = packing.prepare_zp_int(z)
    assert pz.shape == (1, 8)
    assert pz[0, 0].item() == 0x80808080 - 2**32
    assert pz[0, 1].item() == 0x91919191 - 2**32
    # AWQ qzeros go through the same packing after unpacking
    assert torch.equal(packing.prepare_awq_zeros(packing.awq_pack(z)), pz)


def test_act_order_perm_sorts_stably():
    g_idx = torch.tensor([2, 0, 1, 0, 2, 1], dtype=torch.int32)
    assert packing.act_order_perm(g_idx).tolist() == [1, 3, 2, 5, 0, 4]


@pytest.mark.parametrize("bits,gs,act", [(4, 32, False), (4, -1, False), (8, 64, False), (4, 32, True), (8, 32, True)])
def test_quantize_gptq(bits, gs, act):
    g = torch.Generator().manual_seed(1)
    w = torch.randn(128, 64, generator=g)
    qw = quant.quantize_gptq(w, bits, gs, act_order=act, generator=g)
    half = 1 << (bits - 1)
    assert qw.q.min() >= 0 and qw.q.max() < 2 * half
    G = 1 if gs == -1 else 128 // gs
    assert qw.scales.shape == (G, 64)
    if act:
        assert qw.g_idx is not None and torch.bincount(qw.g_idx.long()).tolist() == [gs] * G
        gl = qw.g_idx.long()
    else:
        gl = torch.arange(128) // (128 // G)
    # the reference is exactly (q - half) * s and within half a step of w
    s = qw.scales.float()[gl]
    assert torch.equal(qw.w_ref, (qw.q.float() - half) * s)
    assert ((qw.w_ref - w).abs() <= s / 2 + 1e-6).all()


def test_quantize_awq_and_hqq():
    g = torch.Generator().manual_seed(2)
    w = torch.randn(128, 64, generator=g)
    qa = quant.quantize_awq(w, 32)
    assert qa.zeros.dtype == torch.int32 and qa.zeros.min() >= 0 and qa.zeros.max() <= 15
    s = qa.scales.float().repeat_interleave(32, 0)
    # rounding the zero point costs up to another half step at the range ends
    assert ((qa.w_ref - w).abs() <= s + 1e-5).all()
    assert (qa.w_ref - w).abs().mean() < (s / 3).mean()
    assert torch.equal(qa.w_ref, (qa.q - qa.zeros.repeat_interleave(32, 0)).float() * s)
    qh = quant.quantize_hqq(w, 64)
    assert qh.zeros.dtype == torch.float16
    s = qh.scales.float().repeat_interleave(64, 0)
    assert ((qh.w_ref - w).abs() <= s * 0.51 + 1e-3).all()
