"""Cold-process wall time of `marlin gen` on the default 5-arch list (1302 kernels, 26 files).

Each run is a fresh `marlin` process, as CMake runs it. Prints a table of median and min over
--repeat runs for: a first run into an empty directory, a re-run with nothing to change, and a
dry run. Usage: python benchmarks/bench_gen.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ARCHS = "7.5,8.0,8.6,8.9,9.0"
TARGET_S = 0.3


def marlin() -> str:
    exe = shutil.which("marlin") or str(Path(sys.executable).with_name("marlin"))
    if not Path(exe).exists():
        sys.exit("bench_gen: the `marlin` command is not installed (see README quick start)")
    return exe


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    exe = marlin()
    rows = {"first run (empty dir)": [], "re-run (nothing changes)": [], "dry run": []}
    with tempfile.TemporaryDirectory() as tmp:
        timed([exe, "--version"])  # warm the OS file cache once
        for i in range(args.repeat):
            out = Path(tmp) / f"o{i}"
            rows["first run (empty dir)"].append(timed([exe, "gen", "-a", ARCHS, "-o", str(out)]))
            rows["re-run (nothing changes)"].append(timed([exe, "gen", "-a", ARCHS, "-o", str(out)]))
            rows["dry run"].append(timed([exe, "gen", "-a", ARCHS, "-o", str(out), "--dry-run"]))
        baseline = [timed([sys.executable, "-c", "pass"]) for _ in range(args.repeat)]
    print(f"marlin gen --arch {ARCHS}: 1302 kernels, 26 files; {args.repeat} cold processes each")
    print(f"{'case':<28} {'median s':>9} {'min s':>7} {'vs 0.3 s target':>16}")
    for name, ts in rows.items():
        med = statistics.median(ts)
        print(f"{name:<28} {med:>9.3f} {min(ts):>7.3f} {med / TARGET_S:>15.2f}x")
    print(f"{'(python -c pass)':<28} {statistics.median(baseline):>9.3f} {min(baseline):>7.3f}")


if __name__ == "__main__":
    main()
