"""Random valid shapes through the public torch op, for compute-sanitizer memcheck (issue 6):
random M, N (multiple of 64), K (multiple of 128 so every group size divides it), scheme and
dtype; each result is checked against the float32 reference as well.

    compute-sanitizer --tool memcheck --error-exitcode 3 python3 tests/gpu/memcheck_random.py [CASES] [SEED]
Uses the schemes the loaded library was built with, among gptq-int4, awq-int4, gptq-int8, nvfp4.
"""

import random
import sys

import torch

from marlin_core.runtime import library, ops, packing, quant, quant_fp


def prepare(scheme, w, dtype):
    K, N = w.shape
    if scheme in ("gptq-int4", "gptq-int8"):
        bits = 4 if scheme == "gptq-int4" else 8
        q = quant.quantize_gptq(w, bits=bits, group_size=128, dtype=dtype)
        return ops.prepare_gptq(packing.gptq_pack(q.q, bits).cuda(), q.scales.cuda(), K, N, bits), q.w_ref
    if scheme == "awq-int4":
        q = quant.quantize_awq(w, group_size=128, dtype=dtype)
        return ops.prepare_awq(packing.awq_pack(q.q).cuda(), packing.awq_pack(q.zeros).cuda(), q.scales.cuda(), K, N), q.w_ref
    q = quant_fp.quantize_nvfp4(w)
    return ops.prepare_nvfp4(q.q.cuda(), q.scales.cuda(), q.global_scale.cuda(), K, N), q.w_ref


def main():
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    built = library.built_info()["schemes"].split(",")
    schemes = [s for s in ("gptq-int4", "awq-int4", "gptq-int8", "nvfp4") if s in built]
    assert schemes, f"library has none of the schemes this script uses: {built}"
    worst = 0.0
    for i in range(cases):
        scheme, dtype = rng.choice(schemes), rng.choice([torch.float16, torch.bfloat16])
        m, n, k = rng.randint(1, 300), 64 * rng.randint(1, 24), 128 * rng.randint(1, 24)
        w = torch.randn(k, n, device="cuda") * 0.05
        layer, w_ref = prepare(scheme, w, dtype)
        a = torch.randn(m, k, device="cuda", dtype=dtype)
        out = ops.gemm(a, **layer)
        torch.cuda.synchronize()
        ref = a.float() @ w_ref.cuda()
        rel = ((out.float() - ref).norm() / ref.norm()).item()
        tol = 2e-3 if dtype == torch.float16 else 1e-2
        print(f"{i:2d} {scheme:10s} {str(dtype)[6:]:9s} M={m:4d} N={n:5d} K={k:5d} rel_err={rel:.2e}")
        assert rel < tol and torch.isfinite(out).all(), (scheme, m, n, k, rel)
        worst = max(worst, rel)
    print(f"random memcheck grid done: {cases} cases, worst rel_err {worst:.2e}")


if __name__ == "__main__":
    main()
