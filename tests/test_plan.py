"""The planned kernel set against the default set of DESIGN.md, derived here by hand."""

from collections import Counter

import pytest

from marlin_core.errors import PluginError, UsageError
from marlin_core.plan import plan
from marlin_core.registry import build_registry
from marlin_core.spec import KernelKey, QuantConfig
from marlin_core import api, hookimpl
from marlin_core.arch import parse_arch_list

# Tile shapes per (a, b, c, s, group): with 16-bit activations m blocks 0.5 and 1 take the two
# 128-thread configs plus (128,128,256) = 3 each, m blocks 2..4 the two plus (64,256,256) = 3
# each: 15. 8-bit activations have no 8-row tile: 12.
T16, T8 = 15, 12
# Per scheme: (activation types x groups x shapes) on sm80; sm75 keeps fp16 activations and
# fp16 output only; sm89 holds the fp8-activation kernels.
SM80 = {"awq-int4": 2 * 4 * T16, "hqq": 1 * 1 * T16, "gptq-int4": 2 * 5 * T16,
        "gptq-int8": 2 * 5 * T16, "fp8": 2 * 2 * T16, "nvfp4": 2 * 1 * T16, "mxfp4": 1 * 1 * T16,
        "awq-w4a8-int8": 2 * 4 * T8, "gptq-w4a8-int8": 2 * 4 * T8}
SM75 = {"awq-int4": 4 * T16, "hqq": T16, "gptq-int4": 5 * T16, "gptq-int8": 5 * T16,
        "fp8": 2 * T16, "nvfp4": T16, "awq-w4a8-int8": 4 * T8, "gptq-w4a8-int8": 4 * T8}
SM89 = {"awq-w4a8-fp8": 2 * 4 * T8, "gptq-w4a8-fp8": 2 * 4 * T8, "mxfp4-w4a8-fp8": 1 * 1 * T8}


@pytest.mark.parametrize("archs,kernels,files", [
    ("7.5,8.0,8.6,8.9,9.0", 1302, 26), ("8.0", 732, 14), ("7.5", 366, 7), ("8.9", 936, 19),
    ("9.0", 732, 14),
])
def test_counts_from_the_issue(plan_for, archs, kernels, files):
    p = plan_for(archs)
    assert (len(p.kernels), len(p.files)) == (kernels, files)


@pytest.mark.parametrize("archs,families", [
    ("7.5,8.0,8.6,8.9,9.0", {"sm75": SM75, "sm80": SM80, "sm89": SM89}),
    ("8.0", {"sm80": SM80}), ("7.5", {"sm75": SM75}), ("8.9", {"sm80": SM80, "sm89": SM89}),
    ("12.0", {"sm80": SM80, "sm89": SM89}),
])
def test_per_family_and_scheme_counts(plan_for, archs, families):
    got = Counter((k.family, k.scheme) for k in plan_for(archs).kernels)
    want = Counter({(f, s): n for f, per in families.items() for s, n in per.items()})
    assert got == want


def test_file_names(plan_for):
    names = {f.name for f in plan_for("7.5,8.0,8.9").files}
    assert {"sm80_kernel_float16_u4b8_float16.cu", "sm89_kernel_fe4m3fn_u4_bfloat16.cu",
            "sm75_kernel_s8_u4_float16.cu", "sm89_kernel_fe4m3fn_fe2m1f_bfloat16.cu",
            "sm80_kernel_bfloat16_fe2m1f_bfloat16.cu"} <= names
    assert not any("bfloat16" in n for n in names if n.startswith("sm75"))


def key(a, b, c, s, threads, m, n, k, m8, stages, g, zpf=False):
    return KernelKey(a, b, c, s, threads, m, n, k, m8, stages, g, zpf)


