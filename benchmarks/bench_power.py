"""SM clock and board power while one GEMM runs back to back: marlin vs torch.matmul (cuBLAS).

For each M, each kernel runs alone for --seconds (calls rotating through enough weight copies to
defeat the L2, as in bench_gemm.py) while `nvidia-smi` samples the GPU every 50 ms. Per kernel:
time per call, median SM clock, median board power, the share of samples with the software
power cap active (throttle reason 0x4), and the energy per call (median power x time). The last
column is marlin's energy per call over cuBLAS's.

Why: a kernel held at the power cap runs at the clock the cap allows, so its speed is the power
limit over its energy per GEMM. Spreading the same work over idle SMs (stream-K) then gains
little. On the H100 (700 W) our GEMMs run at the cap from M = 64 on, cuBLAS's from M = 128
(docs/performance.md, fourteenth session).

Usage: python benchmarks/bench_power.py [--scheme gptq4-g128] [--shape 8192x28672]
       [--ms 1,16,64,256,1024] [--seconds 2] [--dtype fp16]
Needs: torch with CUDA, nvidia-smi, and libmarlin.so (MARLIN_LIBRARY or a default build dir).
Power readings are nvidia-smi's `power.draw` (averaged by the driver), so the energy column is
an estimate; compare rows of one run. Calls are eager: a kernel shorter than the Python call
(~10 us) runs at the host's pace, so use it on layers whose kernels take longer than that.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

QUERY = "timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active"
SW_POWER_CAP = 0x4  # nvmlClocksThrottleReasonSwPowerCap
SETTLE_S = 0.3  # samples this soon after a kernel starts are left out


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the epoch (nvidia-smi prints local time, as time.time() reads it)
    sm_mhz: int
    power_w: float
    throttle: int


@dataclass(frozen=True)
class Summary:
    samples: int
    sm_mhz: float  # medians
    power_w: float
    capped: float  # share of samples with the software power cap active


def parse_samples(text: str) -> list[Sample]:
    """nvidia-smi --query-gpu=QUERY --format=csv,noheader,nounits lines -> samples (lines that do
    not parse, e.g. "[N/A]" readings, are skipped)."""
    out = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            continue
        try:
            t = datetime.datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
            out.append(Sample(t, int(float(parts[1])), float(parts[2]), int(parts[3], 16)))
        except ValueError:
            continue
    return out


def summarize(samples: list[Sample], t0: float, t1: float) -> Summary | None:
    """Medians over the samples in [t0 + SETTLE_S, t1]; None if there are none."""
    sel = [s for s in samples if t0 + SETTLE_S <= s.t <= t1]
    if not sel:
        return None
    return Summary(len(sel), statistics.median(s.sm_mhz for s in sel), statistics.median(s.power_w for s in sel),
                   sum(1 for s in sel if s.throttle & SW_POWER_CAP) / len(sel))


def table(windows: list[tuple[int, str, float, float, float]], samples: list[Sample]) -> list[str]:
    """The markdown table: one row per (M, kernel, start, end, us per call) window, marlin's row
    before cuBLAS's; the cuBLAS row carries marlin's energy per call over its own."""
    out = ["| M | kernel | us per call | SM MHz (median) | power W (median) | power-capped samples | mJ per call "
           "| marlin energy / cuBLAS |", "|---|---|---|---|---|---|---|---|"]
    energy = {}
    for m, name, t0, t1, us in windows:
        s = summarize(samples, t0, t1)
        if s is None:
            out.append(f"| {m} | {name} | {us:.1f} | - | - | - | - | |")
            continue
        energy[(m, name)] = s.power_w * us * 1e-3  # W x us = uJ; mJ
        ratio = ""
        if name == "cuBLAS" and (m, "marlin") in energy:
            ratio = f"{energy[(m, 'marlin')] / energy[(m, name)]:.2f}"
        out.append(f"| {m} | {name} | {us:.1f} | {s.sm_mhz:.0f} | {s.power_w:.0f} | {100 * s.capped:.0f}% | "
                   f"{energy[(m, name)]:.2f} | {ratio} |")
    return out


def run_for(calls, seconds: float) -> tuple[float, float, float]:
    """Run the callables round-robin for about `seconds`; (start, end, microseconds per call)."""
    import torch

    for c in calls:
        c()
    torch.cuda.synchronize()
    time.sleep(0.5)  # let the previous kernel's load fade from the samples
    n = 0
    t0 = time.time()
    while time.time() - t0 < seconds:
        for c in calls:
            c()
        n += len(calls)
        if n % (8 * len(calls)) == 0:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    t1 = time.time()
    return t0, t1, (t1 - t0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scheme", default="gptq4-g128")
    ap.add_argument("--shape", default="8192x28672", help="KxN")
    ap.add_argument("--ms", default="1,16,64,256,1024")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--dtype", default="fp16", choices=["fp16", "bf16"])
    args = ap.parse_args()
    try:
        k, n = (int(v) for v in args.shape.split("x"))
        ms = [int(x) for x in args.ms.split(",")]
    except ValueError:
        sys.exit(f"bench_power: bad --shape {args.shape!r} or --ms {args.ms!r}: expected KxN and a list of integers")
    if args.seconds <= SETTLE_S:
        sys.exit(f"bench_power: --seconds must be above {SETTLE_S}")
    smi = shutil.which("nvidia-smi")
    if smi is None:
        sys.exit("bench_power: needs nvidia-smi on PATH")
    import torch

    if not torch.cuda.is_available():
        sys.exit("bench_power: needs a CUDA GPU")
    from bench_gemm import dense_weights, make_weights, weight_sets
    from marlin_core.runtime import ops

    dtype = torch.float16 if args.dtype == "fp16" else torch.bfloat16
    kw, wbytes = make_weights(args.scheme, k, n, dtype)
    if kw is None:
        sys.exit(f"bench_power: {args.scheme} needs --dtype bf16")
    sets = weight_sets(kw, wbytes)
    dense = dense_weights(k, n, dtype)
    proc = subprocess.Popen([smi, f"--query-gpu={QUERY}", "--format=csv,noheader,nounits", "-lms", "50"],
                            stdout=subprocess.PIPE, text=True)
    windows = []
    try:
        for m in ms:
            a = torch.randn(m, k, device="cuda", dtype=dtype)
            windows.append((m, "marlin", *run_for([lambda s=s: ops.gemm(a, **s) for s in sets], args.seconds)))
            windows.append((m, "cuBLAS", *run_for([lambda d=d: a @ d for d in dense], args.seconds)))
        time.sleep(0.2)
    finally:
        proc.terminate()
    samples = parse_samples(proc.communicate()[0])
    print(f"device: {torch.cuda.get_device_name()}; {args.scheme} {args.dtype}, K x N = {k} x {n}; "
          f"{args.seconds:g} s per kernel")
    print("\n".join(table(windows, samples)))


if __name__ == "__main__":
    main()
