"""GPU repack kernels against the pure-torch reference packer, bit for bit."""

import pytest
import torch

from cases import library_repack_awq, library_repack_gptq
from marlin_core.runtime import packing


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("kn", [(16, 64), (128, 256), (208, 832)])
@pytest.mark.parametrize("with_perm", [False, True])
def test_repack_gptq_matches_reference(bits, kn, with_perm):
    k, n = kn
    g = torch.Generator().manual_seed(k + n + bits)
    q = torch.randint(0, 1 << bits, (k, n), generator=g, dtype=torch.int32)
    perm = torch.randperm(k, generator=g).to(torch.int32) if with_perm else None
    ref = packing.marlin_pack_reference(q[perm.long()] if with_perm else q, bits)
    out = library_repack_gptq(packing.gptq_pack(q, bits).cuda(), None if perm is None else perm.cuda(), k, n, bits)
    assert torch.equal(out.cpu(), ref)


@pytest.mark.parametrize("kn", [(16, 64), (128, 256), (208, 832)])
def test_repack_awq_matches_reference(kn):
    k, n = kn
    g = torch.Generator().manual_seed(k * n)
    q = torch.randint(0, 16, (k, n), generator=g, dtype=torch.int32)
    out = library_repack_awq(packing.awq_pack(q).cuda(), k, n)
    assert torch.equal(out.cpu(), packing.marlin_pack_reference(q, 4))


def test_reference_packer_on_gpu_matches_cpu():
    q = torch.randint(0, 16, (64, 128), dtype=torch.int32)
    assert torch.equal(packing.marlin_pack_reference(q.cuda(), 4).cpu(), packing.marlin_pack_reference(q, 4))
