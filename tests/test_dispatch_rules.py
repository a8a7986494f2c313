"""The host dispatch's choice rules (csrc/src/dispatch.cu), compiled by nvcc into a host-only
program and run without a GPU: whether the 4-m-block wgmma kernel takes its 128-row mode for a
chunk and how finely each mode splits K, the 8-row tile's split and pick, which kernels count as
wgmma kernels, how a grid is launched (programmatic dependent
launch, the early release and its shared-memory padding, the split-K sum shared by a tile's
blocks), and when a chunk of <= 16 rows takes the 2-m-block wgmma tile. The expected choices are the ones the H100 measurements favoured
(docs/performance.md)."""

import os
import shutil
import subprocess

import pytest

from support import TESTS

NVCC = shutil.which("nvcc")
CSRC = TESTS.parent / "csrc"

MAIN = r"""
#include <cstdio>
#include <string>
#include "dispatch.h"
namespace marlin { namespace host {
std::string& last_error() { static std::string s; return s; }
} }
using namespace marlin;
using namespace marlin::host;
int main() {
  DeviceInfo dev;
  dev.sms = 132;  // H100 SXM
  const struct { int rows, n, k; } cases[] = {
      {128, 28672, 8192}, {256, 28672, 8192}, {1024, 28672, 8192}, {1024, 4096, 14336},
      {1024, 4096, 4096}, {128, 4096, 4096}, {1024, 14336, 4096}, {128, 4096, 14336}, {256, 4096, 14336},
      {256, 4096, 4096}, {128, 14336, 4096}, {256, 14336, 4096}};
  for (const auto& c : cases) {
    const int k_iters = c.k / 64, n_tiles = c.n / 256;
    const int tiles = (c.rows + 63) / 64 * n_tiles, tiles_w = (c.rows + 127) / 128 * n_tiles;
    const int sl = split_slices(tiles, k_iters, partial_slot_bytes(4, 16, true), dev.sms, 0, dev);
    const int sl_w = split_slices(tiles_w, k_iters, partial_slot_bytes(8, 16, true), dev.sms, 0, dev, true);
    std::printf("%dx%dx%d %d\n", c.rows, c.n, c.k, int(prefer_wide(tiles, sl, tiles_w, sl_w, k_iters, dev)));
    std::printf("slices%dx%dx%d %d/%d\n", c.rows, c.n, c.k, sl, sl_w);
  }
  dev.smem_per_sm = 233472;  // H100: 228 KiB per SM, 1 KiB reserved per block, 227 KiB opt-in
  dev.smem_reserved = 1024;
  dev.max_smem_optin = 232448;
  const struct { int pdl_ok, blocks, slices, smem; } plans[] = {
      {1, 132, 4, 40000}, {1, 128, 1, 150000}, {1, 133, 7, 40000}, {0, 132, 2, 40000}};
  for (const auto& c : plans) {
    const LaunchPlan pl = launch_plan(c.pdl_ok, c.blocks, c.slices, c.smem, dev);
    std::printf("plan%d/%d/%d/%d %d,%d,%d,%d\n", c.pdl_ok, c.blocks, c.slices, c.smem, int(pl.pdl),
                int(pl.release_early), pl.smem, int(pl.reduce_together));
  }
  for (const int rows : {16, 9, 8, 1, 17})
    for (const int t : {112, 66, 65, 56, 45, 44, 16})
      for (const int k : {64, 132, 224})  // K tiles of 64: K = 4096, 8448, 14336
        for (const int f : {0, 1})
          std::printf("smallwg%d/%d/%d/%d %d\n", rows, t, k, f, int(prefer_wgmma_small_m(rows, t, k, f, dev)));
  // stream-K grids: rows, tiles, K tiles per tile, blocks per SM, partial bytes
  const struct { int rows, tiles, k_iters, per_sm; size_t slot; } sks[] = {
      {1, 224, 64, 2, 4096}, {16, 112, 128, 1, 32768}, {17, 112, 128, 1, 32768}, {1, 2, 64, 2, 4096},
      {1, 224, 64, 4, 4096}, {16, 112, 128, 2, 65536}};
  for (const auto& c : sks)
    std::printf("sk%d/%d/%d/%d/%zu %d\n", c.rows, c.tiles, c.k_iters, c.per_sm, c.slot,
                stream_k_blocks(c.rows, c.tiles, c.k_iters, c.per_sm, c.slot, dev));
  // the 8-row tile's split: tiles, slices from choose_candidate, K tiles, max_slices
  const int m8s[][4] = {{112, 1, 32, 0}, {66, 1, 32, 0}, {65, 2, 32, 0}, {132, 1, 32, 0}, {32, 4, 112, 0},
                        {112, 1, 32, 1}, {112, 1, 1, 0}, {224, 1, 64, 0}};
  for (const auto& c : m8s)
    std::printf("m8s%d/%d/%d/%d %d\n", c[0], c[1], c[2], c[3], m8_slices(c[0], c[1], c[2], c[3], dev));
  // the pick among the 8-row tiles of 4096 x 14336 (M <= 8): (128,128,256) 112 tiles, (64,128,128)
  // 112, (128,64,128) 224, K = 4096
  struct Cand { KernelKey key; int tiles; };
  const Cand m8c[] = {{KernelKey{0, 0, 0, 0, 256, 1, 8, 8, true, 4, 8, false}, 112},
                      {KernelKey{0, 0, 0, 0, 128, 1, 8, 4, true, 4, 8, false}, 112},
                      {KernelKey{0, 0, 0, 0, 128, 1, 4, 8, true, 4, 8, false}, 224}};
  for (const bool m8 : {false, true}) {
    int sl = 0;
    const int pick = choose_candidate(m8c, 3, 4096, true, dev.sms, 0, dev, &sl, m8);
    std::printf("m8pick%d %d/%d\n", int(m8), pick, sl);
  }
  const int archs[][2] = {{90, 90}, {90, 75}, {90, 89}, {89, 89}, {80, 80}};  // binary, PTX
  for (const auto& a : archs) std::printf("arch%d/%d %d\n", a[0], a[1], int(wgmma_arch(a[0], a[1])));
  return 0;
}
"""


