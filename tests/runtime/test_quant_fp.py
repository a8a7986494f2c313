"""Reference quantizers of FP8 / NVFP4 / MXFP4 weights and 8-bit activations, against values
worked out by hand."""

import pytest

torch = pytest.importorskip("torch")

from marlin_core.runtime import quant_fp as qf  # noqa: E402


def test_e2m1_encode_hand_values():
    x = torch.tensor([0.0, 0.2, 0.25, 0.3, 0.74, 0.75, 1.25, 1.3, 2.5, 2.6, 5.0, 5.1, 7.0, -1.0, -0.1, -6.0])
    # ties go to the even code: 0.25 -> 0 (code 0), 0.75 -> 1.0 (code 2), 1.25 -> 1.0 (code 2),
    # 2.5 -> 2.0 (code 4), 5.0 -> 4.0 (code 6)
    want = [0, 0, 0, 1, 1, 2, 2, 3, 4, 5, 6, 7, 7, 8 | 2, 0, 8 | 7]
    assert qf.e2m1_encode(x).tolist() == want
    assert qf.e2m1_decode(torch.tensor(want, dtype=torch.uint8)).tolist() == [
        0, 0, 0, 0.5, 0.5, 1, 1, 1.5, 2, 3, 4, 6, 6, -1, 0, -6]


def test_e2m1_roundtrip_all_codes():
    codes = torch.arange(16, dtype=torch.uint8)
    back = qf.e2m1_encode(qf.e2m1_decode(codes))
    assert back[codes != 8].tolist() == codes[codes != 8].tolist()  # -0 encodes as +0
    assert back[8] == 0


def test_fp8_per_channel_scales_and_exact_max():
    w = torch.tensor([[1.0, -2.0], [0.5, 8.0], [-4.0, 1.0]])
    r = qf.quantize_fp8(w, -1, torch.float32)
    assert torch.allclose(r.scales, torch.tensor([[4.0 / 448, 8.0 / 448]]))
    # w / s: column 0 -> 112, 56, -448; column 1 -> -112, 448, 56: all exact in e4m3
    # (1.75 * 2^6, 1.75 * 2^5, 1.75 * 2^8), so the round trip is exact
    assert torch.equal(r.w_ref, w)
    assert qf.e4m3_value(r.q).tolist() == [[112, -112], [56, 448], [-448, 56]]


def test_fp8_group_128():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(256, 64, generator=g)
    r = qf.quantize_fp8(w, 128)
    assert r.scales.shape == (2, 64) and r.q.dtype == torch.uint8
    rel = (r.w_ref - w).norm() / w.norm()
    assert rel < 0.04  # e4m3 relative step is 2^-3, mean error far below


def test_nvfp4_hand_block():
    # one 16-row block in one column: values 0..15 / 15 * 6 * 2 -> amax 12
    w = (torch.arange(16, dtype=torch.float32) / 15 * 12.0).reshape(16, 1)
    r = qf.quantize_nvfp4(w)
    g = 12.0 / (448 * 6)
    assert torch.isclose(r.global_scale, torch.tensor(g))
    # block scale = amax / (6 g) = 448, exactly representable in e4m3
    assert qf.e4m3_value(r.scales).item() == 448.0
    assert r.w_ref[-1, 0] == pytest.approx(12.0)
    assert r.q[-1, 0] == 7  # the max maps to code 7 (6.0)


def test_mxfp4_power_of_two_scales():
    w = torch.zeros(32, 2)
    w[0, 0], w[5, 0] = 3.0, -0.75  # amax 3 -> exponent floor(log2 3) - 2 = -1 -> scale 0.5
    w[1, 1] = 100.0  # floor(log2 100) = 6 -> scale 16, 100 / 16 = 6.25 -> 6 -> 96
    r = qf.quantize_mxfp4(w)
    assert r.scales.tolist() == [[126, 131]]
    assert r.w_ref[0, 0] == 3.0 and r.w_ref[5, 0] == -0.75 and r.w_ref[1, 1] == 96.0


def test_act_int8_and_fp8_per_token():
    a = torch.tensor([[1.0, -127.0, 63.5], [0.5, 0.25, -0.125]])
    r = qf.quantize_act_int8(a)
    assert r.scales.tolist() == pytest.approx([1.0, 0.5 / 127])
    assert r.q[0].tolist() == [1, -127, 64] and r.q.dtype == torch.int8
    f = qf.quantize_act_fp8(a)
    assert torch.allclose(f.scales, torch.tensor([127.0 / 448, 0.5 / 448]))
    assert f.a_ref[0, 1] == pytest.approx(-127.0) and f.q.dtype == torch.float8_e4m3fn


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_fp8_zero_and_tiny_groups_stay_finite(dtype):
    """An all-zero group, and one whose amax / 448 underflows fp16, used to give a 0 scale and
    NaN codes (w / 0) in float16."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(256, 64, generator=g) * 0.05
    w[:, 3] = 0.0
    w[:128, 5] = 1e-9
    r = qf.quantize_fp8(w, 128, dtype)
    assert torch.isfinite(r.w_ref).all() and (r.scales > 0).all()
    assert (r.w_ref[:, 3] == 0).all() and (qf.e4m3_value(r.q[:, 3]) == 0).all()
    assert not torch.isnan(qf.e4m3_value(r.q)).any()
    assert ((r.w_ref - w).norm() / w.norm()).item() < 0.04


def test_fp8_codes_saturate_when_the_rounded_scale_is_smaller():
    # amax / 448 rounded down in bf16: w / s slightly above 448 must encode as 448, not NaN
    w = torch.zeros(128, 64)
    w[0, :] = 448.0 * 1.00390625 * torch.arange(1, 65) / 64 * 3.3
    r = qf.quantize_fp8(w, -1, torch.bfloat16)
    assert qf.e4m3_value(r.q).abs().max().item() <= 448.0 and not torch.isnan(qf.e4m3_value(r.q)).any()
