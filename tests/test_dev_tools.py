"""The kernel dev tools of docs/kernel-dev.md: the micro-benchmark (csrc/dev/kbench.cu) still
builds against csrc/include, alone and with the K-loop probes of docs/patches/kbench-probes.patch,
so the numbers in docs/performance.md can be reproduced (running it needs a GPU);
csrc/dev/ncu_top.py reads an ncu source export; the benchmarks' pure parts."""

import importlib
import shutil
import subprocess
import sys

import pytest

from support import TESTS
from marlin_core.testing import NVCC_FLAGS

NVCC = shutil.which("nvcc")
CSRC = TESTS.parent / "csrc"


def _benchmark(name: str):
    """A module of benchmarks/ (not a package), imported by name."""
    sys.path.insert(0, str(TESTS.parent / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
def test_kbench_compiles(tmp_path):
    exe = tmp_path / "kbench"
    proc = subprocess.run([NVCC, *NVCC_FLAGS, "-gencode", "arch=compute_90a,code=sm_90a", f"-I{CSRC / 'include'}",
                           str(CSRC / "dev" / "kbench.cu"), "-o", str(exe)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert exe.stat().st_size > 0


PROBES = TESTS.parent / "docs" / "patches" / "kbench-probes.patch"
PROBE_MACROS = ("KB_NODQ", "KB_NOBFETCH", "KB_NOAFETCH", "KB_NOMMA", "KB_NOSTART", "KB_NOWGMMA", "KB_NOSTORE",
                "KB_L2AHEAD")


def _probed_headers(tmp_path):
    """A copy of csrc/include with the probes patch applied (the patch must follow the template)."""
    shutil.copytree(CSRC / "include", tmp_path / "csrc" / "include")
    proc = subprocess.run(["git", "apply", str(PROBES)], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "csrc" / "include"


@pytest.mark.skipif(shutil.which("git") is None, reason="git not on PATH")
def test_kbench_probes_patch_applies_to_the_headers(tmp_path):
    text = (_probed_headers(tmp_path) / "marlin" / "marlin_template.cuh").read_text()
    assert all(m in text for m in PROBE_MACROS)


@pytest.mark.skipif(NVCC is None or shutil.which("git") is None, reason="nvcc or git not on PATH")
def test_kbench_builds_with_every_probe(tmp_path):
    include = _probed_headers(tmp_path)
    exe = tmp_path / "kbench"
    proc = subprocess.run([NVCC, *NVCC_FLAGS, "-gencode", "arch=compute_90a,code=sm_90a",
                           *(f"-D{m}=1" for m in PROBE_MACROS), f"-I{include}",
                           str(CSRC / "dev" / "kbench.cu"), "-o", str(exe)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]


NCU_EXPORT = """\
"Kernel Name","void marlin::Marlin<...>(marlin::KernelParams)",
"Address","Source","Warp Stall Sampling (All Samples)","Warp Stall Sampling (Not-issued Samples)","Instructions Executed"
"0x10","      LOP3.LUT R1, R2, 0xf, R3, 0xea, !PT","30","20","1,024"
"0x20","      HGMMA.64x64x16.F32 R24, R152, gdesc[UR16], R24","60","50","512"
"0x30","@P0   BRA 0x10","10","5","512"
"""


def test_ncu_top_ranks_instructions_by_stall_samples(tmp_path):
    csv = tmp_path / "sass.csv"
    csv.write_text(NCU_EXPORT)
    proc = subprocess.run([sys.executable, str(CSRC / "dev" / "ncu_top.py"), str(csv), "2"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "stall samples: 100"
    assert "60.0%" in lines[1] and "HGMMA" in lines[1] and "exec        512" in lines[1]
    assert "30.0%" in lines[2] and "LOP3" in lines[2]
    assert len(lines) == 4  # top 2, then the per-opcode line
    assert lines[3] == "per opcode: HGMMA 60.0%, LOP3 30.0%, BRA 10.0%"


def test_bench_gemm_parses_dispatch_overrides():
    pytest.importorskip("torch")
    bench_gemm = _benchmark("bench_gemm")
    assert bench_gemm.parse_gemm_args("max_slices=4,thread_n=128,use_fp32_reduce=0") == {
        "max_slices": 4, "thread_n": 128, "use_fp32_reduce": False}
    assert bench_gemm.parse_gemm_args("") == {}
    for bad in ("slices=4", "max_slices", "max_slices=four"):
        with pytest.raises(SystemExit, match="bad --gemm-args item"):
            bench_gemm.parse_gemm_args(bad)


def test_bench_power_parses_and_summarizes_samples():
    # nvidia-smi's CSV (noheader, nounits): timestamp, SM MHz, watts, throttle reasons; an "[N/A]"
    # reading is skipped. The summary keeps the samples from 0.3 s after the window's start.
    bench_power = _benchmark("bench_power")
    text = "\n".join([
        "2026/12/07 11:40:00.000, 1980, 500.00, 0x0000000000000000",
        "2026/12/07 11:40:00.400, 1800, 690.50, 0x0000000000000004",
        "2026/12/07 11:40:00.450, [N/A], 690.00, 0x0000000000000004",
        "2026/12/07 11:40:00.500, 1700, 700.00, 0x0000000000000004",
        "2026/12/07 11:40:00.600, 1900, 650.00, 0x0000000000000000",
        "2026/12/07 11:40:05.000, 1980, 100.00, 0x0000000000000000",
    ])
    samples = bench_power.parse_samples(text)
    assert [s.sm_mhz for s in samples] == [1980, 1800, 1700, 1900, 1980]
    assert samples[1].throttle & bench_power.SW_POWER_CAP and not samples[0].throttle
    t0 = samples[0].t
    assert samples[2].t - t0 == pytest.approx(0.5)
    got = bench_power.summarize(samples, t0, t0 + 1.0)
    assert got == bench_power.Summary(3, 1800, 690.5, pytest.approx(2 / 3))
    assert bench_power.summarize(samples, t0 + 10, t0 + 11) is None


def test_bench_power_table_gives_energy_per_call_and_ratio():
    # marlin 100 us at 600 W (60 mJ), cuBLAS 50 us at 700 W (35 mJ): marlin spends 1.71x the
    # energy per call; power-capped share from the throttle bit; a window without samples: dashes
    bench_power = _benchmark("bench_power")
    S = bench_power.Sample
    samples = [S(10.5, 1800, 600.0, 4), S(10.6, 1800, 600.0, 4), S(20.5, 1500, 700.0, 4), S(20.6, 1500, 700.0, 0)]
    rows = bench_power.table([(256, "marlin", 10.0, 11.0, 100.0), (256, "cuBLAS", 20.0, 21.0, 50.0),
                              (1, "marlin", 30.0, 31.0, 5.0)], samples)
    assert rows[2] == "| 256 | marlin | 100.0 | 1800 | 600 | 100% | 60.00 |  |"
    assert rows[3] == "| 256 | cuBLAS | 50.0 | 1500 | 700 | 50% | 35.00 | 1.71 |"
    assert rows[4] == "| 1 | marlin | 5.0 | - | - | - | - | |"
