"""`marlin plugins new NAME`: render a ready plugin package from jinja2 templates."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import jinja2

from marlin_core import __version__
from marlin_core.errors import UsageError
from marlin_core.types import BUILTIN_NAMES

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
# template -> path inside the package directory ({package} is substituted)
_FILES = {"pyproject.toml.j2": "pyproject.toml", "__init__.py.j2": "{package}/__init__.py",
          "test_plugin.py.j2": "tests/test_{package}.py", "README.md.j2": "README.md"}


def render(name: str, b_type: str = "kU4B8") -> dict[str, str]:
    """The package's files, {relative path: text}. Pure."""
    if not _NAME.match(name):
        raise UsageError(f"invalid plugin name '{name}': use lower-case letters, digits, '-' or '_', "
                         "starting with a letter")
    if b_type not in BUILTIN_NAMES:
        raise UsageError(f"unknown weight type '{b_type}' (built-in: {', '.join(sorted(BUILTIN_NAMES))})")
    package = "marlin_" + name.replace("-", "_")
    ctx = {"name": name, "dist": "marlin-" + name.replace("_", "-"), "package": package,
           "scheme": name.replace("_", "-"), "b_type": b_type, "core_version": __version__}
    env = jinja2.Environment(loader=jinja2.PackageLoader("marlin_core", "templates/scaffold"),
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    return {path.format(package=package): env.get_template(tpl).render(**ctx)
            for tpl, path in _FILES.items()}


def create(name: str, parent: Path, b_type: str = "kU4B8") -> Path:
    """Write the package as ``parent/marlin-NAME``: built in a temp dir, then renamed into place,
    so a failure leaves nothing half-written. Refuses to touch an existing directory."""
    files = render(name, b_type)
    target = parent / ("marlin-" + name.replace("_", "-"))
    if target.exists():
        raise UsageError(f"'{target}' already exists; choose another name or --dir")
    if not parent.is_dir():
        raise UsageError(f"'{parent}' is not a directory")
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=".marlin-new-"))
    try:
        for rel, text in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        os.rename(staging, target)
    except OSError as exc:
        for path in sorted(staging.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        staging.rmdir()
        raise UsageError(f"cannot create '{target}': {exc.strerror or exc}") from exc
    return target
