"""Run one GEMM case a few times (for ncu / nsys): python profile_case.py SCHEME M N K [GROUP]
(GROUP: 128 by default, -1 per channel)."""

import sys

import torch

from cases import Scheme, activations, make, run_gemm

name, m, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
group = int(sys.argv[5]) if len(sys.argv) > 5 else 128
p = make(Scheme(name, "fp16", group), n, k)
a = activations(m, k, torch.float16)
c = torch.empty(m, n, device="cuda", dtype=torch.float16)
for _ in range(3):
    run_gemm(p, a, c)
torch.cuda.synchronize()
