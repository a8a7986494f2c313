"""scripts/cubin_diff.py: per-kernel comparison of two cubins built with nvcc."""

import shutil
import subprocess
import sys

import pytest

from support import TESTS

NVCC = shutil.which("nvcc")
SCRIPT = TESTS.parent / "scripts" / "cubin_diff.py"

KERNELS = r"""
__global__ void scale(float* x, float s) { x[threadIdx.x] *= s; }
__global__ void shift(float* x, float s) { x[threadIdx.x] += %s; }
"""


def cubin(tmp_path, name, body):
    src = tmp_path / f"{name}.cu"
    src.write_text(body)
    out = tmp_path / f"{name}.cubin"
    proc = subprocess.run([NVCC, "-cubin", "-O3", "-arch=sm_80", str(src), "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
def test_identical_and_changed_kernels(tmp_path):
    a = cubin(tmp_path, "a", KERNELS % "s")
    same = cubin(tmp_path, "same", KERNELS % "s")
    changed = cubin(tmp_path, "changed", KERNELS % "2.0f * s")
    ok = run(a, same)
    assert ok.returncode == 0 and ok.stdout.strip().endswith("2 of 2 kernels identical")
    diff = run(a, changed)
    assert diff.returncode == 1
    lines = diff.stdout.splitlines()
    assert any(line.startswith("_Z5shiftPff:") and "instructions differ" in line for line in lines)
    assert not any(line.startswith("_Z5scalePff:") for line in lines)
    assert lines[-1] == "1 of 2 kernels identical"


def test_bad_input_is_one_line(tmp_path):
    text = tmp_path / "x.cubin"
    text.write_text("not an ELF file")
    proc = run(text, text)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "not a 64-bit little-endian ELF" in proc.stderr
    assert run(text).returncode == 2
