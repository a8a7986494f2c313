"""Every kind of bad GEMM input gets its own one-line error before any launch. CPU tensors
stand in for CUDA ones: structure is checked before the device, so each case below fails on
its own problem, and the well-formed case fails on the device alone."""

import pytest

torch = pytest.importorskip("torch")

from marlin_core.runtime.validate import TYPE_ID, InvalidInput, check_gemm, type_bits  # noqa: E402

K, N, G = 256, 128, 2
U4B8, U4, U8B128 = TYPE_ID["kU4B8"], TYPE_ID["kU4"], TYPE_ID["kU8B128"]


def good(**over):
    args = dict(a=torch.zeros(8, K, dtype=torch.float16), b=torch.zeros(K // 16, N * 2, dtype=torch.int32),
                scales=torch.zeros(G, N, dtype=torch.float16), b_type_id=U4B8, size_n=N)
    args.update(over)
    return args


def fails(match, **over):
    with pytest.raises(InvalidInput, match=match) as e:
        check_gemm(**good(**over))
    assert "\n" not in str(e.value)


def test_well_formed_cpu_input_fails_only_on_the_device():
    fails("a must be on a CUDA device")


def test_type_bits():
    assert (type_bits(U4B8), type_bits(U8B128), type_bits(TYPE_ID["kFE4M3fn"]), type_bits(TYPE_ID["kFE2M1f"])) == (4, 8, 8, 4)


@pytest.mark.parametrize("over,match", [
    (dict(a=torch.zeros(8, K, dtype=torch.float32)), "a must be float16 or bfloat16, got float32"),
    (dict(a=torch.zeros(8, K, dtype=torch.int8)), "a must be float16 or bfloat16, got int8"),
    (dict(a=torch.zeros(2, 8, K, dtype=torch.float16)), "a must be 2-D"),
    (dict(a=torch.zeros(K, 8, dtype=torch.float16).t()), "unit stride along K"),
    (dict(a=torch.zeros(8, K + 4, dtype=torch.float16)[:, :K]), "row stride must be a multiple of 8"),
    (dict(a=torch.zeros(8 * K + 8, dtype=torch.float16)[4:4 + 8 * K].view(8, K)), "16-byte boundary"),
    (dict(a=torch.zeros(8, 120, dtype=torch.float16)), "K = 120 must be a multiple of 16"),
    (dict(size_n=96), "N = 96 must be a positive multiple of 64"),
    (dict(b_type_id=TYPE_ID["kFloat16"]), "16-bit codes"),
    (dict(b=torch.zeros(K // 16, N * 2, dtype=torch.int64)), "b must be int32, got int64"),
    (dict(b=torch.zeros(K // 16, N, dtype=torch.int32)), r"b must be the repacked weight int32 \[16, 256\]"),
    (dict(b=torch.zeros(N * 2, K // 16, dtype=torch.int32).t()), "b must be contiguous"),
    (dict(b_type_id=U8B128), r"int32 \[16, 512\].*8-bit codes"),
    (dict(scales=torch.zeros(G, N, dtype=torch.bfloat16)), "scales must have a's dtype"),
    (dict(scales=torch.zeros(G, N + 64, dtype=torch.float16)), r"scales must be \[num_groups, N = 128\]"),
    (dict(scales=torch.zeros(3, N, dtype=torch.float16)), "3 scale groups do not split K = 256"),
    (dict(scales=torch.zeros(32, N, dtype=torch.float16)), "32 scale groups do not split"),  # groups of 8 rows
    (dict(scales=torch.zeros(N, G, dtype=torch.float16).t()), "scales must be contiguous"),
    (dict(b_type_id=U4), "kU4 weights need zero points"),
    (dict(zp=torch.zeros(G, N // 8, dtype=torch.int32)), "kU4B8 weights take no zero points"),
    (dict(b_type_id=U4, zp=torch.zeros(G, N, dtype=torch.int32)), r"zp must be \[2, 16\]"),
    (dict(b_type_id=U4, zp=torch.zeros(G, N // 8, dtype=torch.float16)), "zp must be int32"),
    (dict(b_type_id=U4, is_zp_float=True, zp=torch.zeros(G, N, dtype=torch.float16),
          a=torch.zeros(8, K, dtype=torch.bfloat16), scales=torch.zeros(G, N, dtype=torch.bfloat16)),
     "float zero points \\(HQQ\\) need float16"),
    (dict(b_type_id=U4, is_zp_float=True, zp=torch.zeros(G, N // 8, dtype=torch.float16)), r"zp must be \[2, 128\]"),
    (dict(is_zp_float=True), "is_zp_float is set but no zero points"),
    (dict(perm=torch.arange(K, dtype=torch.int32)), "perm needs g_idx"),
    (dict(g_idx=torch.zeros(K, dtype=torch.int64)), "g_idx must be int32"),
    (dict(g_idx=torch.zeros(K - 16, dtype=torch.int32)), "g_idx must have K = 256 entries"),
    (dict(g_idx=torch.zeros(K, dtype=torch.int32), perm=torch.zeros(K, 1, dtype=torch.int32)), "perm must be 1-D"),
    (dict(bias=torch.zeros(N, dtype=torch.float32)), "bias must be float16"),
    (dict(bias=torch.zeros(N + 1, dtype=torch.float16)), "bias must have N = 128 entries"),
    (dict(bias=torch.zeros(2 * N, dtype=torch.float16)[::2]), "bias must be contiguous"),
    (dict(scales="nope"), "scales must be a torch.Tensor"),
])
def test_each_bad_input(over, match):
    fails(match, **over)
