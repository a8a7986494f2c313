"""Helpers shared by the generator tests (a module of its own: conftest names clash across
test folders)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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



def marlin_exe() -> str:
    return shutil.which("marlin") or str(Path(sys.executable).with_name("marlin"))


def run_marlin(*args: str, env: dict | None = None, cwd: Path | None = None):
    """Run the installed console script as a user would."""
    return subprocess.run([marlin_exe(), *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120)
