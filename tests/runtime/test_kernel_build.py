"""nvcc smoke test of the issue-3 kernel body and the C ABI (no GPU needed): a few kernels of
each scheme plus an unsupported (fp8 / 8-bit activation) instantiation compile for sm_80, link
with csrc/src into a shared library, and the library answers through ctypes: ABI version,
built info, and clear errors for requests it must refuse before touching a GPU."""

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NVCC = shutil.which("nvcc")
FLAGS = ["-std=c++17", "-O1", "--expt-relaxed-constexpr", "-static-global-template-stub=false",
         "-Xcompiler", "-fPIC", "-gencode", "arch=compute_80,code=sm_80"]

KERNELS = [
    # a, b, threads, m_blocks, n_blocks, k_blocks, m8, stages, group_blocks, zp_float
    ("kFloat16", "kU4B8", 256, 1, 8, 8, "true", 4, 8, "false"),
    ("kBFloat16", "kU4", 256, 4, 16, 4, "false", 4, 2, "false"),
    ("kFloat16", "kU4", 128, 2, 8, 4, "false", 4, 4, "true"),
    ("kBFloat16", "kU8B128", 128, 3, 4, 8, "false", 4, 0, "false"),
    ("kFloat16", "kU8B128", 128, 1, 8, 4, "false", 2, -1, "false"),
]

# floating-point weights (issue 4 part A), with their scale types
FP_KERNELS = [
    # a, b, s, threads, m_blocks, n_blocks, k_blocks, m8, stages, group_blocks
    ("kFloat16", "kFE4M3fn", "kFloat16", 256, 1, 8, 8, "true", 4, -1),
    ("kBFloat16", "kFE4M3fn", "kBFloat16", 128, 2, 8, 4, "false", 4, 8),
    ("kFloat16", "kFE2M1f", "kFE4M3fn", 256, 4, 16, 4, "false", 4, 1),
    ("kBFloat16", "kFE2M1f", "kFE4M3fn", 128, 1, 4, 8, "false", 4, 1),
    ("kBFloat16", "kFE2M1f", "kFE8M0fnu", 256, 3, 16, 4, "false", 4, 2),
]
# the sm75 family's FP instances (2 stages, fp16), compiled for compute_75
FP_KERNELS_SM75 = [
    ("kFloat16", "kFE4M3fn", "kFloat16", 128, 2, 8, 4, "false", 2, 8),
    ("kFloat16", "kFE2M1f", "kFE4M3fn", 256, 1, 8, 8, "true", 2, 1),
]


def _fp_instances(kernels) -> list[str]:
    return [f"template __global__ void Marlin<{a}, {b}, {a}, {s}, {th}, {mb}, {nb}, {kb}, {m8}, {st}, {gb}, "
            f"false>(MARLIN_KERNEL_PARAMS);" for a, b, s, th, mb, nb, kb, m8, st, gb in kernels]

