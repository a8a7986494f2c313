"""Cost of finding a kernel: the generated kernel_selector.h (a nested switch) against a flat
if-chain over the same kernels (the shape of the reference generator's selector), on the CPU.

Generates the 5-arch default set, writes a C++ harness that includes the selector (with
__global__ defined away, so g++ builds it as host code), and times lookups of every kernel in
a shuffled order plus misses. Prints a table: ns per lookup for both and their ratio.
Usage: python benchmarks/bench_dispatch.py [--arch LIST] [--iters N]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from marlin_core.emit import KEY_FIELDS
from marlin_core.types import BUILTIN_NAMES

ROOT = Path(__file__).resolve().parent.parent
INCLUDE = ROOT / "csrc" / "include"

HARNESS = r"""
#define __global__
#include <chrono>
#include <cstdio>
#include <vector>
#include "marlin/kernel.h"
namespace marlin {
template <ScalarTypeId a, ScalarTypeId b, ScalarTypeId c, ScalarTypeId s, int t, int mb, int nb,
          int kb, bool m8, int st, int g, bool zf>
void Marlin(MARLIN_KERNEL_PARAMS) { (void)params; }
}
#include "kernel_selector.h"
namespace linear {
using namespace marlin;
__attribute__((noinline)) KernelFn select_kernel(const KernelKey& key, const char** err) {
%(chain)s
  if (err) *err = "not found";
  return nullptr;
}
}
template <class F>
double time_ns(F&& f, const std::vector<marlin::KernelKey>& keys, int iters, long* sink) {
  auto t0 = std::chrono::steady_clock::now();
  long acc = 0;
  for (int it = 0; it < iters; ++it)
    for (const auto& k : keys) acc += reinterpret_cast<long>(f(k));
  auto t1 = std::chrono::steady_clock::now();
  *sink += acc;
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / (double(iters) * keys.size());
}
__attribute__((noinline)) marlin::KernelFn tree(const marlin::KernelKey& k) {
  const char* e; return marlin::select_kernel(k, &e);
}
__attribute__((noinline)) marlin::KernelFn flat(const marlin::KernelKey& k) {
  const char* e; return linear::select_kernel(k, &e);
}
int main() {
  using namespace marlin;
  std::vector<KernelKey> hits = {%(hits)s};
  std::vector<KernelKey> misses = {%(misses)s};
  for (const auto& k : hits) if (tree(k) != flat(k) || !tree(k)) { std::printf("MISMATCH\n"); return 1; }
  for (const auto& k : misses) if (tree(k) || flat(k)) { std::printf("MISMATCH\n"); return 1; }
  long sink = 0;
  const int iters = %(iters)d;
  for (int rep = 0; rep < 2; ++rep) {  // the first pass warms caches and branch predictors
    double th = time_ns(tree, hits, iters, &sink), fh = time_ns(flat, hits, iters, &sink);
    double tm = time_ns(tree, misses, iters, &sink), fm = time_ns(flat, misses, iters, &sink);
    if (rep) std::printf("%%.2f %%.2f %%.2f %%.2f %%ld\n", th, fh, tm, fm, sink & 1);
  }
}
"""


def cpp_values(k: dict) -> list[str]:
    """The manifest record's template arguments as C++ expressions, in template order."""
    def one(field: str, v) -> str:
        if field in KEY_FIELDS[:4]:
            return f"type_id::{v}"
        return ("true" if v else "false") if isinstance(v, bool) else str(v)
    return [one(f, k[f]) for f in KEY_FIELDS]


def cpp_key(k: dict) -> str:
    return "KernelKey{" + ", ".join(cpp_values(k)) + "}"


def chain(kernels: list[dict]) -> str:
    """One `if` per kernel comparing all 12 fields, in manifest order."""
    lines = []
    for k in kernels:
        vals = cpp_values(k)
        conds = " && ".join(f"key.{f} == {v}" for f, v in zip(KEY_FIELDS, vals))
        lines.append(f"  if ({conds}) return &Marlin<{', '.join(vals)}>;")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="7.5,8.0,8.6,8.9,9.0")
    ap.add_argument("--iters", type=int, default=200)
    args = ap.parse_args()
    cxx = shutil.which("g++") or sys.exit("bench_dispatch: needs g++")
    marlin = shutil.which("marlin") or str(Path(sys.executable).with_name("marlin"))
    with tempfile.TemporaryDirectory() as tmp:
        gen = Path(tmp) / "gen"
        subprocess.run([marlin, "gen", "--arch", args.arch, "--out", str(gen), "-q"], check=True)
        kernels = json.loads((gen / "manifest.json").read_text())["kernels"]
        if not {k[f] for k in kernels for f in KEY_FIELDS[:4]} <= BUILTIN_NAMES:
            sys.exit("bench_dispatch: only the built-in scalar types are supported here")
        rng = random.Random(0)
        hits = [cpp_key(k) for k in kernels]
        rng.shuffle(hits)
        misses = []
        for k in rng.sample(kernels, 200):  # real keys with an off tile: no kernel matches
            misses.append(cpp_key(dict(k, thread_n_blocks=12)))
        src = Path(tmp) / "bench.cpp"
        src.write_text(HARNESS % {"chain": chain(kernels), "hits": ", ".join(hits),
                                  "misses": ", ".join(misses), "iters": args.iters})
        exe = Path(tmp) / "bench"
        subprocess.run([cxx, "-O2", "-std=c++17", f"-I{INCLUDE}", f"-I{gen}", str(src), "-o", str(exe)],
                       check=True)
        out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    th, fh, tm, fm = map(float, out[:4])
    print(f"kernel lookup on the CPU, {len(kernels)} kernels ({args.arch}), g++ -O2, ns per lookup")
    print(f"{'case':<22} {'selector (tree)':>16} {'flat if-chain':>14} {'speedup':>8}")
    print(f"{'hit (every kernel)':<22} {th:>16.2f} {fh:>14.2f} {fh / th:>7.1f}x")
    print(f"{'miss (no such tile)':<22} {tm:>16.2f} {fm:>14.2f} {fm / tm:>7.1f}x")


if __name__ == "__main__":
    main()
