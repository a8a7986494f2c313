"""The TMA map of the weights (csrc/include/marlin/tma.h b_map_layout) and the box coordinates
the kernel asks for (layout.h b_box_at), compiled by nvcc into a host-only program and run without
a GPU. The copy is right when the box, walked innermost dimension first as the TMA unit writes
shared memory, reads the tile's k16 rows in row-major order: the order the cp.async copies leave
in the ring. The walk below follows the PTX ISA's tensor addressing (element coordinates times
the byte strides); the expected words come from the weight layout alone (docs/kernel.md)."""

import itertools
import shutil
import subprocess

import pytest

from support import TESTS

NVCC = shutil.which("nvcc")
CSRC = TESTS.parent / "csrc"

# (k, n, bits, box_rows, tile_n): the wgmma tiles' stages (4 k16 rows, 256 columns), a K whose
# last stage is partial (rows past K arrive as zeros, as cp.async's zero-fill), a 128-column tile,
# and no map for 8-bit rows that do not split into 256-word pieces or other code widths
CASES = [
    (4096, 4096, 4, 4, 256),
    (8192, 28672, 4, 4, 256),
    (4096, 4096, 8, 4, 256),
    (14336, 4096, 8, 4, 256),
    (4096, 768, 8, 4, 256),
    (4128, 4096, 8, 4, 256),
    (4128, 4096, 4, 4, 256),
    (4096, 4096, 8, 4, 128),
    (4096, 320, 8, 4, 256),
    (4096, 4096, 2, 4, 256),
]

MAIN = r"""
#include <cstdio>
#include "marlin/tma.h"
using namespace marlin;
int main() {
  const int cases[][5] = {%s};
  for (const auto& c : cases) {
    MapLayout m{};
    const bool ok = b_map_layout(c[0], c[1], c[2], c[3], c[4], m);
    std::printf("map %%d %%d %%d %%d %%d %%d", c[0], c[1], c[2], c[3], c[4], int(ok));
    if (ok) {
      std::printf(" %%d", m.rank);
      for (int i = 0; i < m.rank; ++i) std::printf(" %%llu", (unsigned long long)m.dims[i]);
      for (int i = 0; i + 1 < m.rank; ++i) std::printf(" %%llu", (unsigned long long)m.strides[i]);
      for (int i = 0; i < m.rank; ++i) std::printf(" %%u", m.box[i]);
    }
    std::printf("\n");
    // the kernel's coordinates (b_box_at) of the first, second and last tile, first, second
    // and last stage (64 K a stage)
    for (const int n_base : {0, c[4], c[1] - c[4]})
      for (const int k0 : {0, 64, (c[0] - 1) / 64 * 64}) {
        const BoxAt a = b_box_at(c[2], c[4], n_base, k0);
        std::printf("at %%d %%d %%d %%d %%d %%d %%d\n", c[2], c[4], n_base, k0, a.c0, a.c1, a.c2);
      }
  }
}
"""


@pytest.fixture(scope="module")
def maps(tmp_path_factory):
    if NVCC is None:
        pytest.skip("nvcc not on PATH")
    d = tmp_path_factory.mktemp("tma")
    (d / "main.cu").write_text(MAIN % ", ".join("{%d, %d, %d, %d, %d}" % c for c in CASES))
    proc = subprocess.run([NVCC, "-std=c++17", f"-I{CSRC / 'include'}", str(d / "main.cu"), "-o", str(d / "maps")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run([str(d / "maps")], capture_output=True, text=True, timeout=60, check=True).stdout
    layouts, coords = {}, {}
    for line in out.splitlines():
        f = line.split()
        if f[0] == "map":
            key, ok = tuple(map(int, f[1:6])), f[6] == "1"
            if not ok:
                layouts[key] = None
                continue
            rank = int(f[7])
            v = list(map(int, f[8:]))
            layouts[key] = (v[:rank], v[rank:2 * rank - 1], v[2 * rank - 1:])
        else:
            v = list(map(int, f[1:]))
            coords[tuple(v[:4])] = tuple(v[4:])
    return layouts, coords


def box_words(dims, strides, box, at):
    """Global word index of each box element, in the order the TMA unit writes them to shared
    memory (innermost dimension fastest); None for elements outside the tensor (zero-filled)."""
    byte_strides = [8] + strides  # 8-byte elements
    words = []
    for idx in itertools.product(*(range(b) for b in reversed(box))):
        coord = [c + i for c, i in zip(at, reversed(idx))]
        inside = all(0 <= x < d for x, d in zip(coord, dims))
        words.append(sum(x * s for x, s in zip(coord, byte_strides)) // 8 if inside else None)
    return words


def tile_words(k, n, bits, box_rows, tile_n, n_base, k0):
    """The words of the tile's k16 rows k0 / 16 .. in row-major order (rows past K: None)."""
    row_words, tw = n * bits // 4, tile_n * bits // 4
    return [((k0 // 16 + r) * row_words + n_base * bits // 4 + w) if k0 // 16 + r < k // 16 else None
            for r in range(box_rows) for w in range(tw)]


@pytest.mark.parametrize("case", [c for c in CASES if c[2] in (4, 8) and (c[1] * c[2] // 4) % 256 == 0])
def test_box_reads_the_tile_row_major(maps, case):
    layouts, coords = maps
    k, n, bits, box_rows, tile_n = case
    dims, strides, box = layouts[case]
    # 4-bit tiles of 256 columns and 8-bit ones of 128 fit one box row (256 words): 2-D
    assert len(dims) == (3 if tile_n * bits // 4 > 256 else 2)
    assert all(b <= 256 for b in box)
    for n_base in (0, tile_n, n - tile_n):
        for k0 in (0, 64, (k - 1) // 64 * 64):
            at = list(coords[(bits, tile_n, n_base, k0)][:len(dims)])
            assert box_words(dims, strides, box, at) == tile_words(k, n, bits, box_rows, tile_n, n_base, k0)


def test_partial_last_stage_reads_zeros(maps):
    """K = 4128: the last stage's box has 2 k16 rows inside the map and 2 outside."""
    layouts, coords = maps
    dims, strides, box = layouts[(4128, 4096, 8, 4, 256)]
    words = box_words(dims, strides, box, list(coords[(8, 256, 0, 4096)]))
    row_words = 4096 * 8 // 4  # 8192 words a k16 row; the tile's first 512 of rows 256 and 257
    assert words[:1024] == [r * row_words + w for r in (256, 257) for w in range(512)]
    assert words[1024:] == [None] * 1024


def test_no_map_where_no_box_fits(maps):
    layouts, _ = maps
    assert layouts[(4096, 320, 8, 4, 256)] is None  # 640 words a row: not whole 256-word pieces
    assert layouts[(4096, 4096, 2, 4, 256)] is None  # no TMA path for other code widths
