"""Generated files compile with nvcc against csrc/ (sm_80), and the selector links to them."""

import shutil
import subprocess

import pytest

from support import TESTS
from marlin_core import api, hookimpl
from marlin_core.arch import parse_arch
from marlin_core.emit import emit
from marlin_core.testing import NVCC_FLAGS
from marlin_core.spec import QuantConfig, ThreadConfig
from marlin_core.write import write_outputs

NVCC = shutil.which("nvcc")
INCLUDE = TESTS.parent / "csrc" / "include"
FLAGS = [*NVCC_FLAGS, "-gencode", "arch=compute_80,code=sm_80"]


class FewKernels:
    """GPTQ-4 and AWQ-4 fp16, group 128, three tile shapes: a few instantiations of each."""

    @hookimpl
    def marlin_quant_configs(self):
        small = dict(m_blocks=(0.5, 1, 2), thread_configs=(ThreadConfig(64, 128, 128),))
        return [QuantConfig("t-gptq", "kU4B8", ("kFloat16",), (8,), **small),
                QuantConfig("t-awq", "kU4", ("kFloat16",), (8,), **small)]


SELECT_MAIN = r"""
#include <cstdio>
#include "kernel_selector.h"
int main() {
  using namespace marlin;
  KernelKey key{type_id::kFloat16, type_id::kU4B8, type_id::kFloat16, type_id::kFloat16,
                128, 1, 8, 4, true, 4, 8, false};
  const char* err = nullptr;
  if (!select_kernel(key, &err)) { std::printf("missing: %s\n", err); return 1; }
  key.group_blocks = 4;
  if (select_kernel(key, &err)) return 2;
  std::printf("ok %s\n", err);
  return 0;
}
"""


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
def test_generated_files_compile_and_link(tmp_path):
    plan = api.make_plan("8.0", loaded=api.load(extra=[("few", FewKernels())], entry_points=False))
    assert len(plan.kernels) == 6
    out = tmp_path / "gen"
    write_outputs(out, emit(plan))
    (tmp_path / "main.cu").write_text(SELECT_MAIN)
    sources = sorted(str(p) for p in out.glob("*.cu")) + [str(tmp_path / "main.cu")]
    exe = tmp_path / "select"
    proc = subprocess.run([NVCC, *FLAGS, f"-I{INCLUDE}", f"-I{out}", *sources, "-o", str(exe)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout
    assert "ok no marlin kernel was generated" in run.stdout
    assert "archs 8.0 with schemes t-gptq,t-awq" in run.stdout


class WgmmaTile:
    """GPTQ-4 fp16 group 128 with the (64,256,256) tile and 4 m blocks: a wgmma_shape() kernel."""

    @hookimpl
    def marlin_quant_configs(self):
        return [QuantConfig("t-wg", "kU4B8", ("kFloat16",), (8,), m_blocks=(4,),
                            thread_configs=(ThreadConfig(64, 256, 256),))]


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
def test_hopper_build_takes_the_wgmma_path(tmp_path):
    """`--arch 9.0` compiles for sm_90a, where the (64,256,256) tile multiplies with wgmma; the
    same file for plain compute_90 (no arch-specific instructions) keeps mma.sync."""
    plan = api.make_plan("9.0", loaded=api.load(extra=[("wg", WgmmaTile())], entry_points=False))
    out = tmp_path / "gen"
    write_outputs(out, emit(plan))
    (src,) = out.glob("*.cu")
    (sass,) = parse_arch("9.0").gencode
    virtual = sass.split("arch=")[1].split(",")[0]
    assert virtual == "compute_90a"
    found = {}
    for arch in (virtual, "compute_90"):
        ptx = tmp_path / f"{arch}.ptx"
        proc = subprocess.run([NVCC, *NVCC_FLAGS, f"--gpu-architecture={arch}", "-ptx", f"-I{INCLUDE}", f"-I{out}",
                               str(src), "-o", str(ptx)], capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        text = ptx.read_text()
        found[arch] = (text.count("wgmma.mma_async"), text.count("mma.sync"))
    assert found[virtual][0] > 0 and found[virtual][1] == 0, found
    assert found["compute_90"][0] == 0 and found["compute_90"][1] > 0, found


class WgmmaGroups:
    """The 4-m-block wgmma tile for GPTQ-4 and AWQ-4 (zero points), grouped and per channel."""

    @hookimpl
    def marlin_quant_configs(self):
        wg = dict(m_blocks=(4,), thread_configs=(ThreadConfig(64, 256, 256),))
        return [QuantConfig("t-gptq", "kU4B8", ("kFloat16",), (8, -1), **wg),
                QuantConfig("t-awq", "kU4", ("kFloat16",), (8, -1), **wg)]


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
def test_wgmma_kernels_keep_their_wgmmas_asynchronous(tmp_path):
    """ptxas serializes a kernel's wgmmas (warning C7515) when other instructions write their
    accumulators inside the pipeline, which costs speed without any test failing on a GPU. The
    per-channel scale-after-the-loop path once did this to the AWQ kernel (docs/kernel.md)."""
    plan = api.make_plan("9.0", loaded=api.load(extra=[("wg", WgmmaGroups())], entry_points=False))
    assert len(plan.kernels) == 4
    out = tmp_path / "gen"
    write_outputs(out, emit(plan))
    (gencode,) = parse_arch("9.0").gencode
    log = ""
    for src in sorted(out.glob("*.cu")):  # one file per weight type
        proc = subprocess.run([NVCC, *NVCC_FLAGS, gencode, "-Xptxas", "-v", "-cubin", f"-I{INCLUDE}",
                               f"-I{out}", str(src), "-o", str(tmp_path / f"{src.stem}.cubin")],
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        log += proc.stderr
    assert log.count("Compiling entry function") == 4, log[-3000:]
    serialized = [line for line in log.splitlines() if "C7515" in line]
    assert not serialized, "\n".join(serialized)


class Fp8EightRows:
    """FP8 e4m3 weights, group 128, fp16 and bf16 activations: the 8-row tile only."""

    @hookimpl
    def marlin_quant_configs(self):
        return [QuantConfig("t-fp8", "kFE4M3fn", ("kFloat16", "kBFloat16"), (8,), m_blocks=(0.5,),
                            thread_configs=(ThreadConfig(128, 128, 256),))]


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
def test_fp8_weights_take_the_hardware_conversion_from_sm89(tmp_path):
    """With fp16 activations, FP8 weights are converted by `cvt.rn.f16x2.e4m3x2` where the arch
    has it (8.9 and up: dequant.cuh dequant_fp8_cvt) and by the bit trick before; bf16 always takes
    the bit trick (the instruction gives fp16)."""
    plan = api.make_plan("8.0", loaded=api.load(extra=[("f8", Fp8EightRows())], entry_points=False))
    out = tmp_path / "gen"
    write_outputs(out, emit(plan))
    found = {}
    for src in sorted(out.glob("*.cu")):
        for arch in ("compute_80", "compute_89", "compute_90a"):
            ptx = tmp_path / f"{src.stem}.{arch}.ptx"
            proc = subprocess.run([NVCC, *NVCC_FLAGS, f"--gpu-architecture={arch}", "-ptx", f"-I{INCLUDE}",
                                   f"-I{out}", str(src), "-o", str(ptx)], capture_output=True, text=True, timeout=900)
            assert proc.returncode == 0, proc.stderr[-3000:]
            found[("bf16" if "bfloat16" in src.name else "fp16", arch)] = ptx.read_text().count("e4m3x2")
    assert found[("fp16", "compute_89")] > 0 and found[("fp16", "compute_90a")] > 0, found
    assert found[("fp16", "compute_80")] == 0, found
    assert all(found[("bf16", a)] == 0 for a in ("compute_80", "compute_89", "compute_90a")), found
