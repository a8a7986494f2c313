"""Merge the plugins' contributions into one validated registry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from marlin_core.errors import PluginError
from marlin_core.plugins import LoadedPlugins
from marlin_core.spec import CudaHeader, QuantConfig, SelectorClause
from marlin_core.types import BUILTIN_TYPES, ScalarType, TypeTable

VALID_M_BLOCKS = (0.5, 1, 2, 3, 4)


@dataclass(frozen=True)
class Registry:
    """Everything the planner needs from the plugins.

    ``configs`` pairs each config with the plugin that contributed it. ``check_combo`` and
    ``selector_clauses`` call the plugins' hooks and return plain data.
    """

    types: TypeTable
    configs: tuple[tuple[str, QuantConfig], ...]
    check_combo: Callable[..., tuple[str, ...]]
    selector_clauses: Callable[..., tuple[tuple[str, SelectorClause], ...]]
    headers: tuple[tuple[str, CudaHeader], ...] = ()

    def schemes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.scheme for _, c in self.configs))


def _collect(pm, hook_name: str, **kwargs) -> list[tuple[str, object]]:
    """Call one hook impl at a time so that every result is attributed to its plugin.

    Like pluggy, pass each impl only the arguments it names."""
    out = []
    for impl in getattr(pm.hook, hook_name).get_hookimpls():
        name = pm.get_name(impl.plugin)
        try:
            result = impl.function(**{a: kwargs[a] for a in impl.argnames})
        except Exception as exc:
            raise PluginError(f"plugin '{name}' failed in {hook_name}: {type(exc).__name__}: {exc}") from exc
        if result is not None:
            out.append((name, result))
    return out


def _merge_types(pm) -> TypeTable:
    by_name: dict[str, tuple[str, ScalarType]] = {t.name: ("marlin-core", t) for t in BUILTIN_TYPES}
    for plugin, types in _collect(pm, "marlin_scalar_types"):
        for t in types:
            if not isinstance(t, ScalarType):
                raise PluginError(f"plugin '{plugin}': marlin_scalar_types returned {type(t).__name__}, "
                                  "expected marlin_core.types.ScalarType")
            owner, known = by_name.get(t.name, (None, None))
            if known is None:
                clash = [o for o, k in by_name.values() if k.id == t.id or k.token == t.token]
                if clash:
                    raise PluginError(f"plugin '{plugin}': scalar type {t.name} has the id or file token "
                                      f"of a type from '{clash[0]}'")
                by_name[t.name] = (plugin, t)
            elif known != t:
                raise PluginError(f"scalar type {t.name} is defined differently by '{owner}' and '{plugin}'")
    return TypeTable(tuple(t for _, t in by_name.values()))


def _validate_config(plugin: str, cfg: QuantConfig, types: TypeTable) -> None:
    def fail(why: str) -> None:
        raise PluginError(f"plugin '{plugin}', scheme '{cfg.scheme}': {why}")

    if not cfg.scheme:
        fail("empty scheme name")
    for name in (cfg.b_type, *cfg.a_types, *cfg.c_types, *([cfg.s_type] if cfg.s_type else [])):
        if name not in types.names():
            fail(f"unknown scalar type '{name}'")
    if not cfg.a_types:
        fail("no activation types")
    if not cfg.group_blocks or any(not isinstance(g, int) or g < -1 for g in cfg.group_blocks):
        fail(f"group_blocks must be integers >= -1, got {cfg.group_blocks}")
    bad_m = [m for m in cfg.m_blocks if m not in VALID_M_BLOCKS]
    if bad_m or not cfg.m_blocks:
        fail(f"m_blocks must be among {VALID_M_BLOCKS}, got {cfg.m_blocks}")
    for tc in cfg.thread_configs:
        if tc.threads not in (128, 256) or tc.thread_k % 16 or tc.thread_n % 16 \
                or tc.thread_k <= 0 or tc.thread_n <= 0:
            fail(f"invalid thread config {tc}")


def build_registry(loaded: LoadedPlugins) -> Registry:
    pm = loaded.manager
    types = _merge_types(pm)
    merged: dict[str, tuple[str, QuantConfig]] = {}
    for plugin, configs in _collect(pm, "marlin_quant_configs"):
        for cfg in configs:
            _validate_config(plugin, cfg, types)
            if cfg.scheme in merged:
                owner, known = merged[cfg.scheme]
                if known != cfg:
                    raise PluginError(f"scheme '{cfg.scheme}' is contributed differently by plugins "
                                      f"'{owner}' and '{plugin}'")
                continue  # identical contributions merge
            merged[cfg.scheme] = (plugin, cfg)

    def check_combo(config, a_type, c_type, family, archs) -> tuple[str, ...]:
        results = _collect(pm, "marlin_check_combo", config=config, a_type=a_type, c_type=c_type,
                           family=family, archs=archs)
        return tuple(f"{reason} ({plugin})" for plugin, reason in results)

    def selector_clauses(archs, families) -> tuple[tuple[str, SelectorClause], ...]:
        out = []
        for plugin, clauses in _collect(pm, "marlin_selector_clauses", archs=archs, families=families):
            for clause in clauses:
                if not isinstance(clause, SelectorClause):
                    raise PluginError(f"plugin '{plugin}': marlin_selector_clauses returned "
                                      f"{type(clause).__name__}, expected marlin_core.spec.SelectorClause")
                for name in (getattr(clause, f) for f in clause.TYPE_FIELDS):
                    if name and name not in types.names():
                        raise PluginError(f"plugin '{plugin}': selector clause names unknown type '{name}'")
                out.append((plugin, clause))
        return tuple(out)

    return Registry(types, tuple(merged.values()), check_combo, selector_clauses, _merge_headers(pm))


_HEADER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.(h|cuh)$")
RESERVED_HEADERS = frozenset({"kernel_selector.h", "marlin_plugin_formats.h"})


def _merge_headers(pm) -> tuple[tuple[str, CudaHeader], ...]:
    seen: dict[str, tuple[str, CudaHeader]] = {}
    for plugin, headers in _collect(pm, "marlin_cuda_headers"):
        for h in headers:
            if not isinstance(h, CudaHeader):
                raise PluginError(f"plugin '{plugin}': marlin_cuda_headers returned {type(h).__name__}, "
                                  "expected marlin_core.spec.CudaHeader")
            if not _HEADER_NAME.match(h.name) or h.name in RESERVED_HEADERS:
                raise PluginError(f"plugin '{plugin}': invalid header name '{h.name}' (a plain *.h or "
                                  "*.cuh file name not used by marlin)")
            owner = seen.get(h.name)
            if owner and owner[1] != h:
                raise PluginError(f"header '{h.name}' is contributed differently by plugins "
                                  f"'{owner[0]}' and '{plugin}'")
            seen.setdefault(h.name, (plugin, h))
    return tuple(seen[n] for n in sorted(seen))
