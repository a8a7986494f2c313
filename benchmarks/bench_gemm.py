"""marlin GEMM vs torch.matmul (cuBLAS, fp16/bf16) vs the memory roofline, on a CUDA GPU.

For each scheme, (K, N) and M: median time per call with CUDA events over a batch of calls
that rotate through enough weight copies to defeat the L2 cache; effective TB/s over the bytes
the GEMM must move (packed weights + scales + zero points + A + C); that as a % of the measured
device-to-device copy bandwidth; and the speedup over cuBLAS on the same shape. Each M gets a
"stream" row (eager calls back to back: what a PyTorch caller sees, host cost included) and a
"graph" row (a CUDA graph of the same batch replayed: kernel time, no launch gaps; --no-graph
drops them). Prints a markdown table; with --plot PATH saves the graph rows' speedup vs M per
shape as a PNG.

Usage: python benchmarks/bench_gemm.py [--schemes gptq4-g128,...] [--ms 1,16,64] [--shapes 4096x4096]
       [--no-graph | --graph-only] [--gemm-args max_slices=4,...] [--plot docs/perf_speedup.png] [--quick]
Needs: torch with CUDA, and libmarlin.so (MARLIN_LIBRARY or a default build dir).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys

import torch

MS = [1, 4, 16, 32, 64, 128, 256, 1024]
SHAPES = [(4096, 4096), (4096, 14336), (14336, 4096), (8192, 28672)]  # (K, N)
SCHEMES = ["gptq4-g128", "gptq4-gch", "awq4-g128", "gptq8-g128", "fp8-g128", "nvfp4", "mxfp4"]
L2_BYTES = 50 * 2**20


def measured_copy_bandwidth() -> float:
    """Bytes read + written per second of a large device-to-device copy."""
    n = 1 << 28  # 1 GiB of fp32
    src = torch.empty(n, device="cuda")
    dst = torch.empty_like(src)
    dst.copy_(src)
    torch.cuda.synchronize()
    times = []
    for _ in range(10):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        dst.copy_(src)
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e) * 1e-3)
    return 2 * n * 4 / statistics.median(times)


def make_weights(scheme: str, k: int, n: int, dtype: torch.dtype):
    """One packed weight set (dict of gemm kwargs) and its byte count, from the reference
    quantizers and the GPU repack."""
    from marlin_core.runtime import ops, packing, quant, quant_fp

    name, group = scheme.split("-") if "-" in scheme else (scheme, "gch")
    gs = -1 if group == "gch" else int(group[1:])
    w = torch.randn(k, n, device="cuda", dtype=torch.float32) * 0.02
    if name.startswith("gptq"):
        bits = int(name[4:])
        qw = quant.quantize_gptq(w, bits=bits, group_size=gs, dtype=dtype)
        kw = ops.prepare_gptq(packing.gptq_pack(qw.q, bits).cuda(), qw.scales.cuda(), k, n, bits)
    elif name == "awq4":
        qw = quant.quantize_awq(w, group_size=gs, dtype=dtype)
        kw = ops.prepare_awq(packing.awq_pack(qw.q).cuda(), packing.awq_pack(qw.zeros).cuda(),
                             qw.scales.cuda(), k, n)
    elif name == "fp8":
        qw = quant_fp.quantize_fp8(w, group_size=gs, dtype=dtype)
        kw = ops.prepare_fp8(qw.q, qw.scales, k, n)
    elif name == "nvfp4":
        qw = quant_fp.quantize_nvfp4(w)
        kw = ops.prepare_nvfp4(qw.q, qw.scales, qw.global_scale, k, n)
    elif name == "mxfp4":
        if dtype != torch.bfloat16:
            return None, 0  # MXFP4 kernels take bfloat16 activations only
        qw = quant_fp.quantize_mxfp4(w)
        kw = ops.prepare_mxfp4(qw.q, qw.scales, k, n)
    else:
        raise SystemExit(f"bench_gemm: unknown scheme {scheme}")
    nbytes = sum(t.numel() * t.element_size() for t in kw.values() if isinstance(t, torch.Tensor))
    return kw, nbytes


def copies_for(nbytes: int) -> int:
    return max(2, math.ceil(3 * L2_BYTES / max(nbytes, 1)) + 1)


def weight_sets(kw: dict, wbytes: int) -> list[dict]:
    """`kw` and enough clones of its tensors that rotating through them defeats the L2."""
    return [kw] + [{key: (v.clone() if isinstance(v, torch.Tensor) else v) for key, v in kw.items()}
                   for _ in range(copies_for(wbytes) - 1)]


def dense_weights(k: int, n: int, dtype: torch.dtype) -> list[torch.Tensor]:
    """Random K x N cuBLAS operands, as many as defeat the L2 in rotation."""
    return [torch.randn(k, n, device="cuda", dtype=dtype) for _ in range(copies_for(k * n * 2))]


GEMM_ARGS = ("use_fp32_reduce", "thread_k", "thread_n", "max_m_blocks", "max_slices")


def parse_gemm_args(text: str) -> dict:
    """"max_slices=4,thread_n=128" -> {"max_slices": 4, "thread_n": 128}; only ops.gemm's
    dispatch overrides (GEMM_ARGS), integer values."""
    out = {}
    for item in filter(None, text.split(",")):
        key, sep, val = item.partition("=")
        if not sep or key not in GEMM_ARGS or not val.lstrip("-").isdigit():
            sys.exit(f"bench_gemm: bad --gemm-args item {item!r}: expected NAME=INT with NAME in {', '.join(GEMM_ARGS)}")
        out[key] = bool(int(val)) if key == "use_fp32_reduce" else int(val)
    return out


def time_batch(calls, graph: bool) -> float:
    """Median microseconds per call of the list of callables run back to back."""
    for c in calls:
        c()
    torch.cuda.synchronize()
    run = lambda: [c() for c in calls]  # noqa: E731
    if graph:
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            run()
        run = g.replay  # noqa: E731
    # warm up for ~100 ms of GPU work (at least 3 runs) so that the GPU is in its steady state
    # before the timed runs, which last only a few ms (same treatment for marlin and cuBLAS).
    # With 30 ms the first row after a shape's weight preparation still read up to ~7% slow on
    # the H100 (8192 x 28672 M=1: 57.5 us, 53.9 us when repeated).
    w0, w1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    w0.record()
    run()
    w1.record()
    w1.synchronize()
    for _ in range(max(3, min(2000, int(100.0 / max(w0.elapsed_time(w1), 1e-3))))):
        run()
    times = []
    for _ in range(15):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        run()
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e) * 1e3 / len(calls))
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schemes", default=",".join(SCHEMES))
    ap.add_argument("--ms", default=",".join(map(str, MS)))
    ap.add_argument("--shapes", default=",".join(f"{k}x{n}" for k, n in SHAPES), help="KxN list")
    ap.add_argument("--dtype", default="fp16", choices=["fp16", "bf16"])
    ap.add_argument("--plot", default="")
    ap.add_argument("--quick", action="store_true", help="M in 1,16,64,1024 and the first two shapes")
    ap.add_argument("--no-graph", action="store_true", help="only the eager (stream) rows")
    ap.add_argument("--graph-only", action="store_true", help="only the CUDA-graph rows")
    ap.add_argument("--gemm-args", default="",
                    help="dispatch overrides passed to ops.gemm, for tuning: e.g. max_slices=4,thread_n=128")
    args = ap.parse_args()
    if args.no_graph and args.graph_only:
        sys.exit("bench_gemm: --no-graph and --graph-only exclude each other")
    overrides = parse_gemm_args(args.gemm_args)
    if not torch.cuda.is_available():
        sys.exit("bench_gemm: needs a CUDA GPU")
    from marlin_core.runtime import ops

    dtype = torch.float16 if args.dtype == "fp16" else torch.bfloat16
    ms = [1, 16, 64, 1024] if args.quick else [int(x) for x in args.ms.split(",")]
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    if args.quick:
        shapes = shapes[:2]
    bw = measured_copy_bandwidth()
    print(f"device: {torch.cuda.get_device_name()}; measured copy bandwidth {bw / 1e12:.2f} TB/s; "
          f"dtype {args.dtype}")
    print("| scheme | K | N | M | mode | marlin us | cuBLAS us | speedup | eff. TB/s | % of copy BW | roofline us |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    results = {}
    for k, n in shapes:
        dense = dense_weights(k, n, dtype)
        for scheme in args.schemes.split(","):
            kw, wbytes = make_weights(scheme, k, n, dtype)
            if kw is None:
                print(f"| {scheme} | {k} | {n} | - | skipped: needs --dtype bf16 | | | | | | |")
                continue
            sets = weight_sets(kw, wbytes)
            for m in ms:
                a = torch.randn(m, k, device="cuda", dtype=dtype)
                moved = wbytes + (m * k + m * n) * 2
                modes = ([] if args.graph_only else ["stream"]) + ([] if args.no_graph else ["graph"])
                for mode in modes:
                    t_m = time_batch([lambda s=s, a=a: ops.gemm(a, **s, **overrides) for s in sets], mode == "graph")
                    t_c = time_batch([lambda d=d, a=a: a @ d for d in dense], mode == "graph")
                    eff = moved / (t_m * 1e-6)
                    results.setdefault((scheme, k, n, mode), []).append((m, t_c / t_m))
                    print(f"| {scheme} | {k} | {n} | {m} | {mode} | {t_m:.1f} | {t_c:.1f} | {t_c / t_m:.2f} | "
                          f"{eff / 1e12:.2f} | {100 * eff / bw:.0f}% | {moved / bw * 1e6:.1f} |", flush=True)
            del sets
        del dense
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, len(shapes), figsize=(5 * len(shapes), 4), squeeze=False)
        for ax, (k, n) in zip(axes[0], shapes):
            for (scheme, kk, nn, mode), pts in results.items():
                if (kk, nn) == (k, n) and mode == ("stream" if args.no_graph else "graph"):
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=scheme)
            ax.axhline(1.0, color="gray", lw=0.8)
            ax.set_xscale("log", base=2)
            ax.set_title(f"K={k}, N={n}")
            ax.set_xlabel("M")
            ax.set_ylabel("speedup over cuBLAS")
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"saved {args.plot}")


if __name__ == "__main__":
    main()
