import shutil
import subprocess

import pytest

from marlin_core.errors import MarlinError
from marlin_core.types import BUILTIN_TYPES, ScalarType, TypeTable

# Ids worked out by hand from the field layout (exponent 8 bits, mantissa 8, signed 1, bias 32,
# finite 1, nan_repr 8, LSB first), as tabulated in the reference facts.
EXPECTED_IDS = {
    "kS4": 0x4000000010300, "kU4": 0x4000000000400, "kU4B8": 0x4000000100400,
    "kS8": 0x4000000010700, "kU8": 0x4000000000800, "kU8B128": 0x4000001000800,
    "kFE4M3fn": 0xA000000010304, "kFE2M1f": 0x2000000010102, "kFE8M0fnu": 0xA000000000008,
    "kFloat16": 0x4000000010A05, "kBFloat16": 0x4000000010708,
}


def test_builtin_ids_match_hand_computed_table():
    assert {t.name: t.id for t in BUILTIN_TYPES} == EXPECTED_IDS


def test_sizes():
    table = TypeTable(BUILTIN_TYPES)
    assert [table.get(n).size_bits for n in ("kU4", "kU4B8", "kU8B128", "kS8", "kFE4M3fn",
                                              "kFE2M1f", "kFE8M0fnu", "kFloat16")] == [4, 4, 8, 8, 8, 4, 8, 16]


def test_unknown_type_is_a_clear_error():
    with pytest.raises(MarlinError, match="unknown scalar type 'kNope'"):
        TypeTable(BUILTIN_TYPES).get("kNope")


def test_plugin_type_is_spelled_as_a_literal_id():
    t = ScalarType("kU4B7", "u4b7", 0, 4, False, 7)
    assert t.cpp == f"static_cast<marlin::ScalarTypeId>({t.id:#x}ll) /* kU4B7 */"
    assert TypeTable(BUILTIN_TYPES).get("kU4").cpp == "marlin::type_id::kU4"


def test_negative_bias_packs_as_twos_complement():
    t = ScalarType("kNeg", "neg", 0, 4, False, -8)
    assert (t.id >> 17) & 0xFFFFFFFF == (-8) & 0xFFFFFFFF


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_cpp_header_computes_the_same_ids(tmp_path):
    from support import TESTS
    src = tmp_path / "ids.cpp"
    names = list(EXPECTED_IDS)
    src.write_text('#include <cstdio>\n#include "marlin/scalar_type.h"\nint main(){\n' + "".join(
        f'printf("{n} %lld\\n", (long long)marlin::type_id::{n});\n' for n in names) + "}\n")
    exe = tmp_path / "ids"
    subprocess.run(["g++", "-std=c++17", f"-I{TESTS.parent / 'csrc' / 'include'}", str(src), "-o", str(exe)],
                   check=True)
    out = dict(line.split() for line in subprocess.run([str(exe)], capture_output=True, text=True,
                                                       check=True).stdout.splitlines())
    assert {k: int(v) for k, v in out.items()} == EXPECTED_IDS
