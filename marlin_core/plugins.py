"""Plugin discovery through entry points. A broken plugin is recorded, never fatal here."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from typing import Iterable

import pluggy

from marlin_core import hookspecs
from marlin_core.spec import QuantConfig

DISABLE_ENV = "MARLIN_DISABLE_PLUGINS"


@dataclass(frozen=True)
class PluginInfo:
    """What `marlin plugins list` shows of one plugin. ``name`` is the key that disables it."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()
    status: str = "ok"  # ok | broken | disabled
    error: str = ""
    path: str = ""  # the plugin's module file, for build systems that track inputs

    def as_dict(self) -> dict:
        return {"name": self.name, "distribution": self.distribution, "version": self.version,
                "schemes": list(self.schemes), "hooks": list(self.hooks), "status": self.status,
                "error": self.error, "path": self.path}


@dataclass(frozen=True)
class LoadedPlugins:
    manager: pluggy.PluginManager
    infos: tuple[PluginInfo, ...]

    @property
    def broken(self) -> tuple[PluginInfo, ...]:
        return tuple(i for i in self.infos if i.status == "broken")


def disabled_from_env(value: str | None) -> frozenset[str]:
    return frozenset(s.strip() for s in (value or "").split(",") if s.strip())


def _reason(exc: BaseException) -> str:
    """The exception as one line (pluggy's validation messages span several)."""
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _register(pm: pluggy.PluginManager, name: str, obj: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Register and validate one plugin; return (hooks, schemes) or raise with the reason."""
    pm.register(obj, name=name)
    try:
        callers = pm.get_hookcallers(obj) or []
        unknown = [c.name for c in callers if c.spec is None]
        if unknown:
            raise pluggy.PluginValidationError(obj, f"unknown hook {', '.join(sorted(unknown))}")
        hooks = tuple(sorted(c.name for c in callers))
        schemes: list[str] = []
        for impl in pm.hook.marlin_quant_configs.get_hookimpls():
            if impl.plugin is obj:
                for cfg in impl.function() or ():
                    if not isinstance(cfg, QuantConfig):
                        raise TypeError(f"marlin_quant_configs returned {type(cfg).__name__}, "
                                        "expected marlin_core.spec.QuantConfig")
                    schemes.append(cfg.scheme)
        return hooks, tuple(dict.fromkeys(schemes))
    except BaseException:
        pm.unregister(obj)
        raise


def load_plugins(disabled: Iterable[str] = (),
                 extra: Iterable[tuple[str, object]] = (),
                 entry_points: bool = True) -> LoadedPlugins:
    """Load every ``marlin.schemes`` entry point (and ``extra`` (name, object) pairs, for tests).

    Plugins named in ``disabled`` are listed but not imported.
    """
    disabled = frozenset(disabled)
    pm = new_manager()
    infos: list[PluginInfo] = []
    eps = sorted(metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP),
                 key=lambda e: e.name) if entry_points else []
    candidates = [(ep.name, ep.dist.name if ep.dist else "?", ep.dist.version if ep.dist else "?", ep.load)
                  for ep in eps]
    candidates += [(name, "(registered)", "-", (lambda o=obj: o)) for name, obj in extra]
    seen: dict[str, str] = {}
    for name, dist, version, load in candidates:
        if name in seen:
            infos.append(PluginInfo(name, dist, version, status="broken",
                                    error=f"plugin name '{name}' is already used by {seen[name]}"))
            continue
        seen[name] = dist
        if name in disabled:
            infos.append(PluginInfo(name, dist, version, status="disabled"))
            continue
        try:
            obj = load()
            hooks, schemes = _register(pm, name, obj)
        except Exception as exc:  # a plugin's failure must not take the others down
            infos.append(PluginInfo(name, dist, version, status="broken", error=_reason(exc)))
            continue
        infos.append(PluginInfo(name, dist, version, hooks, schemes,
                                path=getattr(obj, "__file__", "") or ""))
    return LoadedPlugins(pm, tuple(infos))
