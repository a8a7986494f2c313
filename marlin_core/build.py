"""`marlin build`: configure and build csrc/ with CMake + Ninja into one shared library."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from marlin_core.errors import MarlinError, UsageError

LIBRARY_NAME = "libmarlin.so"


@dataclass(frozen=True)
class BuildRequest:
    arch: str
    source: Path
    build_dir: Path
    schemes: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    jobs: int = 0  # 0: let ninja choose
    max_kernels_per_file: int = 0
    shards: int = 0
    build_type: str = "Release"


def default_source() -> Path:
    """csrc/ beside the marlin_core package (a source checkout or an editable install)."""
    return Path(__file__).resolve().parent.parent / "csrc"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MarlinError(f"`{name}` is not on PATH; `marlin build` needs CMake (>= 3.24) and Ninja")
    return path


def _marlin_executable() -> str:
    found = shutil.which("marlin")
    if found:
        return found
    candidate = Path(sys.executable).with_name("marlin")
    if candidate.exists():
        return str(candidate)
    raise MarlinError("the `marlin` console script is not on PATH; install marlin-core with pip")


def configure_command(req: BuildRequest) -> list[str]:
    join = ";".join
    return [_tool("cmake"), "-S", str(req.source), "-B", str(req.build_dir), "-G", "Ninja",
            f"-DCMAKE_BUILD_TYPE={req.build_type}", f"-DMARLIN_ARCH_LIST={req.arch}",
            f"-DMARLIN_SCHEMES={join(req.schemes)}", f"-DMARLIN_EXCLUDE_SCHEMES={join(req.exclude)}",
            f"-DMARLIN_DISABLE_PLUGINS={join(req.disabled)}",
            f"-DMARLIN_MAX_KERNELS_PER_FILE={req.max_kernels_per_file}",
            f"-DMARLIN_SHARDS={req.shards}",
            f"-DMARLIN_EXECUTABLE={_marlin_executable()}"]


def build_command(req: BuildRequest) -> list[str]:
    cmd = [_tool("cmake"), "--build", str(req.build_dir)]
    return cmd + (["--parallel", str(req.jobs)] if req.jobs else [])


def run_build(req: BuildRequest) -> Path:
    """Configure and build; ninja's own [done/total] lines are the progress. Returns the library."""
    if not (req.source / "CMakeLists.txt").is_file():
        raise UsageError(f"no CMakeLists.txt in '{req.source}': pass --source pointing at marlin's csrc/")
    _tool("ninja")
    env = dict(os.environ, NINJA_STATUS="[%f/%t %es] ")
    for step, cmd in (("configure", configure_command(req)), ("build", build_command(req))):
        rc = subprocess.call(cmd, env=env)
        if rc != 0:
            raise MarlinError(f"cmake {step} failed (exit {rc}); see the output above")
    lib = req.build_dir / LIBRARY_NAME
    if not lib.is_file():
        raise MarlinError(f"the build finished but {lib} is missing")
    return lib
