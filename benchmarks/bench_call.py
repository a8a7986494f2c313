"""Per-call host cost of an eager marlin GEMM vs torch.matmul (cuBLAS) on a CUDA GPU.

For K = N = 4096 fp16, M in {1, 16}, GPTQ-4 g128 and AWQ-4 g128: each row times ``--calls``
back-to-back calls of one callable with time.perf_counter, then one synchronize:

- host us/call: the loop alone (what the Python caller pays per call; the kernels queue up);
- wall us/call: the loop plus the synchronize;
- GPU us/call: CUDA events around the same loop (kernel time plus any launch gaps).

Rows: ``ops.gemm`` (the eager fast path), ``torch.ops.marlin.gemm`` (the custom op through the
dispatcher, what ops.gemm used to cost), ``torch.matmul`` with the dense fp16 weight, and each
row's host time as a ratio of torch.matmul's (same run). Medians over ``--repeats`` runs, under
torch.inference_mode(). Prints a markdown table.

Usage: python benchmarks/bench_call.py [--calls 200] [--repeats 7]
Needs: torch with CUDA, and libmarlin.so (MARLIN_LIBRARY or a default build dir).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gemm import make_weights

K = N = 4096
MS = (1, 16)
SCHEMES = ("gptq4-g128", "awq4-g128")


def time_calls(fn, calls: int, repeats: int) -> tuple[float, float, float]:
    """Median (host, wall, GPU) microseconds per call of ``calls`` back-to-back ``fn()``."""
    for _ in range(10):
        fn()
    torch.cuda.synchronize()
    host, wall, gpu = [], [], []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        t1 = time.perf_counter()
        end.record()
        torch.cuda.synchronize()
        t2 = time.perf_counter()
        host.append((t1 - t0) * 1e6 / calls)
        wall.append((t2 - t0) * 1e6 / calls)
        gpu.append(start.elapsed_time(end) * 1e3 / calls)
    return statistics.median(host), statistics.median(wall), statistics.median(gpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200, help="back-to-back calls per timed run")
    ap.add_argument("--repeats", type=int, default=7, help="timed runs per row (median)")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench_call: needs a CUDA GPU")
    from marlin_core.runtime import launch, library, ops

    try:
        library.load()
    except library.MarlinError as e:
        sys.exit(f"bench_call: {e}")

    dtype = torch.float16
    dense = torch.randn(K, N, device="cuda", dtype=dtype)
    print(f"device: {torch.cuda.get_device_name()}; K = N = {K}, fp16; {args.calls} calls per run, "
          f"median of {args.repeats}; torch {torch.__version__}")
    print("| scheme | M | call | host us/call | wall us/call | GPU us/call | host time / torch.matmul's |")
    print("|---|---|---|---|---|---|---|")
    with torch.inference_mode():
        for scheme in SCHEMES:
            kw, _ = make_weights(scheme, K, N, dtype)
            op_args = (kw["b"], kw["scales"], kw.get("zp"), kw.get("g_idx"), kw.get("perm"), None,
                       ops.type_id(kw["b_type"]), N, False, True, -1, -1, -1, -1)
            for m in MS:
                a = torch.randn(m, K, device="cuda", dtype=dtype)
                if not launch.eager(a, *op_args[:5]):
                    sys.exit("bench_call: ops.gemm would not take the eager fast path here")
                rows = (
                    ("ops.gemm", lambda a=a, kw=kw: ops.gemm(a, **kw)),
                    ("torch.ops.marlin.gemm", lambda a=a, op_args=op_args: torch.ops.marlin.gemm(a, *op_args)),
                    ("torch.matmul", lambda a=a: torch.matmul(a, dense)),
                )
                timed = [(name, *time_calls(fn, args.calls, args.repeats)) for name, fn in rows]
                ref = timed[-1][1]  # torch.matmul's host us/call, measured in this run
                for name, host, wall, gpu in timed:
                    print(f"| {scheme} | {m} | {name} | {host:.1f} | {wall:.1f} | {gpu:.1f} | {host / ref:.2f} |",
                          flush=True)


if __name__ == "__main__":
    main()