def test_sample_kernels(plan_for):
    keys = {(k.family, k.key): k.scheme for k in plan_for("7.5,8.0,8.9").kernels}
    # GPTQ act-order, 8-row tile, 128 threads, 64x128 tile
    assert keys[("sm80", key("kFloat16", "kU4B8", "kFloat16", "kFloat16", 128, 1, 8, 4, True, 4, 0))] == "gptq-int4"
    # HQQ: fp16 zero points, group 64
    assert keys[("sm80", key("kFloat16", "kU4", "kFloat16", "kFloat16", 256, 1, 8, 8, False, 4, 4, True))] == "hqq"
    # NVFP4: e4m3 scales per 16; MXFP4: e8m0 per 32
    assert keys[("sm80", key("kBFloat16", "kFE2M1f", "kBFloat16", "kFE4M3fn", 256, 3, 16, 4, False, 4, 1))] == "nvfp4"
    assert keys[("sm80", key("kBFloat16", "kFE2M1f", "kBFloat16", "kFE8M0fnu", 128, 2, 4, 8, False, 4, 2))] == "mxfp4"
    # Turing: two stages
    assert keys[("sm75", key("kS8", "kU4B8", "kFloat16", "kFloat16", 128, 4, 8, 4, False, 2, 8))] == "gptq-w4a8-int8"
    assert keys[("sm89", key("kFE4M3fn", "kFE2M1f", "kBFloat16", "kFE8M0fnu", 256, 2, 16, 4, False, 4, 2))] == "mxfp4-w4a8-fp8"
    absent = [
        ("sm80", key("kFloat16", "kU4B8", "kFloat16", "kFloat16", 256, 1, 16, 4, False, 4, 8)),  # 64x256 at m=1
        ("sm80", key("kFloat16", "kU4B8", "kFloat16", "kFloat16", 256, 2, 8, 8, False, 4, 8)),  # 128x128 at m=2
        ("sm80", key("kS8", "kU4B8", "kFloat16", "kFloat16", 128, 1, 8, 4, True, 4, 8)),  # 8-row tile, int8
        ("sm80", key("kBFloat16", "kU4", "kBFloat16", "kBFloat16", 128, 1, 8, 4, False, 4, 4, True)),  # HQQ bf16
        ("sm75", key("kBFloat16", "kU4B8", "kBFloat16", "kBFloat16", 128, 1, 8, 4, False, 2, 8)),  # bf16 on Turing
        ("sm80", key("kFE4M3fn", "kU4", "kFloat16", "kFloat16", 128, 1, 8, 4, False, 4, 8)),  # fp8 act on sm80
        ("sm80", key("kFloat16", "kU4B8", "kBFloat16", "kFloat16", 128, 1, 8, 4, False, 4, 8)),  # a != c
    ]
    assert not [a for a in absent if a in keys]


def test_every_kernel_is_valid_for_its_family(plan_for):
    for k in plan_for("7.5,8.0,8.6,8.9,9.0").kernels:
        assert k.key.stages == (2 if k.family == "sm75" else 4)
        assert not k.key.m_block_size_8 or k.key.thread_m_blocks == 1
        assert k.file.startswith(k.family + "_kernel_")


def test_scheme_filters(plan_for):
    only = plan_for("8.0", include=("hqq", "fp8"))
    assert {k.scheme for k in only.kernels} == {"hqq", "fp8"} and len(only.kernels) == 15 + 60
    rest = plan_for("8.0", exclude=("gptq-int4",))
    assert len(rest.kernels) == 732 - 150


def test_unknown_scheme(default_registry):
    with pytest.raises(UsageError, match="unknown scheme 'gptq-int3'"):
        plan(default_registry, parse_arch_list("8.0"), include=("gptq-int3",))


def test_fp8_clause_only_without_an_fp8_arch(plan_for):
    def messages(archs):
        return [c.message for _, c in plan_for(archs).clauses]
    assert any("fp8 activation is not built for this arch list (8.0,9.0)" in m for m in messages("8.0,9.0"))
    assert not any("fp8 activation" in m for m in messages("8.0,8.9"))
    # only fp16/bf16 schemes chosen: nothing to say about fp8
    assert not any("fp8 activation" in m for m in
                   (c.message for _, c in plan_for("8.0", include=("gptq-int4",)).clauses))


def test_deterministic(default_registry):
    a = plan(default_registry, parse_arch_list("7.5,8.9"))
    b = plan(default_registry, parse_arch_list("8.9 7.5"))
    assert a == b


