"""Dev-only: the SASS instructions with the most warp-stall samples in an ncu source export.

    ncu --import prof.ncu-rep --page source --csv --print-source sass > sass.csv
    python3 csrc/dev/ncu_top.py sass.csv [N]

Prints the top N (default 25) instructions by stall samples with their share, execution count and
the instruction text, then the totals per opcode, to see which part of the K loop waits.
"""

import collections
import csv
import sys


def main() -> None:
    path, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    # newer ncu puts a "Kernel Name" line before the header
    start = next(i for i, line in enumerate(lines) if line.startswith('"Address"'))
    rows = list(csv.DictReader(lines[start:]))
    if not rows:
        sys.exit("ncu_top: no rows in " + path)
    cols = rows[0].keys()
    stall = next(c for c in cols if c.startswith("Warp Stall Sampling (All"))
    execd = next((c for c in cols if c.startswith("Instructions Executed")), None)

    def num(v: str) -> float:
        try:
            return float(v.replace(",", ""))
        except ValueError:
            return 0.0

    total = sum(num(r[stall]) for r in rows) or 1.0
    print(f"stall samples: {total:.0f}")
    for r in sorted(rows, key=lambda r: -num(r[stall]))[:top]:
        ex = num(r[execd]) if execd else 0
        print(f"{100 * num(r[stall]) / total:5.1f}%  exec {ex:10.0f}  {r['Address']}  {r['Source'][:90]}")
    by_op = collections.Counter()
    for r in rows:
        op = r["Source"].split()[0] if r["Source"].split() else "?"
        if op.startswith("@"):
            op = r["Source"].split()[1]
        by_op[op.split(".")[0]] += num(r[stall])
    print("per opcode:", ", ".join(f"{op} {100 * v / total:.1f}%" for op, v in by_op.most_common(12)))


if __name__ == "__main__":
    main()