SELECTOR = r"""
#pragma once
#include "marlin/kernel.h"
namespace marlin {
inline const char* built_arch_list() { return "8.0"; }
inline const char* built_schemes() { return "test-few"; }
inline KernelFn select_kernel(const KernelKey& k, const char** err) {
  using namespace type_id;
  if (k.a_type == kFloat16 && k.b_type == kU4B8 && k.threads == 256 && k.thread_m_blocks == 1 &&
      k.thread_n_blocks == 8 && k.thread_k_blocks == 8 && k.m_block_size_8 && k.stages == 4 &&
      k.group_blocks == 8 && !k.is_zp_float)
    return &Marlin<kFloat16, kU4B8, kFloat16, kFloat16, 256, 1, 8, 8, true, 4, 8, false>;
  if (err) *err = "not in the test selector";
  return nullptr;
}
}  // namespace marlin
"""


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
def test_kernels_compile_and_c_abi(tmp_path):
    gen = tmp_path / "gen"
    gen.mkdir()
    lines = ['#include "marlin/marlin_template.cuh"', "namespace marlin {", "using namespace type_id;"]
    for a, b, th, mb, nb, kb, m8, st, gb, zf in KERNELS:
        lines.append(f"template __global__ void Marlin<{a}, {b}, {a}, {a}, {th}, {mb}, {nb}, {kb}, {m8}, {st}, "
                     f"{gb}, {zf}>(MARLIN_KERNEL_PARAMS);")
    lines += _fp_instances(FP_KERNELS)
    # later-issue combinations must still compile (to a trap)
    lines.append("template __global__ void Marlin<kS8, kU4B8, kFloat16, kFloat16, 128, 2, 8, 4, false, 4, -1, "
                 "false>(MARLIN_KERNEL_PARAMS);")
    lines.append("template __global__ void Marlin<kFE4M3fn, kFE2M1f, kBFloat16, kFE8M0fnu, 256, 1, 8, 8, false, 2, "
                 "2, false>(MARLIN_KERNEL_PARAMS);")
    lines.append("}")
    (gen / "kernels.cu").write_text("\n".join(lines) + "\n")
    (gen / "kernel_selector.h").write_text(SELECTOR)
    sources = [str(gen / "kernels.cu")] + sorted(str(p) for p in (ROOT / "csrc" / "src").glob("*.cu"))
    lib = tmp_path / "libmarlin_test.so"
    proc = subprocess.run([NVCC, *FLAGS, f"-I{ROOT / 'csrc' / 'include'}", f"-I{gen}", "-shared", *sources,
                           "-o", str(lib)], capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]

    nm = subprocess.run(["nm", "-D", "--defined-only", str(lib)], capture_output=True, text=True)
    for sym in ("marlin_gemm", "marlin_workspace_size", "marlin_repack_gptq", "marlin_repack_awq",
                "marlin_permute_cols", "marlin_last_error", "marlin_built_arch_list", "marlin_abi_version"):
        assert f" T {sym}\n" in nm.stdout, sym

    from marlin_core.runtime import library

    dll = ctypes.CDLL(str(lib))
    library._declare(dll)
    assert dll.marlin_abi_version() == library.ABI_VERSION
    assert dll.marlin_built_arch_list() == b"8.0"
    assert dll.marlin_built_schemes() == b"test-few"
    from marlin_core.types import BUILTIN_TYPES

    TYPE_ID = {t.name: t.id for t in BUILTIN_TYPES}

    args = library.GemmArgs(m=4, n=256, k=512, num_groups=1, a_type=TYPE_ID["kFE4M3fn"], b_type=TYPE_ID["kU8B128"],
                            c_type=TYPE_ID["kFloat16"], s_type=TYPE_ID["kFloat16"], thread_k=-1, thread_n=-1,
                            max_m_blocks=-1, max_slices=-1)
    assert dll.marlin_gemm(ctypes.byref(args), None) != 0
    assert b"unsupported type combination a=fe4m3fn" in dll.marlin_last_error()
    # floating-point weights: MXFP4 is bf16-only, NVFP4 needs its global scale
    args.a_type = args.c_type = TYPE_ID["kFloat16"]
    args.b_type, args.s_type = TYPE_ID["kFE2M1f"], TYPE_ID["kFE8M0fnu"]
    assert dll.marlin_gemm(ctypes.byref(args), None) != 0
    assert b"unsupported type combination a=float16 b=fe2m1f c=float16 s=fe8m0fnu" in dll.marlin_last_error()
    args.s_type = TYPE_ID["kFE4M3fn"]
    assert dll.marlin_gemm(ctypes.byref(args), None) != 0
    assert b"needs global_scale" in dll.marlin_last_error()
    args.b_type = TYPE_ID["kU4B8"]
    args.a_type = args.c_type = args.s_type = TYPE_ID["kFloat16"]
    args.n = 250
    assert dll.marlin_gemm(ctypes.byref(args), None) != 0
    assert b"n = 250 must be a multiple of 64" in dll.marlin_last_error()
    args.n, args.k = 256, 520
    assert dll.marlin_gemm(ctypes.byref(args), None) != 0
    assert b"k = 520 must be a multiple of 16" in dll.marlin_last_error()
    assert dll.marlin_repack_gptq(None, None, None, 16, 64, 5, None) != 0
    assert b"num_bits = 5" in dll.marlin_last_error()


@pytest.mark.skipif(NVCC is None, reason="nvcc not on PATH")
def test_fp_kernels_compile_for_sm75(tmp_path):
    """The sm75 family's FP8 / NVFP4 kernels (2 stages, synchronous copies, m16n8k8) compile."""
    src = tmp_path / "k75.cu"
    src.write_text("\n".join(['#include "marlin/marlin_template.cuh"', "namespace marlin {", "using namespace type_id;",
                              *_fp_instances(FP_KERNELS_SM75), "}"]) + "\n")
    flags = list(FLAGS)
    flags[flags.index("-gencode") + 1] = "arch=compute_75,code=compute_75"
    proc = subprocess.run([NVCC, *flags, f"-I{ROOT / 'csrc' / 'include'}", "-c", str(src), "-o",
                           str(tmp_path / "k75.o")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
