"""A small grid of GEMM / repack cases for `compute-sanitizer --tool memcheck`: one case per
scheme, the 8-row tile, several M tiles, a K tail, split-K and act-order."""

import sys

import torch

from cases import Scheme, check, make

CASES = [
    (Scheme("gptq4", "fp16", 128), 256, 384, [1, 33]),
    (Scheme("gptq4", "bf16", -1), 192, 1040, [7, 100]),
    (Scheme("gptq8", "fp16", 128, "gidx"), 256, 384, [16]),
    (Scheme("gptq8", "bf16", 64, "sorted"), 128, 320, [65]),
    (Scheme("awq", "fp16", 32), 128, 320, [1, 40]),
    (Scheme("hqq", "fp16", 64), 256, 192, [20]),
]


def main() -> int:
    for s, n, k, ms in CASES:
        p = make(s, n, k)
        for m in ms:
            err = check(p, m, repeat=False)
            print(f"{s.id} M={m} N={n} K={k} rel_err={err:.2e}", flush=True)
    torch.cuda.synchronize()
    print("memcheck grid done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
