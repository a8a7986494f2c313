"""Test helpers for plugin authors, shipped as a pytest plugin (entry point ``pytest11``).

Fixtures:

- ``marlin_plugin``: a factory; ``marlin_plugin(module_or_object, name="mine")`` loads that one
  plugin alone (no entry points) and returns a :class:`PluginHarness`.
- ``marlin_nvcc``: the path of nvcc, or skips the test when it is not on PATH.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from marlin_core import api
from marlin_core.arch import parse_arch_list
from marlin_core.emit import emit
from marlin_core.plan import Plan, plan
from marlin_core.plugins import LoadedPlugins, PluginInfo
from marlin_core.registry import build_registry
from marlin_core.write import write_outputs

CSRC_INCLUDE = Path(__file__).resolve().parent.parent / "csrc" / "include"
NVCC_FLAGS = ("-std=c++17", "-O2", "--expt-relaxed-constexpr", "-static-global-template-stub=false")


@dataclass(frozen=True)
class PluginHarness:
    """One plugin loaded alone, with the checks a plugin's own test suite wants."""

    name: str
    loaded: LoadedPlugins

    @property
    def info(self) -> PluginInfo:
        return next(i for i in self.loaded.infos if i.name == self.name)

    def check_contract(self) -> None:
        """Fail the test with the reason if the plugin breaks the hook specs or its
        contributions do not validate (unknown types, bad group sizes, conflicts, ...)."""
        if self.info.status != "ok":
            pytest.fail(f"plugin '{self.name}' is {self.info.status}: {self.info.error}", pytrace=False)
        build_registry(self.loaded)

    def plan(self, arch: str = "8.0", schemes=(), exclude=()) -> Plan:
        self.check_contract()
        return plan(build_registry(self.loaded), parse_arch_list(arch), schemes, exclude)

    def emit(self, arch: str = "8.0") -> dict[str, str]:
        return emit(self.plan(arch))

    def compile_kernels(self, out_dir: Path, arch: str = "8.0", max_kernels: int = 2,
                        nvcc: str | None = None, include: Path = CSRC_INCLUDE) -> Path:
        """Generate the plan for ``arch`` into ``out_dir``, keep ``max_kernels`` instantiations of
        the first kernel file, and compile that file with nvcc against marlin's csrc/include.
        Returns the object file. Skips the test when nvcc is not on PATH."""
        nvcc = nvcc or shutil.which("nvcc")
        if nvcc is None:
            pytest.skip("nvcc not on PATH")
        if not include.is_dir():
            pytest.skip(f"marlin's csrc/include not found at {include}")
        p = self.plan(arch)
        if not p.files:
            pytest.fail(f"plugin '{self.name}' plans no kernels for {arch}", pytrace=False)
        write_outputs(out_dir, emit(p))
        first = out_dir / p.files[0].name
        lines = first.read_text().splitlines(keepends=True)
        kept, n = [], 0
        for line in lines:
            if line.startswith("template __global__"):
                n += 1
                if n > max_kernels:
                    continue
            kept.append(line)
        small = out_dir / f"compile_check_{first.name}"
        small.write_text("".join(kept))
        obj = small.with_suffix(".o")
        gencode = [g for a in parse_arch_list(arch) for g in a.gencode]
        proc = subprocess.run([nvcc, *NVCC_FLAGS, *gencode, f"-I{include}", f"-I{out_dir}", "-c",
                               str(small), "-o", str(obj)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.fail(f"nvcc failed on {small.name}:\n{proc.stderr[-4000:]}", pytrace=False)
        return obj


@pytest.fixture
def marlin_plugin():
    def load_one(plugin: object, name: str = "plugin-under-test") -> PluginHarness:
        return PluginHarness(name, api.load(extra=[(name, plugin)], entry_points=False))
    return load_one


@pytest.fixture
def marlin_nvcc() -> str:
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc not on PATH")
    return nvcc
