"""Stream-K grids (MARLIN_STREAM_K=2 / 3, docs/kernel.md): the (tile, K tile) units of a chunk of
<= 16 rows are dealt out evenly to the blocks, so a block may work parts of two or three tiles,
each tile summed from the partials of its blocks. Off by default (slower on the H100 so far), so
each knob value runs in its own process (the knob is read once). Every case is checked against
A @ dequant(B) in fp32 and for output left unwritten: the 8-row tile, the 1-m-block
(128,128,256) tile, the 2-m-block wgmma tile (9..16 rows on large N), K not a multiple of the K
tile, tiles spread over more than two blocks, bf16, 8-bit and per-channel weights."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))

# (scheme, m, n, k, run_gemm overrides), run by cases.run_case
CASES = [
    ("gptq4/fp16/128", 1, 28672, 2048, {}),
    ("gptq4/fp16/128", 8, 4096, 4096, {}),
    ("gptq4/fp16/128", 16, 4096, 4096, {}),
    ("gptq4/fp16/128", 13, 14336, 4096, {}),
    ("gptq4/fp16/-1", 5, 1024, 1040, {}),
    ("gptq4/fp16/128", 3, 512, 1024, {}),
    ("gptq4/bf16/128", 16, 14336, 2048, {}),
    ("gptq8/fp16/128", 4, 8192, 2048, {}),
    ("gptq4/fp16/-1", 12, 14336, 2048, {}),
    # blocks whose runs cross many tiles: 2 K tiles per tile (fewer than the ring's 3 ahead), a
    # partial last K tile before each crossing, zero points and group scales of the next tile
    ("gptq4/fp16/128", 2, 28672, 256, {}),
    ("gptq4/fp16/-1", 3, 28672, 1040, {}),
    ("awq/fp16/128", 7, 8192, 2048, {}),
    ("gptq4/bf16/64", 1, 16384, 1024, {}),
]

_RUN = r"""
import sys
sys.path.insert(0, sys.argv[1])
from cases import run_case
from test_stream_k import CASES
for c in CASES:
    run_case(*c)
print("ok", len(CASES))
"""


@pytest.mark.parametrize("knob", ["2", "3"])
def test_stream_k_grids_are_right(knob):
    env = dict(os.environ, MARLIN_STREAM_K=knob)
    proc = subprocess.run([sys.executable, "-c", _RUN, HERE], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["ok", str(len(CASES))]
