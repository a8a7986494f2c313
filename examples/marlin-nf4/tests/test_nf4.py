"""The NF4 plugin: contract, plan and compile through marlin-core's fixtures; the reference
quantizer on the CPU; the GEMM on a GPU when a library with NF4 kernels is available."""

import pytest

import marlin_nf4


def test_contract_and_plan(marlin_plugin):
    h = marlin_plugin(marlin_nf4, name="nf4")
    h.check_contract()
    plan = h.plan("8.0,9.0")
    assert {k.scheme for k in plan.kernels} == {"nf4"} and len(plan.kernels) == 2 * 15
    assert {f.name for f in plan.files} == {"sm80_kernel_float16_nf4_float16.cu",
                                           "sm80_kernel_bfloat16_nf4_bfloat16.cu"}
    files = h.emit("8.0")
    assert '#include "marlin_nf4.cuh"' in files["marlin_plugin_formats.h"]
    assert f"{marlin_nf4.NF4.id:#x}ll" in files["marlin_nf4.cuh"]


def test_nf4_id_is_its_own():
    from marlin_core.types import BUILTIN_TYPES
    assert marlin_nf4.NF4.id not in {t.id for t in BUILTIN_TYPES}


def test_kernels_compile(marlin_plugin, tmp_path):
    obj = marlin_plugin(marlin_nf4, name="nf4").compile_kernels(tmp_path, max_kernels=1)
    assert obj.stat().st_size > 0


def test_reference_quantizer_hand_values():
    torch = pytest.importorskip("torch")
    from marlin_nf4.codebook import NF4_VALUES
    from marlin_nf4.quant import quantize_nf4
    w = torch.zeros(64, 2)
    w[0, 0], w[1, 0], w[2, 0] = 2.0, -1.0, 0.15  # absmax 2: -1 -> -0.5 -> code 2 (-0.525); 0.075 -> code 8
    w[5, 1] = -3.0
    r = quantize_nf4(w, torch.float32)
    assert r.scales.tolist() == [[2.0, 3.0]]
    assert r.q[0, 0] == 15 and r.q[1, 0] == 2 and r.q[2, 0] == 8 and r.q[3, 0] == 7 and r.q[5, 1] == 0
    assert r.w_ref[1, 0] == pytest.approx(NF4_VALUES[2] * 2.0)
    assert r.w_ref[5, 1] == -3.0
