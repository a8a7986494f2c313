"""nvcc smoke test of the 8-bit-activation kernels (no GPU needed): a few kernels of each format
compile for their arch family (int8: sm_80, sm75 family: sm_75, fp8: sm_89), and the PTX shows
the intended tensor-core instructions and arch guards: m16n8k32 s8 on sm80, four m8n8k16 on
sm75, m16n8k32 e4m3 only from compute_89 (an fp8 instance built for compute_80 is a trap)."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1].parent
NVCC = shutil.which("nvcc")
FLAGS = ["-std=c++17", "-O1", "--expt-relaxed-constexpr", "-static-global-template-stub=false", "-Xcompiler", "-fPIC",
         f"-I{ROOT / 'csrc' / 'include'}"]

INT8 = [  # a, b, c, s, threads, m_blocks, n_blocks, k_blocks, stages, group_blocks
    ("kS8", "kU4", "kFloat16", "kFloat16", 256, 1, 8, 8, 4, -1),
    ("kS8", "kU4B8", "kBFloat16", "kBFloat16", 128, 3, 8, 4, 4, 2),
]
SM75 = [("kS8", "kU4B8", "kFloat16", "kFloat16", 128, 2, 4, 8, 2, 8)]
FP8 = [
    ("kFE4M3fn", "kU4", "kBFloat16", "kBFloat16", 128, 2, 8, 4, 4, 4),
    ("kFE4M3fn", "kU4B8", "kFloat16", "kFloat16", 256, 4, 16, 4, 4, -1),
    ("kFE4M3fn", "kFE2M1f", "kBFloat16", "kFE8M0fnu", 256, 1, 8, 8, 4, 2),
]

MMA_S8 = "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32"
MMA_S8_SM75 = "mma.sync.aligned.m8n8k16.row.col.s32.s8.s8.s32"
MMA_E4M3 = "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32"


def _source(path: Path, kernels) -> Path:
    lines = ['#include "marlin/marlin_template.cuh"', "namespace marlin {", "using namespace type_id;"]
    for a, b, c, s, th, mb, nb, kb, st, gb in kernels:
        lines.append(f"template __global__ void Marlin<{a}, {b}, {c}, {s}, {th}, {mb}, {nb}, {kb}, false, {st}, {gb}, "
                     f"false>(MARLIN_KERNEL_PARAMS);")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
def test_a8_kernels_compile_for_their_archs(tmp_path):
    int8 = _source(tmp_path / "int8.cu", INT8)
    sm75 = _source(tmp_path / "sm75.cu", SM75)
    fp8 = _source(tmp_path / "fp8.cu", FP8)
    jobs = {
        # SASS: ptxas accepts the instructions for the family's arch
        "int8.o": [int8, "-c", "-gencode", "arch=compute_80,code=sm_80"],
        "sm75.o": [sm75, "-c", "-gencode", "arch=compute_75,code=sm_75"],
        "fp8.o": [fp8, "-c", "-gencode", "arch=compute_89,code=sm_89"],
        # PTX only, to read the instructions
        "int8.ptx": [int8, "-ptx", "-arch=compute_80"],
        "sm75.ptx": [sm75, "-ptx", "-arch=compute_75"],
        "fp8.ptx": [fp8, "-ptx", "-arch=compute_89"],
        "fp8_sm80.ptx": [fp8, "-ptx", "-arch=compute_80"],
    }
    procs = {out: subprocess.Popen([NVCC, *FLAGS, f"-I{tmp_path}", *map(str, args), "-o", str(tmp_path / out)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for out, args in jobs.items()}
    for out, p in procs.items():
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, f"{out}: {err[-3000:]}"
    ptx = {name: (tmp_path / name).read_text() for name in jobs if name.endswith(".ptx")}
    assert MMA_S8 in ptx["int8.ptx"] and MMA_E4M3 not in ptx["int8.ptx"]
    assert MMA_S8_SM75 in ptx["sm75.ptx"] and MMA_S8 not in ptx["sm75.ptx"]
    assert MMA_E4M3 in ptx["fp8.ptx"]
    # below sm89 the fp8 bodies are compiled out: every fp8 kernel is a trap
    assert "mma.sync" not in ptx["fp8_sm80.ptx"] and "trap" in ptx["fp8_sm80.ptx"]