@pytest.fixture(scope="module")
def rules_exe(tmp_path_factory):
    if NVCC is None:
        pytest.skip("nvcc not on PATH")
    d = tmp_path_factory.mktemp("rules")
    (d / "main.cu").write_text(MAIN)
    exe = d / "rules"
    proc = subprocess.run([NVCC, "-std=c++17", f"-I{CSRC / 'include'}", f"-I{CSRC / 'src'}", str(d / "main.cu"),
                           str(CSRC / "src" / "dispatch.cu"), "-o", str(exe)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return exe


KNOBS = ("MARLIN_WIDE_M", "MARLIN_PDL", "MARLIN_SMALL_M_WGMMA", "MARLIN_REDUCE_TOGETHER", "MARLIN_STREAM_K")


def run(exe, wide_m=None, pdl=None, small=None, together=None, stream_k=None):
    env = {k: v for k, v in os.environ.items() if k not in KNOBS}
    if stream_k is not None:
        env["MARLIN_STREAM_K"] = stream_k
    if together is not None:
        env["MARLIN_REDUCE_TOGETHER"] = together
    if small is not None:
        env["MARLIN_SMALL_M_WGMMA"] = small
    if wide_m is not None:
        env["MARLIN_WIDE_M"] = wide_m
    if pdl is not None:
        env["MARLIN_PDL"] = pdl
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, env=env, check=True).stdout
    return dict(line.split() for line in out.splitlines())


def test_wgmma_needs_sm90_ptx(rules_exe):
    # sm_90a machine code (binary 90 from PTX 90) has the wgmma bodies; compute_75 / compute_89
    # PTX that the driver JIT-compiles on the H100 reports binary 90 too, and has not
    got = run(rules_exe)
    assert {k: v for k, v in got.items() if k.startswith("arch")} == {
        "arch90/90": "1", "arch90/75": "0", "arch90/89": "0", "arch89/89": "0", "arch80/80": "0"}


def test_wide_mode_choices(rules_exe):
    got = {k: v for k, v in run(rules_exe).items() if k[0].isdigit()}
    # 224 / 448 / 1792 tiles of 64 rows on 132 SMs: the wide mode's half as many tiles win
    # (H100, graph rows: 168 -> 135 us, 298 -> 277, 1068 -> 898); 14336 x 4096 and 4096 x 4096 at
    # M = 1024 (257 -> 222, 79 -> 70); 4096 x 4096 at M = 128 / 256 is 32 / 64 tiles that split-K
    # already spreads over 128 blocks, where the wide mode's 8 / 4 slices of 8 / 16 K tiles lose
    # to their partials (thirteenth session: 17.1-17.9 against 19.2-19.5 us; level at M = 256);
    # 4096 x 14336 at M = 1024 (896 tiles: 7 waves against 4 wide ones) since the wide mode's
    # twelfth-session speedup (MARLIN_WIDE_M=0 -> 2: GPTQ-4 269-270 -> 246-247 us, NVFP4 308-309 ->
    # 264-265). Thirteenth session, with the wide mode's own partial room: deep K (14336 x 4096,
    # 224 K tiles) at M = 128 / 256 takes 16 / 32 wide tiles in 8 / 4 slices (39.2-41.6 -> 36.4-36.6
    # us, 72.4-74.7 -> 61.5-64.0), while 4096 x 14336 at M = 128 (2 slices of 32 K tiles against
    # 112 64-row tiles unsplit) stays (39.9-40.1 against 42.1-42.8).
    assert got == {"128x28672x8192": "1", "256x28672x8192": "1", "1024x28672x8192": "1",
                   "1024x4096x14336": "1", "1024x4096x4096": "1", "128x4096x4096": "0",
                   "1024x14336x4096": "1", "128x4096x14336": "1", "256x4096x14336": "1",
                   "256x4096x4096": "0", "128x14336x4096": "0", "256x14336x4096": "1"}


@pytest.mark.parametrize("knob,want", [("0", "0"), ("2", "1")])
def test_wide_mode_knob(rules_exe, knob, want):
    assert {v for k, v in run(rules_exe, knob).items() if k[0].isdigit()} == {want}


def test_wide_mode_slices(rules_exe):
    # split-K factors (64-row / wide): the wide mode's 128 KB partials fit 8 slices of 16 tiles
    # (16 MB, within kWidePartialFloats per SM), which kMaxPartialFloats alone held to 4 and 2
    got = {k[6:]: v for k, v in run(rules_exe).items() if k.startswith("slices")}
    assert got["128x4096x14336"] == "4/8" and got["256x4096x14336"] == "2/4"
    assert got["128x4096x4096"] == "4/8" and got["128x14336x4096"] == "1/2"
    assert got["1024x28672x8192"] == "1/1"


def test_m8_slices(rules_exe):
    # two slices where one leaves between half and all of the 132 SMs idle (112 tiles of 128
    # columns: 4096 x 14336); grids already split or already covering the SMs keep their split
    # (14336 x 4096: 32 tiles x 8 were slower than x 4); a caller's max_slices = 1 and a single K
    # tile win
    got = {k[3:]: v for k, v in run(rules_exe).items() if k.startswith("m8s")}
    assert got == {"112/1/32/0": "2", "66/1/32/0": "2", "65/2/32/0": "2", "132/1/32/0": "1",
                   "32/4/112/0": "4", "112/1/32/1": "1", "112/1/1/0": "1", "224/1/64/0": "1"}


def test_m8_pick(rules_exe):
    # 4096 x 14336 at M <= 8: unsplit, only the (128,64,128) tile's 224 blocks reach every SM; with
    # the 8-row split rule (4-bit weights) the (128,128,256) tile's 2 x 112 do too and win by
    # priority (H100: GPTQ-4 g128 M = 8 19.9-20.0 -> 18.2-19.1 us, AWQ-4 22.2-22.6 -> 20.1-20.2)
    got = {k: v for k, v in run(rules_exe).items() if k.startswith("m8pick")}
    assert got == {"m8pick0": "2/1", "m8pick1": "0/2"}


def test_one_block_per_sm_smem():
    # test_launch_plan's padding on the H100: blocks per SM = floor(smem per SM / (dynamic smem +
    # reserved)); at 115713 bytes one block fits, one byte less lets a second one in
    per_sm, reserved, pad = 233472, 1024, 115713
    assert per_sm // (pad + reserved) == 1 and per_sm // (pad - 1 + reserved) == 2


@pytest.mark.parametrize("knob,want", [
    # default: grids of at most one block per SM release the next kernel after the K loop, padded
    # to one block per SM (233472 / 2 - 1024 + 1 bytes); a kernel that needs more keeps its own;
    # 133 blocks on 132 SMs and kernels without sm_90 PTX do not. The last field
    # (reduce_together) is the split-K rule of test_reduce_together, independent of PDL.
    (None, {"plan1/132/4/40000": "1,1,115713,1", "plan1/128/1/150000": "1,1,150000,0",
            "plan1/133/7/40000": "1,0,40000,0", "plan0/132/2/40000": "0,0,40000,1"}),
    ("1", {"plan1/132/4/40000": "1,0,40000,1", "plan1/128/1/150000": "1,0,150000,0",
           "plan1/133/7/40000": "1,0,40000,0", "plan0/132/2/40000": "0,0,40000,1"}),
    ("0", {"plan1/132/4/40000": "0,0,40000,1", "plan1/128/1/150000": "0,0,150000,0",
           "plan1/133/7/40000": "0,0,40000,0", "plan0/132/2/40000": "0,0,40000,1"}),
])
def test_launch_plan(rules_exe, knob, want):
    assert {k: v for k, v in run(rules_exe, pdl=knob).items() if k.startswith("plan")} == want


@pytest.mark.parametrize("knob", ["0", "1"])
def test_reduce_together(rules_exe, knob):
    # split grids (slices > 1) of at most one block per SM share each tile's sum among its blocks;
    # unsplit grids have nothing to sum, and 133 blocks on 132 SMs would wait on a second wave;
    # MARLIN_REDUCE_TOGETHER=0 keeps the last-arrival sum everywhere
    got = {k: v.split(",")[-1] for k, v in run(rules_exe, together=knob).items() if k.startswith("plan")}
    on = knob == "1"
    assert got == {"plan1/132/4/40000": str(int(on)), "plan1/128/1/150000": "0", "plan1/133/7/40000": "0",
                   "plan0/132/2/40000": str(int(on))}


def _small_m_want(rows, tiles, k_iters, eight_bit_or_channel):
    # 9..16 rows: 8192 x 28672 has 112 256-column tiles, 4096 x 14336 56 (both faster on the
    # wgmma tile); the line is more than 132 / 3 = 44 tiles, where split-K needs at most 2
    # slices. With fewer tiles, 4-bit group-scaled weights still take it when K is deep, at least
    # 16 K tiles of 64 per SM: 14336 x 4096 (16 tiles x 224) faster, 4096 x 4096 (16 x 64) slower;
    # 16 x 132 = 2112 K tiles is exactly 16 per SM. <= 8 rows: 8-bit weights or per-channel scales
    # without zero points, and at least 66 tiles (no split-K): 112 faster, 56 slower
    if rows > 16:
        return 0
    if rows > 8:
        return int(tiles > 44 or (not eight_bit_or_channel and tiles * k_iters >= 16 * 132))
    return int(eight_bit_or_channel and tiles >= 66)


@pytest.mark.parametrize("knob", [None, "0", "2"])
def test_wgmma_for_small_m(rules_exe, knob):
    got = {k: v for k, v in run(rules_exe, small=knob).items() if k.startswith("smallwg")}
    want = {}
    for key in got:
        rows, tiles, k, f = map(int, key[len("smallwg"):].split("/"))
        rule = _small_m_want(rows, tiles, k, f)
        want[key] = str({None: rule, "0": 0, "2": int(rows <= 16)}[knob])
    assert len(got) == 210 and got == want


@pytest.mark.parametrize("knob", [None, "0", "2", "3"])
def test_stream_k_grid(rules_exe, knob):
    # never by default (slower on the H100); on request the grid is the SMs times the kernel's
    # blocks per SM (at most 2), or one per SM with 3; never above 16 rows, nor with fewer
    # (tile, K tile) units than blocks, nor when tiles + blocks partials exceed the workspace
    # (132 SMs x 64 KB: 244 x 64 KB do not fit)
    got = {k: v for k, v in run(rules_exe, stream_k=knob).items() if k.startswith("sk")}
    per_sm = {"2": {"sk1/224/64/2/4096": "264", "sk16/112/128/1/32768": "132", "sk1/224/64/4/4096": "264"},
              "3": {"sk1/224/64/2/4096": "132", "sk16/112/128/1/32768": "132", "sk1/224/64/4/4096": "132"}}
    want = {k: "0" for k in got}
    want.update(per_sm.get(knob, {}))
    assert len(got) == 6 and got == want

