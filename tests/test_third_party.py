"""A third-party plugin package (tests/example_plugin), installed as a distribution with an
entry point, shows up everywhere: plugins list, plan, files, selector, manifest."""

import json
import shutil
import subprocess

import pytest

from support import TESTS, run_marlin


def test_example_plugin_end_to_end(example_site, tmp_path):
    listing = json.loads(run_marlin("plugins", "list", "--json").stdout)
    ex = next(d for d in listing if d["name"] == "example")
    assert ex["distribution"] == "marlin-example" and ex["version"] == "0.3.0"
    assert ex["schemes"] == ["example-u4b7"] and ex["status"] == "ok"
    assert ex["hooks"] == ["marlin_check_combo", "marlin_cuda_headers", "marlin_quant_configs",
                           "marlin_scalar_types", "marlin_selector_clauses"]

    out = tmp_path / "gen"
    r = run_marlin("gen", "--arch", "7.5,8.0", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    # 2 activations x 2 groups x (m 0.5, 1, 2) x one thread config; vetoed on sm75
    assert summary["kernels"] == 366 + 732 + 12
    assert "example-u4b7 is not tuned for Turing (example)" in summary["pruned"]

    manifest = json.loads((out / "manifest.json").read_text())
    mine = [k for k in manifest["kernels"] if k["scheme"] == "example-u4b7"]
    assert len(mine) == 12 and {k["plugin"] for k in mine} == {"example"}
    assert {k["file"] for k in mine} == {"sm80_kernel_float16_u4b7_float16.cu", "sm80_kernel_bfloat16_u4b7_bfloat16.cu"}
    cu = (out / "sm80_kernel_float16_u4b7_float16.cu").read_text()
    assert cu.count("template __global__ void Marlin<") == 6 and "/* kU4B7 */" in cu
    assert '#include "example_u4b7.cuh"  // from plugin example' in (out / "marlin_plugin_formats.h").read_text()
    assert "struct WeightFormat<" in (out / "example_u4b7.cuh").read_text()
    assert '#include "marlin_plugin_formats.h"' in cu
    assert "example_u4b7.cuh" in manifest["files"]
    selector = (out / "kernel_selector.h").read_text()
    assert selector.count("/* kU4B7 */, marlin::type_id::kFloat16") == 6
    assert "kU4B7 weights need 16-bit activations" in selector


def test_uninstalled_plugin_leaves_nothing(example_site, tmp_path):
    out = tmp_path / "gen"
    assert run_marlin("gen", "--arch", "8.0", "--out", str(out)).returncode == 0
    assert (out / "sm80_kernel_float16_u4b7_float16.cu").exists()
    # uninstall: the distribution and its package leave site-packages
    for path in example_site.iterdir():
        shutil.rmtree(path)
    r = run_marlin("gen", "--arch", "8.0", "--out", str(out), "--json")
    assert "sm80_kernel_float16_u4b7_float16.cu" in json.loads(r.stdout)["removed"]
    assert not list(out.glob("*u4b7*"))
    assert "kU4B7" not in (out / "kernel_selector.h").read_text()
    assert "example" not in (out / "manifest.json").read_text()
    assert not (out / "example_u4b7.cuh").exists()
    assert "example_u4b7" not in (out / "marlin_plugin_formats.h").read_text()


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not on PATH")
def test_example_kernels_compile_with_the_plugin_header(example_site, tmp_path):
    out = tmp_path / "gen"
    assert run_marlin("gen", "--arch", "8.0", "--scheme", "example-u4b7", "--out", str(out)).returncode == 0
    src = out / "sm80_kernel_float16_u4b7_float16.cu"
    proc = subprocess.run(["nvcc", "-std=c++17", "--expt-relaxed-constexpr", "-static-global-template-stub=false",
                           "-gencode", "arch=compute_80,code=sm_80", f"-I{TESTS.parent / 'csrc' / 'include'}",
                           f"-I{out}", "-c", str(src), "-o", str(tmp_path / "k.o")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
