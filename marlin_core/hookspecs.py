"""The plugin contract: hook specifications a scheme plugin implements.

A plugin is a module or object registered under the entry-point group ``marlin.schemes``
whose functions are marked with ``@marlin_core.hookimpl``. Every hook is optional.
"""

from __future__ import annotations

from typing import Sequence

import pluggy

PROJECT = "marlin"
ENTRY_POINT_GROUP = "marlin.schemes"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def marlin_scalar_types() -> Sequence["ScalarType"]:  # noqa: F821
    """Return new scalar types (``marlin_core.types.ScalarType``) this plugin's configs use.

    Built-in types need not be returned. A name already taken by a different type is an error.
    """


@hookspec
def marlin_quant_configs() -> Sequence["QuantConfig"]:  # noqa: F821
    """Return this plugin's kernel sets (``marlin_core.spec.QuantConfig``), one per scheme."""


@hookspec
def marlin_check_combo(config, a_type: str, c_type: str, family, archs) -> str | None:
    """Veto one (activation, output, arch family) combination of a config.

    Called for every combination the core's arch families allow. Return a short reason to
    drop it from the plan, or None to keep it. ``family`` is a ``marlin_core.arch.ArchFamily``
    and ``archs`` the requested ``Arch`` tuple.
    """


@hookspec
def marlin_selector_clauses(archs, families) -> Sequence["SelectorClause"]:  # noqa: F821
    """Return extra dispatch lines (``marlin_core.spec.SelectorClause``) for kernel_selector.h,
    e.g. a clear error for a request whose kernels this arch list does not build."""


@hookspec
def marlin_cuda_headers() -> Sequence["CudaHeader"]:  # noqa: F821
    """Return device code (``marlin_core.spec.CudaHeader``) that the generated kernel files
    include, after the kernel template: the extension point through which a new weight format
    brings its dequantization. See docs/plugins.md."""
