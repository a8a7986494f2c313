"""Short benchmark of the 8-bit-activation kernels against torch (cuBLAS) fp16 matmul on the same
shapes. Prints a markdown table. Times as in bench_gemm.py (CUDA-graph replays timed with
events, L2 not flushed: the int4 weights of these shapes are 8-23 MB against the 50 MB L2)."""

import argparse

import torch

from bench_gemm import timeit
from cases_a8 import SchemeA8, activations_a8, make_a8, run_gemm_a8


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ms", default="1,16,64,256,1024")
    ap.add_argument("--schemes", default="int8-gptq-fp16-g128,int8-gptq-fp16-g-1,fp8-gptq-fp16-g128")
    args = ap.parse_args()
    ms = [int(x) for x in args.ms.split(",")]
    schemes = []
    for sid in args.schemes.split(","):
        act, w, dt, g = sid.split("-", 3)
        schemes.append(SchemeA8(act, w, dt, int(g[1:])))
    print(f"device: {torch.cuda.get_device_name()}")
    print("| scheme | M | N | K | marlin us | torch fp16 us | speedup |")
    print("|---|---|---|---|---|---|---|")
    for n, k in [(4096, 4096), (11008, 4096)]:
        wf = torch.randn(k, n, device="cuda", dtype=torch.float16)
        for s in schemes:
            p = make_a8(s, n, k)
            for m in ms:
                aq, asc, _ = activations_a8(m, k, s.act)
                a16 = torch.randn(m, k, device="cuda", dtype=torch.float16)
                c = torch.empty(m, n, device="cuda", dtype=torch.float16 if s.dtype == "fp16" else torch.bfloat16)
                t_m = timeit(lambda: run_gemm_a8(p, aq, asc, c))
                t_t = timeit(lambda: a16 @ wf)
                print(f"| {s.id} | {m} | {n} | {k} | {t_m:.1f} | {t_t:.1f} | {t_t / t_m:.2f} |", flush=True)


if __name__ == "__main__":
    main()
