"""`marlin plugins new`: the package it writes installs as a plugin and its own tests pass."""

import json
import os
import subprocess
import sys

import pytest

from marlin_core.errors import UsageError
from marlin_core.scaffold import render
from support import install_fake_dist, run_marlin


def test_new_package_tests_pass_and_plugin_is_seen(tmp_path, fake_site):
    r = run_marlin("plugins", "new", "my-int4", "--dir", str(tmp_path), "--weight-type", "kU8B128")
    assert r.returncode == 0, r.stderr
    pkg = tmp_path / "marlin-my-int4"
    assert sorted(str(p.relative_to(pkg)) for p in pkg.rglob("*") if p.is_file()) == [
        "README.md", "marlin_my_int4/__init__.py", "pyproject.toml", "tests/test_marlin_my_int4.py"]
    assert '[project.entry-points."marlin.schemes"]\nmy-int4 = "marlin_my_int4"' in (pkg / "pyproject.toml").read_text()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(pkg), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                          cwd=pkg, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "passed" in proc.stdout and "failed" not in proc.stdout
    # installed (entry point registered), marlin sees it and generates its kernels
    install_fake_dist(fake_site, "marlin-my-int4", "0.1.0", {"my-int4": "marlin_my_int4"},
                      package=pkg / "marlin_my_int4")
    listing = json.loads(run_marlin("plugins", "list", "--json").stdout)
    assert next(d for d in listing if d["name"] == "my-int4")["schemes"] == ["my-int4"]
    summary = json.loads(run_marlin("kernels", "--arch", "8.0", "--scheme", "my-int4", "--json").stdout)
    assert summary["schemes"] == {"my-int4": 2 * 2 * 15}


def test_refuses_existing_dir_and_bad_names(tmp_path):
    assert run_marlin("plugins", "new", "x1", "--dir", str(tmp_path)).returncode == 0
    again = run_marlin("plugins", "new", "x1", "--dir", str(tmp_path))
    assert again.returncode == 2 and "already exists" in again.stderr
    for bad in ("Bad", "1abc", "a b", "a--b", ""):
        with pytest.raises(UsageError):
            render(bad)
    with pytest.raises(UsageError, match="unknown weight type"):
        render("ok", b_type="kU3")


def test_render_is_pure():
    assert render("abc") == render("abc")
