"""The pytest fixtures marlin-core ships for plugin authors (marlin_core.testing)."""

import pytest

from marlin_core import hookimpl
from marlin_core.errors import PluginError
from marlin_core.spec import QuantConfig

pytest_plugins = ["pytester"]


class Good:
    @hookimpl
    def marlin_quant_configs(self):
        return [QuantConfig("good", "kU4B8", ("kFloat16",), (8,))]


class UnknownType:
    @hookimpl
    def marlin_quant_configs(self):
        return [QuantConfig("bad", "kU9", ("kFloat16",), (8,))]


def test_harness_plans_one_plugin_alone(marlin_plugin):
    h = marlin_plugin(Good(), name="good")
    h.check_contract()
    p = h.plan("8.0")
    assert {k.scheme for k in p.kernels} == {"good"} and len(p.kernels) == 15
    assert "kernel_selector.h" in h.emit("8.0")


def test_harness_reports_bad_contributions(marlin_plugin):
    with pytest.raises(PluginError, match="unknown scalar type 'kU9'"):
        marlin_plugin(UnknownType(), name="bad").check_contract()


def test_broken_plugin_fails_the_test(pytester):
    pytester.makepyfile("""
        from marlin_core import hookimpl

        class Broken:
            @hookimpl
            def marlin_quant_configs(self, nonsense):
                return []

        def test_it(marlin_plugin):
            marlin_plugin(Broken(), name="broken").check_contract()
    """)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*plugin 'broken' is broken: PluginValidationError*"])


def test_compile_kernels(marlin_plugin, marlin_nvcc, tmp_path):
    obj = marlin_plugin(Good(), name="good").compile_kernels(tmp_path, max_kernels=1)
    assert obj.is_file() and obj.stat().st_size > 0
