"""The generator's Python API: load plugins, plan, emit, write. What the CLI calls."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from marlin_core.arch import parse_arch_list
from marlin_core.emit import emit
from marlin_core.errors import PluginError
from marlin_core.plan import Plan, Sharding, plan
from marlin_core.plugins import DISABLE_ENV, LoadedPlugins, disabled_from_env, load_plugins
from marlin_core.registry import build_registry
from marlin_core.write import WriteReport, write_outputs


def load(disabled: Iterable[str] = (), extra: Iterable[tuple[str, object]] = (),
         entry_points: bool = True) -> LoadedPlugins:
    """Load plugins; names in ``disabled`` and in $MARLIN_DISABLE_PLUGINS are skipped."""
    off = frozenset(disabled) | disabled_from_env(os.environ.get(DISABLE_ENV))
    return load_plugins(off, extra, entry_points)


def require_healthy(loaded: LoadedPlugins) -> None:
    if loaded.broken:
        info = loaded.broken[0]
        raise PluginError(f"plugin '{info.name}' ({info.distribution}) is broken: {info.error}; "
                          f"fix or uninstall it, or skip it with --disable-plugin {info.name} "
                          f"or {DISABLE_ENV}={info.name}")


def make_plan(arch: str, include: Iterable[str] = (), exclude: Iterable[str] = (),
              loaded: LoadedPlugins | None = None, sharding: Sharding = Sharding()) -> Plan:
    archs = parse_arch_list(arch)  # parse first: bad input fails before any plugin is imported
    loaded = loaded if loaded is not None else load()
    require_healthy(loaded)
    return plan(build_registry(loaded), archs, include, exclude, sharding)


def generate(the_plan: Plan, out_dir: Path) -> WriteReport:
    return write_outputs(Path(out_dir), emit(the_plan))
