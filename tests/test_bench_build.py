"""benchmarks/bench_build.py's reading of ninja logs: which steps count as kernel compiles, and
the compile phase's lower bound max(sum / jobs, largest) that docs/performance.md uses to say why
sharding cannot reach 1.7x on 16 cores."""

import importlib.util

import pytest

from support import TESTS


@pytest.fixture(scope="module")
def bench_build():
    spec = importlib.util.spec_from_file_location("bench_build", TESTS.parent / "benchmarks" / "bench_build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


LOG = """# ninja log v6
0\t66300\t1\tCMakeFiles/marlin.dir/gen/sm80_kernel_float16_u4b8_float16.cu.o\tab
10\t40010\t1\tCMakeFiles/marlin.dir/gen/sm80_kernel_bfloat16_u4b8_bfloat16_part0.cu.o\tcd
20\t5020\t1\tCMakeFiles/marlin.dir/src/marlin_gemm.cu.o\tef
66300\t67800\t1\tlibmarlin.so\t01
5\t1005\t1\tCMakeFiles/marlin.dir/gen/sm80_kernel_float16_u4b8_float16.cu.o\tab
"""


def test_parse_keeps_the_last_entry_of_an_output(bench_build):
    times = bench_build.parse_ninja_log(LOG)
    assert times["CMakeFiles/marlin.dir/gen/sm80_kernel_float16_u4b8_float16.cu.o"] == 1.0
    assert times["libmarlin.so"] == 1.5
    assert len(times) == 4


def test_only_kernel_files_count(bench_build):
    times = {
        "CMakeFiles/marlin.dir/gen/sm80_kernel_float16_u4b8_float16.cu.o": 66.0,
        "CMakeFiles/marlin.dir/gen/sm80_kernel_float16_u8b128_float16_part1.cu.o": 30.0,
        "CMakeFiles/marlin.dir/src/marlin_gemm.cu.o": 5.0,  # the library's own sources: not kernels
        "libmarlin.so": 1.5,
    }
    total, largest, bound = bench_build.compile_stats(times, jobs=16)
    assert (total, largest) == (96.0, 66.0)
    assert bound == 66.0  # one file dominates: 96 / 16 = 6 s of even spread


def test_bound_is_the_even_spread_when_no_file_dominates(bench_build):
    times = {f"gen/sm80_kernel_x_part{i}.cu.o": 20.0 for i in range(38)}
    total, largest, bound = bench_build.compile_stats(times, jobs=16)
    assert total == 760.0 and largest == 20.0
    assert bound == pytest.approx(47.5)


def test_no_kernel_steps_give_zeros(bench_build):
    assert bench_build.compile_stats({"libmarlin.so": 2.0}, jobs=16) == (0.0, 0.0, 0.0)
