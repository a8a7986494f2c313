"""Emitting: a Plan -> {file name: text}. Pure; the writer puts the texts on disk."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import groupby

import jinja2

from marlin_core import __version__ as VERSION
from marlin_core.plan import Plan
from marlin_core.spec import KernelKey, KernelSpec, SelectorClause
from marlin_core.types import TypeTable

MANIFEST = "manifest.json"
SELECTOR = "kernel_selector.h"
SOURCES_CMAKE = "sources.cmake"
PLUGIN_FORMATS = "marlin_plugin_formats.h"
MANIFEST_VERSION = 1

# Template parameter order of marlin::Marlin and the KernelKey fields the selector switches on.
KEY_FIELDS = ("a_type", "b_type", "c_type", "s_type", "threads", "thread_m_blocks",
              "thread_n_blocks", "thread_k_blocks", "m_block_size_8", "stages", "group_blocks",
              "is_zp_float")
_TYPE_FIELDS = frozenset(KEY_FIELDS[:4])


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("marlin_core", "templates"),
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined, autoescape=False)


def _cpp(field: str, value, types: TypeTable) -> str:
    if field in _TYPE_FIELDS:
        return types.get(value).cpp
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def template_args(key: KernelKey, types: TypeTable) -> str:
    return ", ".join(_cpp(f, getattr(key, f), types) for f in KEY_FIELDS)


@dataclass(frozen=True)
class _Node:
    """A selector decision: ``switch`` on ``field`` over ``children``; or, where only one value
    is left, a guard ``conds`` (field == value, ...) before ``then``; or a ``leaf`` kernel."""

    field: str = ""
    children: tuple = ()
    conds: tuple = ()
    then: "_Node | None" = None
    leaf: str = ""


def _tree(keys: list[KernelKey], depth: int, types: TypeTable) -> _Node:
    if depth == len(KEY_FIELDS):
        return _Node(leaf=template_args(keys[0], types))
    field = KEY_FIELDS[depth]
    value_of = lambda k: getattr(k, field)  # noqa: E731
    groups = [(v, list(g)) for v, g in groupby(sorted(keys, key=value_of), key=value_of)]
    if len(groups) == 1:
        # A one-way switch is a compare: fold it with the compares below into one guard.
        value, sub = groups[0]
        cond = f"key.{field} == {_cpp(field, value, types)}"
        child = _tree(sub, depth + 1, types)
        if child.conds:
            return _Node(conds=(cond, *child.conds), then=child.then)
        return _Node(conds=(cond,), then=child)
    # Switch on bools as ints: a switch over a bool draws -Wswitch-bool.
    expr = f"int(key.{field})" if isinstance(groups[0][0], bool) else f"key.{field}"
    return _Node(field=expr, children=tuple((_cpp(field, v, types), _tree(g, depth + 1, types))
                                             for v, g in groups))


def _c_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _clause_condition(c: SelectorClause, types: TypeTable) -> str:
    parts = [f"key.{f} == {types.get(getattr(c, f)).cpp}" for f in c.TYPE_FIELDS if getattr(c, f)]
    if c.is_zp_float is not None:
        parts.append(("" if c.is_zp_float else "!") + "key.is_zp_float")
    return " && ".join(parts) or "true"


def kernel_record(spec: KernelSpec) -> dict:
    k = spec.key
    record = {"file": spec.file, "scheme": spec.scheme, "plugin": spec.plugin}
    record.update({f: getattr(k, f) for f in KEY_FIELDS})
    return record


def emit(plan: Plan) -> dict[str, str]:
    env = _env()
    types = plan.types
    out: dict[str, str] = {}
    kernel_tpl = env.get_template("kernel_file.cu.j2")
    families = []
    for fam in plan.families:
        files = [f for f in plan.files if f.family == fam.name]
        archs = fam.archs(plan.archs)
        # largest files first: build tools start jobs in list order, and starting the longest
        # compiles first keeps a parallel build from ending on one big file
        by_size = sorted(files, key=lambda f: -len(f.kernels))
        families.append({"name": fam.name, "files": [f.name for f in by_size],
                         "cmake_archs": ";".join(a.cmake for a in archs),
                         "gencode": ";".join(g for a in archs for g in a.gencode),
                         "archs": ",".join(str(a) for a in archs)})
    fam_archs = {f["name"]: f["archs"] for f in families}
    for f in plan.files:
        groups = [(scheme, [{"plugin": k.plugin, "args": template_args(k.key, types)} for k in ks])
                  for scheme, ks in groupby(f.kernels, key=lambda k: k.scheme)]
        out[f.name] = kernel_tpl.render(version=VERSION, file=f, archs=fam_archs[f.family],
                                        groups=groups)
    schemes = ",".join(plan.schemes)
    clauses = [(p, {"condition": _clause_condition(c, types), "message": _c_string(c.message)})
               for p, c in plan.clauses]
    keys = [k.key for k in plan.kernels]
    root = _tree(keys, 0, types) if keys else _Node(field="a_type")
    out[SELECTOR] = env.get_template("kernel_selector.h.j2").render(
        version=VERSION, count=len(keys), arch_list=plan.arch_list, schemes=schemes,
        clauses=clauses, root=root)
    out[PLUGIN_FORMATS] = env.get_template("plugin_formats.h.j2").render(version=VERSION,
                                                                        headers=plan.headers)
    for _, header in plan.headers:
        out[header.name] = header.text
    out[SOURCES_CMAKE] = env.get_template("sources.cmake.j2").render(
        version=VERSION, arch_list=plan.arch_list, families=families,
        gencode=";".join(g for a in plan.archs for g in a.gencode))
    manifest = {
        "version": MANIFEST_VERSION,
        "generator": f"marlin-core {VERSION}",
        "archs": [str(a) for a in plan.archs],
        "schemes": list(plan.schemes),
        "files": sorted(out),
        "kernels": [kernel_record(k) for k in plan.kernels],
    }
    out[MANIFEST] = json.dumps(manifest, indent=1) + "\n"
    return out
