"""The CLI through typer's runner (in process) and as a subprocess (the console script)."""

import json
import os

import pytest
from typer.testing import CliRunner

from support import FIVE_ARCHS, run_marlin
from marlin_core.cli import app, main
from marlin_core.write import LOCK

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args))


def test_gen_writes_then_is_incremental(tmp_path):
    out = tmp_path / "gen"
    r = invoke("gen", "--arch", FIVE_ARCHS, "--out", str(out))
    assert r.exit_code == 0, r.output
    assert "1302 kernels in 26 files" in r.stdout
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != LOCK}
    assert len(mtimes) == 26 + 4  # kernels, selector, plugin formats header, sources.cmake, manifest
    r2 = invoke("gen", "--arch", FIVE_ARCHS, "--out", str(out))
    assert r2.exit_code == 0 and "up to date, no file rewritten" in r2.stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != LOCK} == mtimes
    r3 = invoke("gen", "--arch", "8.0", "--out", str(out), "--json")
    summary = json.loads(r3.stdout)
    assert summary["kernels"] == 732 and len(summary["removed"]) == 26 - 14
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".cu") == sorted(f["name"] for f in summary["files"])


def test_dry_run_writes_nothing(tmp_path):
    out = tmp_path / "never"
    r = invoke("gen", "--arch", "8.9", "--out", str(out), "--dry-run")
    assert r.exit_code == 0 and "total: 936 kernels in 19 files for 8.9" in r.stdout
    assert "sm89_kernel_fe4m3fn_u4b8_float16.cu" in r.stdout
    assert not out.exists()
    j = json.loads(invoke("gen", "--arch", "8.9", "--out", str(out), "--dry-run", "--json").stdout)
    assert j["dry_run"] is True and j["kernels"] == 936 and not out.exists()


def test_scheme_filters(tmp_path):
    r = invoke("gen", "-a", "8.0", "-o", str(tmp_path), "--scheme", "hqq", "--scheme", "fp8", "--json")
    assert json.loads(r.stdout)["kernels"] == 15 + 60
    r = invoke("gen", "-a", "8.0", "-o", str(tmp_path), "-x", "gptq-int4", "--json")
    assert json.loads(r.stdout)["kernels"] == 732 - 150


def test_kernels_lists_per_file_and_scheme():
    r = invoke("kernels", "--arch", "7.5")
    assert r.exit_code == 0
    line = next(l for l in r.stdout.splitlines() if l.startswith("sm75_kernel_float16_u4_float16.cu"))
    assert line.split()[1:] == ["awq-int4", "60"]
    assert "hqq" in r.stdout and "total: 366 kernels in 7 files" in r.stdout
    j = json.loads(invoke("kernels", "--arch", "7.5", "--json").stdout)
    assert j["schemes"]["hqq"] == 15 and j["kernels"] == 366


def test_plugins_list_table_and_json():
    r = invoke("plugins", "list")
    assert r.exit_code == 0
    header = r.stdout.splitlines()[0].split()
    assert header == ["name", "distribution", "version", "status", "schemes", "hooks"]
    assert any(l.split()[:4] == ["gptq", "marlin-gptq", "0.1.0", "ok"] for l in r.stdout.splitlines())
    data = json.loads(invoke("plugins", "list", "--json").stdout)
    assert {d["name"] for d in data} >= {"awq", "gptq", "fp8", "fp4", "hqq"}
    assert next(d for d in data if d["name"] == "hqq")["schemes"] == ["hqq"]


@pytest.mark.parametrize("args,code,needle", [
    (["gen", "--arch", "abc"], 2, "invalid arch 'abc'"),
    (["gen", "--arch", ""], 2, "empty arch list"),
    (["gen", "--arch", "6.1"], 2, "below 7.5"),
    (["gen", "--arch", "8.0,,x"], 2, "invalid arch 'x'"),
    (["gen", "--arch", "8.0", "--scheme", "nope"], 2, "unknown scheme 'nope'"),
    (["frobnicate"], 2, "No such command 'frobnicate'"),
    (["gen", "--bogus"], 2, "No such option: --bogus"),
])
def test_bad_input_one_line_no_traceback(tmp_path, args, code, needle):
    # in process, through the same entry point as the console script
    args = args + ["--out", str(tmp_path / "o")] if args[0] == "gen" and "--bogus" not in args else args
    r = run_marlin(*args)
    assert r.returncode == code, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("marlin: error:")
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_out_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("precious")
    r = run_marlin("gen", "--arch", "8.0", "--out", str(f))
    assert r.returncode == 2 and "is not a directory" in r.stderr and len(r.stderr.splitlines()) == 1
    assert f.read_text() == "precious"


def test_out_cannot_be_created(tmp_path):
    (tmp_path / "file").write_text("x")
    r = run_marlin("gen", "--arch", "8.0", "--out", str(tmp_path / "file" / "sub"))
    assert r.returncode == 2 and "cannot create output directory" in r.stderr


def test_version_and_help():
    assert run_marlin("--version").stdout.startswith("marlin-core ")
    r = run_marlin("--help")
    assert r.returncode == 0 and "gen" in r.stdout and "plugins" in r.stdout


def test_main_returns_codes(tmp_path, capsys):
    assert main(["gen", "--arch", "8.0", "--out", str(tmp_path), "-q"]) == 0
    assert main(["gen", "--arch", "5.0"]) == 2
    assert "below 7.5" in capsys.readouterr().err


def test_broken_plugin_stops_gen_unless_disabled(fake_site, tmp_path):
    from support import install_fake_dist
    install_fake_dist(fake_site, "marlin-broken", "1.0", {"broken": "broken_mod"},
                      module_text={"broken_mod": "raise RuntimeError('boom at import')\n"})
    env = dict(os.environ)
    r = run_marlin("gen", "--arch", "8.0", "--out", str(tmp_path / "o"), env=env)
    assert r.returncode == 3
    assert "plugin 'broken' (marlin-broken) is broken: RuntimeError: boom at import" in r.stderr
    assert "--disable-plugin broken" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "o").exists()
    listing = run_marlin("plugins", "list", env=env)
    assert listing.returncode == 0 and "boom at import" in listing.stdout
    ok = run_marlin("gen", "--arch", "8.0", "--out", str(tmp_path / "o"), "--disable-plugin", "broken", env=env)
    assert ok.returncode == 0, ok.stderr
    env["MARLIN_DISABLE_PLUGINS"] = "broken"
    assert run_marlin("gen", "--arch", "8.0", "--out", str(tmp_path / "o2"), env=env).returncode == 0
