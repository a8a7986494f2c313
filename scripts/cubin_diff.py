#!/usr/bin/env python3
"""Compare the machine code of two cubins kernel by kernel, without a GPU or cuobjdump.

Kernel refactors that should not change what runs (moving code into a helper, renaming) can be
checked on a build machine: compile the same translation unit against the old and the new
headers with `nvcc -cubin`, then

    python scripts/cubin_diff.py old.cubin new.cubin

prints, per kernel (`.text.<mangled name>` section), whether its instructions are byte-identical,
and for the ones that differ how many 16-byte instructions differ and where. Exit status 0 when
every kernel is identical, 1 otherwise, 2 on bad input. (Identical PTX is not enough: PTX that
differs only in virtual register numbers can still give different SASS; docs/kernel-dev.md.)
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

INSTRUCTION_BYTES = 16  # sm_70 and newer


def text_sections(path: Path) -> dict[str, bytes]:
    """The `.text.*` sections of an ELF64 little-endian file (a cubin), by name."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path}: not a 64-bit little-endian ELF file (a cubin from nvcc -cubin)")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_at = headers[shstrndx][4]

    def name(h) -> str:
        start = names_at + h[0]
        return data[start:data.index(b"\0", start)].decode()

    return {name(h): data[h[4]:h[4] + h[5]] for h in headers if name(h).startswith(".text.")}


def differing_instructions(a: bytes, b: bytes) -> list[int]:
    """Indices of the 16-byte instructions that differ (the longer tail counts as differing)."""
    n = max(len(a), len(b)) // INSTRUCTION_BYTES
    return [i for i in range(n) if a[i * INSTRUCTION_BYTES:(i + 1) * INSTRUCTION_BYTES]
            != b[i * INSTRUCTION_BYTES:(i + 1) * INSTRUCTION_BYTES]]


def compare(old: dict[str, bytes], new: dict[str, bytes]) -> list[str]:
    """One line per kernel that is not identical in both (missing, or different code)."""
    lines = []
    for name in sorted(set(old) | set(new)):
        kernel = name.removeprefix(".text.")
        if name not in new or name not in old:
            lines.append(f"{kernel}: only in {'old' if name in old else 'new'}")
        elif old[name] != new[name]:
            diff = differing_instructions(old[name], new[name])
            lines.append(f"{kernel}: {len(diff)} of {len(old[name]) // INSTRUCTION_BYTES} instructions differ "
                         f"(indices {diff[0]}..{diff[-1]})")
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: cubin_diff.py OLD.cubin NEW.cubin", file=sys.stderr)
        return 2
    try:
        old, new = (text_sections(Path(p)) for p in argv)
    except (OSError, ValueError) as e:
        print(f"cubin_diff: {e}", file=sys.stderr)
        return 2
    lines = compare(old, new)
    for line in lines:
        print(line)
    print(f"{len(set(old) & set(new)) - sum('instructions differ' in x for x in lines)} of {len(set(old) | set(new))} "
          f"kernels identical")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
