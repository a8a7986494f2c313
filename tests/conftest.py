"""Shared fixtures: the default plugins as installed, and third-party plugins made visible to
importlib.metadata the way pip would (a dist-info folder with entry_points.txt)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from marlin_core import api
from marlin_core.arch import parse_arch_list
from marlin_core.plan import plan
from marlin_core.registry import build_registry

TESTS = Path(__file__).parent
EXAMPLE = TESTS / "example_plugin"
FIVE_ARCHS = "7.5,8.0,8.6,8.9,9.0"


def install_fake_dist(site: Path, dist: str, version: str, entry_points: dict[str, str],
                      package: Path | None = None, module_text: dict[str, str] | None = None) -> Path:
    """Make ``site`` hold an installed distribution: a dist-info with METADATA and entry points,
    plus the package (copied) or modules (written)."""
    site.mkdir(parents=True, exist_ok=True)
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[marlin.schemes]\n{lines}")
    if package is not None:
        shutil.copytree(package, site / package.name)
    for name, text in (module_text or {}).items():
        (site / f"{name}.py").write_text(text)
    return site


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    """A site dir on sys.path (this process and subprocesses); entry points in it are found."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    yield site
    for name in list(sys.modules):
        if name.startswith(("marlin_example", "broken_", "badhook_", "clash_")):
            del sys.modules[name]


@pytest.fixture
def example_site(fake_site):
    install_fake_dist(fake_site, "marlin-example", "0.3.0", {"example": "marlin_example"},
                      package=EXAMPLE / "marlin_example")
    return fake_site


@pytest.fixture(scope="session")
def default_registry():
    loaded = api.load()
    api.require_healthy(loaded)
    return build_registry(loaded)


@pytest.fixture(scope="session")
def plan_for(default_registry):
    cache = {}

    def make(archs: str, include=(), exclude=()):
        key = (archs, tuple(include), tuple(exclude))
        if key not in cache:
            cache[key] = plan(default_registry, parse_arch_list(archs), include, exclude)
        return cache[key]
    return make


def run_marlin(*args: str, env: dict | None = None, cwd: Path | None = None):
    """Run the installed console script as a user would."""
    exe = shutil.which("marlin") or str(Path(sys.executable).with_name("marlin"))
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
