"""Short benchmark of the floating-point-weight kernels (FP8 g128, NVFP4, MXFP4) next to GPTQ-4
g128 and torch (cuBLAS) 16-bit matmul, same method as bench_gemm.py (CUDA-graph replays, L2
not flushed). Prints a markdown table."""

import argparse

import torch

from bench_gemm import timeit
from cases import Scheme, activations, make, run_gemm
from cases_fp import DT, FpScheme, make_fp, run_gemm_fp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ms", default="1,64,1024")
    args = ap.parse_args()
    ms = [int(x) for x in args.ms.split(",")]
    print(f"device: {torch.cuda.get_device_name()}")
    print("| scheme | M | N | K | marlin us | torch 16-bit us | speedup | weight GB/s |")
    print("|---|---|---|---|---|---|---|---|")
    rows = [(FpScheme("fp8", "fp16", 128), 8), (FpScheme("nvfp4", "fp16", 16), 4.5),
            (FpScheme("nvfp4", "bf16", 16), 4.5), (FpScheme("mxfp4", "bf16", 32), 4.25),
            (Scheme("gptq4", "fp16", 128), 4.125)]
    for n, k in [(4096, 4096), (11008, 4096)]:
        for s, bits in rows:
            dt = DT[s.dtype]
            wf = torch.randn(k, n, device="cuda", dtype=dt)
            if isinstance(s, FpScheme):
                p = make_fp(s, n, k)
                run = lambda a, c: run_gemm_fp(p, a, c)  # noqa: E731
            else:
                p = make(s, n, k)
                run = lambda a, c: run_gemm(p, a, c)  # noqa: E731
            for m in ms:
                a = activations(m, k, dt)
                c = torch.empty(m, n, device="cuda", dtype=dt)
                t_m = timeit(lambda: run(a, c))
                t_t = timeit(lambda: a @ wf)
                gbs = (k * n * bits / 8) / (t_m * 1e-6) / 1e9
                print(f"| {s.id} | {m} | {n} | {k} | {t_m:.1f} | {t_t:.1f} | {t_t / t_m:.2f} | {gbs:.0f} |",
                      flush=True)


if __name__ == "__main__":
    main()