def _registry_with(*plugins):
    return build_registry(api.load(extra=plugins, entry_points=False))


class _Plugin:
    def __init__(self, *configs):
        self.configs = configs

    @hookimpl
    def marlin_quant_configs(self):
        return list(self.configs)


def test_identical_contributions_merge():
    cfg = QuantConfig("s1", "kU4B8", ("kFloat16",), (8,))
    reg = _registry_with(("one", _Plugin(cfg)), ("two", _Plugin(cfg)))
    p = plan(reg, parse_arch_list("8.0"))
    assert len(p.kernels) == T16 and {k.plugin for k in p.kernels} == {"one"}


def test_conflicting_scheme_names_both_plugins():
    a = QuantConfig("s1", "kU4B8", ("kFloat16",), (8,))
    b = QuantConfig("s1", "kU4B8", ("kFloat16",), (4,))
    with pytest.raises(PluginError, match="'s1' is contributed differently by plugins 'one' and 'two'"):
        _registry_with(("one", _Plugin(a)), ("two", _Plugin(b)))


def test_same_kernel_from_two_schemes_is_a_conflict():
    a = QuantConfig("s1", "kU4B8", ("kFloat16",), (8,))
    b = QuantConfig("s2", "kU4B8", ("kFloat16",), (8, 4))
    reg = _registry_with(("one", _Plugin(a)), ("two", _Plugin(b)))
    with pytest.raises(PluginError, match=r"kernel conflict: .*scheme 's1' \(plugin 'one'\) and scheme 's2' \(plugin 'two'\)"):
        plan(reg, parse_arch_list("8.0"))


@pytest.mark.parametrize("cfg,needle", [
    (QuantConfig("x", "kU5", ("kFloat16",), (8,)), "unknown scalar type 'kU5'"),
    (QuantConfig("x", "kU4", (), (8,)), "no activation types"),
    (QuantConfig("x", "kU4", ("kFloat16",), (-2,)), "group_blocks"),
    (QuantConfig("x", "kU4", ("kFloat16",), (8,), m_blocks=(5,)), "m_blocks"),
])
def test_invalid_configs_name_the_plugin(cfg, needle):
    with pytest.raises(PluginError, match=f"plugin 'bad', scheme 'x': .*{needle}"):
        _registry_with(("bad", _Plugin(cfg)))


def test_sharding_splits_files_and_keeps_every_kernel(default_registry):
    from marlin_core.plan import Sharding
    archs = parse_arch_list("9.0")
    whole = plan(default_registry, archs)
    capped = plan(default_registry, archs, sharding=Sharding(max_kernels_per_file=40))
    assert all(len(f.kernels) <= 40 for f in capped.files)
    assert sorted(k.key for k in capped.kernels) == sorted(k.key for k in whole.kernels)
    # the 75-kernel gptq-int4 fp16 file needs ceil(75 / 40) = 2 parts of equal size: 38 + 37
    parts = [f for f in capped.files if f.name.startswith("sm80_kernel_float16_u4b8_float16")]
    assert [(f.name, len(f.kernels)) for f in parts] == [
        ("sm80_kernel_float16_u4b8_float16_part0.cu", 38), ("sm80_kernel_float16_u4b8_float16_part1.cu", 37)]
    # capped at 24: ceil(75 / 24) = 4 parts, 19 + 19 + 19 + 18 (not 24 + 24 + 24 + 3)
    by24 = plan(default_registry, archs, sharding=Sharding(max_kernels_per_file=24))
    assert [len(f.kernels) for f in by24.files if f.name.startswith("sm80_kernel_float16_u4b8_float16")] == [
        19, 19, 19, 18]
    assert all(k.file == f.name for f in capped.files for k in f.kernels)
    four = plan(default_registry, archs, sharding=Sharding(shards=4))
    assert len(four.files) == 4 * len(whole.files) and len(four.kernels) == 732


@pytest.mark.parametrize("sharding,needle", [((3, 2), "not both"), ((-1, 0), "must not be negative")])
def test_bad_sharding(sharding, needle):
    from marlin_core.plan import Sharding
    with pytest.raises(UsageError, match=needle):
        Sharding(*sharding)
