"""Wall time of building the full kernel set for one arch with `marlin build` (CMake + Ninja),
one file per (family, a, b, c) against files split with --max-kernels-per-file.

Run it on a many-core build machine (the GPU machine has 16 cores); each variant builds in a
fresh directory. Prints a table: variant, files, wall seconds, speedup over one file per type,
and from each build's ninja log the kernel files' compile seconds (sum and largest) with the
compile phase's lower bound on `--jobs` cores, max(sum / jobs, largest): the unsplit build can
never beat its largest file, the split one never its total work spread evenly.
Usage: python benchmarks/bench_build.py [--arch 9.0] [--split 12,24] [--jobs N] [--scheme S ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def marlin() -> str:
    return shutil.which("marlin") or str(Path(sys.executable).with_name("marlin"))


def count_files(arch: str, split: int, schemes: list[str]) -> tuple[int, int]:
    args = [marlin(), "kernels", "--arch", arch, "--json", "--max-kernels-per-file", str(split)]
    for s in schemes:
        args += ["--scheme", s]
    d = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    return d["kernels"], len(d["files"])


def parse_ninja_log(text: str) -> dict[str, float]:
    """Seconds per output of a .ninja_log (v5 and later: start ms, end ms, mtime, output, hash;
    the last entry of an output counts)."""
    times = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        start, end, _mtime, output = line.split("\t")[:4]
        times[output] = (int(end) - int(start)) / 1000
    return times


def compile_stats(times: dict[str, float], jobs: int) -> tuple[float, float, float]:
    """(sum, largest, lower bound on `jobs` cores) of the kernel files' compile seconds."""
    kernels = [t for out, t in times.items() if out.endswith(".cu.o") and "_kernel_" in Path(out).name]
    if not kernels:
        return 0.0, 0.0, 0.0
    total, largest = sum(kernels), max(kernels)
    return total, largest, max(total / jobs, largest)


def build(arch: str, split: int, jobs: int, schemes: list[str], root: Path) -> float:
    build_dir = root / f"split{split}"
    args = [marlin(), "build", "--arch", arch, "-B", str(build_dir), "--jobs", str(jobs),
            "--max-kernels-per-file", str(split)]
    for s in schemes:
        args += ["--scheme", s]
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"bench_build: build failed for split={split}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="9.0")
    ap.add_argument("--split", default="12,24", help="comma list of --max-kernels-per-file values")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--scheme", action="append", default=[])
    ap.add_argument("--keep", help="build under this directory instead of a temp one")
    args = ap.parse_args()
    splits = [0] + [int(x) for x in args.split.split(",") if x]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        for split in splits:
            kernels, files = count_files(args.arch, split, args.scheme)
            wall = build(args.arch, split, args.jobs, args.scheme, root)
            log = root / f"split{split}" / ".ninja_log"
            stats = compile_stats(parse_ninja_log(log.read_text()) if log.exists() else {}, args.jobs)
            rows.append((split, kernels, files, wall, stats))
            print(f"  built split={split}: {files} files in {wall:.1f} s", file=sys.stderr, flush=True)
    base = rows[0][3]
    print(f"marlin build --arch {args.arch}, {args.jobs} parallel jobs, fresh build dirs")
    print(f"{'variant':<28} {'kernels':>7} {'files':>6} {'wall s':>8} {'speedup':>8} "
          f"{'compile sum s':>13} {'largest s':>9} {'bound s':>8}")
    for split, kernels, files, wall, (total, largest, bound) in rows:
        name = "one file per (a, b, c)" if split == 0 else f"--max-kernels-per-file {split}"
        print(f"{name:<28} {kernels:>7} {files:>6} {wall:>8.1f} {base / wall:>7.2f}x "
              f"{total:>13.1f} {largest:>9.1f} {bound:>8.1f}")
    bounds = [r[4][2] for r in rows]
    if bounds[0] and min(bounds[1:], default=0):
        print(f"compile phase: at most {bounds[0] / min(bounds[1:]):.2f}x faster split on {args.jobs} cores "
              "(unsplit bound / best split bound; configure, generate and link do not shrink)")


if __name__ == "__main__":
    main()
