"""validate.check_gemm with floating-point weights: FP8 (16-bit scales), NVFP4 / MXFP4 (prepared
uint8 scale bytes, s_type_id, NVFP4's global scale). CPU tensors: a well-formed input fails on
the device check alone."""

import pytest

torch = pytest.importorskip("torch")

from marlin_core.runtime.validate import TYPE_ID, InvalidInput, check_gemm  # noqa: E402

K, N = 256, 128
FP4, FP8, E4M3, E8M0 = TYPE_ID["kFE2M1f"], TYPE_ID["kFE4M3fn"], TYPE_ID["kFE4M3fn"], TYPE_ID["kFE8M0fnu"]


def nvfp4(**over):
    args = dict(a=torch.zeros(8, K, dtype=torch.float16), b=torch.zeros(K // 16, N * 2, dtype=torch.int32),
                scales=torch.zeros(K // 16, N, dtype=torch.uint8), b_type_id=FP4, size_n=N, s_type_id=E4M3,
                global_scale=torch.ones(1))
    args.update(over)
    return args


def mxfp4(**over):
    return nvfp4(**dict(dict(a=torch.zeros(8, K, dtype=torch.bfloat16), scales=torch.zeros(K // 32, N, dtype=torch.uint8),
                             s_type_id=E8M0, global_scale=None), **over))


def fp8(**over):
    return dict(dict(a=torch.zeros(8, K, dtype=torch.bfloat16), b=torch.zeros(K // 16, N * 4, dtype=torch.int32),
                     scales=torch.zeros(2, N, dtype=torch.bfloat16), b_type_id=FP8, size_n=N), **over)


def fails(match, args):
    with pytest.raises(InvalidInput, match=match) as e:
        check_gemm(**args)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("make", [nvfp4, mxfp4, fp8])
def test_well_formed_fp_inputs_fail_only_on_the_device(make):
    fails("a must be on a CUDA device", make())


@pytest.mark.parametrize("args,match", [
    (nvfp4(global_scale=None), "NVFP4 needs global_scale"),
    (mxfp4(global_scale=torch.ones(1)), "only used with NVFP4"),
    (nvfp4(global_scale=torch.ones(2)), "one float32 value"),
    (nvfp4(global_scale=torch.ones(1, dtype=torch.float16)), "global_scale must be float32"),
    (nvfp4(scales=torch.zeros(K // 16, N, dtype=torch.float16)), "scales must be uint8"),
    (nvfp4(scales=torch.zeros(K // 32, N, dtype=torch.uint8)), "cover 16 rows each"),
    (mxfp4(scales=torch.zeros(K // 16, N, dtype=torch.uint8)), "cover 32 rows each"),
    (mxfp4(a=torch.zeros(8, K, dtype=torch.float16)), "MXFP4 .* needs bfloat16"),
    (nvfp4(s_type_id=-1, global_scale=None), "kFE2M1f weights need s_type"),
    (fp8(s_type_id=E4M3), "go with kFE2M1f weights"),
    (fp8(scales=torch.zeros(2, N, dtype=torch.float16)), "scales must have a's dtype"),
    (fp8(g_idx=torch.zeros(K, dtype=torch.int32)), "act-order .* floating-point"),
    (nvfp4(s_type_id=TYPE_ID["kU4"]), "not a scale type"),
])
def test_fp_errors(args, match):
    fails(match, args)
