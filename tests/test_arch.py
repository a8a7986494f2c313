import pytest

from marlin_core.arch import Arch, families_for, parse_arch, parse_arch_list
from marlin_core.errors import UsageError


@pytest.mark.parametrize("text,arch", [
    ("8.0", Arch(8, 0)), ("80", Arch(8, 0)), ("sm_80", Arch(8, 0)), ("compute_86", Arch(8, 6)),
    ("8.6+PTX", Arch(8, 6, "", True)), ("8.6+ptx", Arch(8, 6, "", True)), ("9.0a", Arch(9, 0, "a")),
    ("90a", Arch(9, 0, "a")), ("12.0", Arch(12, 0)), ("120", Arch(12, 0)), ("12.0f", Arch(12, 0, "f")),
    ("7.5", Arch(7, 5)),
])
def test_forms(text, arch):
    assert parse_arch(text) == arch


def test_separators_sorting_and_dedup():
    assert parse_arch_list(" 9.0;8.0, 8.6  80 ") == (Arch(8, 0), Arch(8, 6), Arch(9, 0))


@pytest.mark.parametrize("text,needle", [
    ("abc", "invalid arch 'abc'"), ("", "empty arch list"), ("  ;, ", "empty arch list"),
    ("6.1", "below 7.5"), ("8.0,,x", "invalid arch 'x'"), ("8", "invalid arch '8'"),
    ("8.0.1", "invalid arch"), ("9.0b", "invalid arch"),
])
def test_bad_input(text, needle):
    with pytest.raises(UsageError, match=needle):
        parse_arch_list(text)


def test_str_and_cmake():
    a = parse_arch("8.6+PTX")
    assert str(a) == "8.6+PTX" and a.cmake == "86-real;86-virtual"
    assert parse_arch("9.0a").cmake == "90a-real"
    assert parse_arch("8.0").cmake == "80-real"


def test_gencode():
    assert parse_arch("8.6+PTX").gencode == ("-gencode=arch=compute_86,code=sm_86",
                                             "-gencode=arch=compute_86,code=compute_86")
    # Hopper SASS is sm_90a (wgmma), its PTX the portable compute_90
    assert parse_arch("9.0").gencode == ("-gencode=arch=compute_90a,code=sm_90a",)
    assert parse_arch("9.0+PTX").gencode == ("-gencode=arch=compute_90a,code=sm_90a",
                                             "-gencode=arch=compute_90,code=compute_90")
    assert parse_arch("9.0+PTX").cmake == "90a-real;90-virtual"
    assert str(parse_arch("9.0")) == "9.0"
    # an explicit 9.0a keeps its arch-specific PTX; other archs are unchanged
    assert parse_arch("9.0a+PTX").gencode[1] == "-gencode=arch=compute_90a,code=compute_90a"
    assert parse_arch("12.0").gencode == ("-gencode=arch=compute_120,code=sm_120",)
    assert parse_arch("8.9").cmake == "89-real"


@pytest.mark.parametrize("archs,families", [
    ("7.5", ["sm75"]), ("8.0", ["sm80"]), ("9.0", ["sm80"]), ("8.9", ["sm80", "sm89"]),
    ("12.0", ["sm80", "sm89"]), ("7.5,8.0,8.6,8.9,9.0", ["sm75", "sm80", "sm89"]),
])
def test_families(archs, families):
    assert [f.name for f in families_for(parse_arch_list(archs))] == families
