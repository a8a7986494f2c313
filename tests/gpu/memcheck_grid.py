"""A small grid of GEMM / repack cases for `compute-sanitizer --tool memcheck`: one case per
scheme, the 8-row tile, several M tiles (chunks of >= 128 rows: the wide mode of the 4-m-block
wgmma tile on 9.0 with MARLIN_WIDE_M=2), a K tail, split-K and act-order; then the
8-bit-activation kernels (cases_a8)."""

import sys

import torch

from cases import Scheme, check, make
from cases_fp import FpScheme, check_fp, make_fp

CASES = [
    (Scheme("gptq4", "fp16", 128), 256, 384, [1, 33, 200]),
    (Scheme("gptq4", "bf16", -1), 192, 1040, [7, 100]),
    (Scheme("gptq8", "fp16", 128, "gidx"), 256, 384, [16, 160]),
    (Scheme("gptq8", "bf16", 64, "sorted"), 128, 320, [65]),
    (Scheme("awq", "fp16", 32), 256, 320, [1, 40, 130]),
    (Scheme("hqq", "fp16", 64), 256, 192, [20, 140]),
]

# floating-point weights (issue 4 part A): FP8 per channel / g128, NVFP4, MXFP4
FP_CASES = [
    (FpScheme("fp8", "fp16", 128), 256, 384, [1, 33, 200]),
    (FpScheme("fp8", "bf16", -1), 192, 1040, [7]),
    (FpScheme("nvfp4", "fp16", 16), 128, 1040, [1, 40]),
    (FpScheme("nvfp4", "bf16", 16), 256, 320, [100]),
    (FpScheme("mxfp4", "bf16", 32), 256, 2112, [5, 65, 150]),
]


def main() -> int:
    if sys.argv[1:] == ["a8"]:
        run_a8()
        torch.cuda.synchronize()
        print("memcheck grid (a8) done")
        return 0
    for s, n, k, ms in CASES:
        p = make(s, n, k)
        for m in ms:
            err = check(p, m, repeat=False)
            print(f"{s.id} M={m} N={n} K={k} rel_err={err:.2e}", flush=True)
    for s, n, k, ms in FP_CASES:
        p = make_fp(s, n, k)
        for m in ms:
            err = check_fp(p, m, repeat=False)
            print(f"{s.id} M={m} N={n} K={k} rel_err={err:.2e}", flush=True)
    run_a8()
    torch.cuda.synchronize()
    print("memcheck grid done")
    return 0


def run_a8() -> None:
    """8-bit activations (marlin_gemm_a8): int8 and fp8, zero points, groups, K tail, split-K.
    `memcheck_grid.py a8` runs only these (a library built with the W4A8 schemes alone)."""
    from cases_a8 import SchemeA8, check_a8, make_a8

    for s, n, k, ms in [
        (SchemeA8("int8", "gptq", "fp16", 128), 256, 384, [1, 33]),
        (SchemeA8("int8", "awq", "bf16", 32), 192, 1056, [7, 100]),
        (SchemeA8("int8", "awq", "fp16", -1), 128, 320, [65]),
        (SchemeA8("fp8", "awq", "bf16", 64), 128, 320, [16]),
        (SchemeA8("fp8", "gptq", "fp16", -1), 256, 1056, [40]),
        (SchemeA8("fp8", "mxfp4", "bf16", 32), 256, 384, [1, 20]),
    ]:
        if s.act == "fp8" and torch.cuda.get_device_capability() < (8, 9):
            continue
        p = make_a8(s, n, k)
        for m in ms:
            err = check_a8(p, m, repeat=False)
            print(f"{s.id} M={m} N={n} K={k} rel_err={err:.2e}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
