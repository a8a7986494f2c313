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


def _gpu_library_with_nf4():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("CUDA not available")
    from marlin_core.runtime import library
    try:
        info = library.built_info()
    except Exception as exc:  # no library built
        pytest.skip(f"libmarlin.so not loadable: {exc}")
    if "nf4" not in info.get("schemes", ""):
        pytest.skip("the loaded libmarlin.so was built without the nf4 scheme")
    return torch


@pytest.mark.parametrize("dtype_name,tol", [("float16", 2e-3), ("bfloat16", 1e-2)])
def test_gemm_matches_reference_on_gpu(dtype_name, tol):
    # tolerances as for the other formats: fp16 / bf16 rounding of A and of the products
    torch = _gpu_library_with_nf4()
    from marlin_core.runtime import ops
    from marlin_nf4.quant import prepare_nf4, quantize_nf4
    dtype = getattr(torch, dtype_name)
    g = torch.Generator(device="cuda").manual_seed(0)
    worst = 0.0
    for n, k in ((256, 1024), (512, 320), (128, 2112)):  # 320 and 2112: K not a multiple of 128
        w = torch.randn(k, n, device="cuda", generator=g)
        q = quantize_nf4(w, dtype)
        layer = prepare_nf4(q)
        for m in (1, 7, 16, 33, 64, 100, 256, 1000):
            a = torch.randn(m, k, device="cuda", dtype=dtype, generator=g)
            out = ops.gemm(a, **layer)
            again = ops.gemm(a, **layer)
            ref = a.float() @ q.w_ref
            rel = ((out.float() - ref).norm() / ref.norm()).item()
            assert torch.isfinite(out).all() and rel < tol, (m, n, k, rel)
            assert torch.equal(out, again)
            worst = max(worst, rel)
    print(f"nf4 {dtype_name}: max relative error {worst:.2e}")
