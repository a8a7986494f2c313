"""Short benchmark: marlin GEMM vs torch (cuBLAS) fp16 matmul on the same shapes.
Prints a markdown table. Times: CUDA-graph replays timed with events (L2 not flushed; the
weights of these shapes are 8-45 MB against the 50 MB L2, so small-M figures are optimistic)."""

import argparse
import statistics

import torch

from cases import Scheme, activations, make, run_gemm


def timeit(fn, reps=20, iters=15):
    """Median over `iters` replays of a CUDA graph holding `reps` calls, in us per call (no
    host launch overhead in the figure)."""
    fn()
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(reps):
            fn()
    g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        g.replay()
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e) * 1e3 / reps)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--ms", default="", help="comma list of M")
    ap.add_argument("--schemes", default="gptq4,awq,gptq8")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--thread-k", type=int, default=-1)
    ap.add_argument("--thread-n", type=int, default=-1)
    ap.add_argument("--max-m-blocks", type=int, default=-1)
    args = ap.parse_args()
    shapes = [(4096, 4096), (11008, 4096), (4096, 11008)]
    ms = [1, 16, 64, 256, 1024] if not args.quick else [1, 64, 1024]
    if args.ms:
        ms = [int(x) for x in args.ms.split(",")]
    names = args.schemes.split(",")
    schemes = [Scheme(nm, "fp16", 128) for nm in names]
    print(f"device: {torch.cuda.get_device_name()}")
    print("| scheme | M | N | K | marlin us | torch fp16 us | speedup | weight GB/s |")
    print("|---|---|---|---|---|---|---|---|")
    for n, k in shapes:
        wf = torch.randn(k, n, device="cuda", dtype=torch.float16)
        for s in schemes:
            p = make(s, n, k)
            bits = 8 if s.name == "gptq8" else 4
            for m in ms:
                a = activations(m, k, torch.float16)
                c = torch.empty(m, n, device="cuda", dtype=torch.float16)
                t_m = timeit(lambda: run_gemm(p, a, c, thread_k=args.thread_k, thread_n=args.thread_n,
                                              max_m_blocks=args.max_m_blocks))
                t_t = float("nan") if args.no_torch else timeit(lambda: a @ wf)
                gbs = (k * n * bits / 8) / (t_m * 1e-6) / 1e9
                print(f"| {s.id} | {m} | {n} | {k} | {t_m:.1f} | {t_t:.1f} | {t_t / t_m:.2f} | {gbs:.0f} |",
                      flush=True)


if __name__ == "__main__":
    main()
