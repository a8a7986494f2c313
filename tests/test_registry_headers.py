"""Plugin CUDA headers: validated names, identical contributions merge, conflicts name both."""

import pytest

from marlin_core import api, hookimpl
from marlin_core.arch import parse_arch_list
from marlin_core.emit import PLUGIN_FORMATS, emit
from marlin_core.errors import PluginError
from marlin_core.plan import plan
from marlin_core.registry import build_registry
from marlin_core.spec import CudaHeader, QuantConfig


class P:
    def __init__(self, headers, scheme="s"):
        self.headers, self.scheme = headers, scheme

    @hookimpl
    def marlin_cuda_headers(self):
        return self.headers

    @hookimpl
    def marlin_quant_configs(self):
        return [QuantConfig(self.scheme, "kU4B8", ("kFloat16",), (8,))]


def registry(*plugins):
    return build_registry(api.load(extra=plugins, entry_points=False))


def test_headers_reach_the_output_only_with_their_kernels():
    h = CudaHeader("fmt.cuh", "// device code\n")
    reg = registry(("one", P([h], "s1")))
    files = emit(plan(reg, parse_arch_list("8.0")))
    assert files["fmt.cuh"] == "// device code\n"
    assert '#include "fmt.cuh"  // from plugin one' in files[PLUGIN_FORMATS]
    excluded = emit(plan(reg, parse_arch_list("8.0"), exclude=("s1",)))
    assert "fmt.cuh" not in excluded and "fmt.cuh" not in excluded[PLUGIN_FORMATS]


@pytest.mark.parametrize("name", ["../x.h", "a/b.h", "x.cu", "kernel_selector.h", "marlin_plugin_formats.h", ""])
def test_bad_header_names(name):
    with pytest.raises(PluginError, match="invalid header name"):
        registry(("one", P([CudaHeader(name, "")])))


def test_identical_merge_conflicting_fail():
    h = CudaHeader("fmt.cuh", "a")
    assert len(registry(("one", P([h], "s1")), ("two", P([h], "s2"))).headers) == 1
    with pytest.raises(PluginError, match="'fmt.cuh' is contributed differently by plugins 'one' and 'two'"):
        registry(("one", P([h], "s1")), ("two", P([CudaHeader("fmt.cuh", "b")], "s2")))
