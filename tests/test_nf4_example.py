"""examples/marlin-nf4, installed as a distribution: listed, generated, compiled; uninstalled:
gone from the output. (Its own tests, examples/marlin-nf4/tests, run here too.)"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from support import TESTS, install_fake_dist, run_marlin

NF4_DIR = TESTS.parent / "examples" / "marlin-nf4"


@pytest.fixture
def nf4_site(fake_site):
    install_fake_dist(fake_site, "marlin-nf4", "0.1.0", {"nf4": "marlin_nf4"}, package=NF4_DIR / "marlin_nf4")
    yield fake_site
    sys.modules.pop("marlin_nf4", None)


def test_listed_generated_and_removed_on_uninstall(nf4_site, tmp_path):
    info = next(d for d in json.loads(run_marlin("plugins", "list", "--json").stdout) if d["name"] == "nf4")
    assert info["distribution"] == "marlin-nf4" and info["schemes"] == ["nf4"] and info["status"] == "ok"
    out = tmp_path / "gen"
    r = run_marlin("gen", "--arch", "8.0,9.0", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    nf4 = [k for k in manifest["kernels"] if k["scheme"] == "nf4"]
    assert len(nf4) == 30 and {k["b_type"] for k in nf4} == {"kNF4"} and {k["group_blocks"] for k in nf4} == {4}
    assert (out / "marlin_nf4.cuh").is_file() and (out / "sm80_kernel_bfloat16_nf4_bfloat16.cu").is_file()
    assert "/* kNF4 */" in (out / "kernel_selector.h").read_text()
    for path in nf4_site.iterdir():
        shutil.rmtree(path)
    assert run_marlin("gen", "--arch", "8.0,9.0", "--out", str(out)).returncode == 0
    assert not list(out.glob("*nf4*"))
    assert "nf4" not in (out / "kernel_selector.h").read_text().lower()
    assert "nf4" not in (out / "manifest.json").read_text().lower()


def test_example_own_tests_pass(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(NF4_DIR), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                          cwd=NF4_DIR, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
