"""Shared fixtures: the default plugins as installed, and third-party plugins made visible to
importlib.metadata the way pip would (a dist-info folder with entry_points.txt)."""

from __future__ import annotations

import os
import sys

import pytest

from marlin_core import api
from marlin_core.arch import parse_arch_list
from marlin_core.plan import plan
from marlin_core.registry import build_registry
from support import EXAMPLE, install_fake_dist

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
