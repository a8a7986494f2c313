"""The `marlin` command line (typer). Errors become one line on stderr and an exit code."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from marlin_core import api
from marlin_core.arch import DEFAULT_ARCHS
from marlin_core.errors import MarlinError
from marlin_core.plan import Plan, Sharding

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
                  help="Generate, list and build Marlin mixed-precision GEMM kernels.")
plugins_app = typer.Typer(no_args_is_help=True, help="Inspect scheme plugins.")
app.add_typer(plugins_app, name="plugins")

ARCH_HELP = ("CUDA archs, as CMake or torch write them: 8.0, 80, sm_80, 8.6+PTX, 9.0a, 12.0, "
             "separated by ',', ';' or spaces.")
ArchOpt = typer.Option(DEFAULT_ARCHS, "--arch", "-a", envvar="MARLIN_ARCH_LIST", help=ARCH_HELP)
SchemeOpt = typer.Option(None, "--scheme", "-s", help="Only these schemes (repeatable).")
ExcludeOpt = typer.Option(None, "--exclude-scheme", "-x", help="Leave these schemes out (repeatable).")
DisableOpt = typer.Option(None, "--disable-plugin", "-p",
                          help="Do not load this plugin (repeatable; also $MARLIN_DISABLE_PLUGINS=a,b).")
JsonOpt = typer.Option(False, "--json", help="Print a machine-readable summary on stdout.")
MaxPerFileOpt = typer.Option(0, "--max-kernels-per-file", metavar="N",
                             help="Split files holding more than N kernels into _partK files "
                                  "(parallel compilation). 0: one file per (family, a, b, c).")
ShardsOpt = typer.Option(0, "--shards", metavar="N", help="Split every kernel file into N parts.")


def _version(value: bool) -> None:
    if value:
        from marlin_core.emit import VERSION
        typer.echo(f"marlin-core {VERSION}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Show the version and exit.")) -> None:
    pass


def _info(msg: str) -> None:
    typer.echo(msg, err=True)


def _plan(arch: str, scheme, exclude, disable, max_per_file: int = 0, shards: int = 0) -> Plan:
    sharding = Sharding(max_per_file, shards)  # bad values fail here, before plugins load
    return api.make_plan(arch, scheme or (), exclude or (), api.load(disable or ()), sharding)


def _files_summary(p: Plan) -> list[dict]:
    return [{"name": f.name, "family": f.family, "kernels": len(f.kernels)} for f in p.files]


@app.command()
def gen(arch: str = ArchOpt,
        out: Path = typer.Option(Path("marlin_generated"), "--out", "-o",
                                 help="Output directory (created if missing)."),
        scheme: Optional[List[str]] = SchemeOpt,
        exclude_scheme: Optional[List[str]] = ExcludeOpt,
        disable_plugin: Optional[List[str]] = DisableOpt,
        max_kernels_per_file: int = MaxPerFileOpt,
        shards: int = ShardsOpt,
        dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Print the plan, write nothing."),
        as_json: bool = JsonOpt,
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success."),
        print_inputs: bool = typer.Option(False, "--print-inputs", hidden=True,
                                          help="Print the generator's own source files (for build "
                                               "systems) and exit.")) -> None:
    """Generate kernel instantiation files, kernel_selector.h, sources.cmake and manifest.json."""
    if print_inputs:
        package = Path(__file__).resolve().parent
        for path in sorted([*package.glob("*.py"), *package.glob("templates/*.j2")]):
            typer.echo(str(path))
        return
    p = _plan(arch, scheme, exclude_scheme, disable_plugin, max_kernels_per_file, shards)
    summary = {"archs": [str(a) for a in p.archs], "schemes": list(p.schemes),
               "kernels": len(p.kernels), "files": _files_summary(p), "out": str(out),
               "dry_run": dry_run, "pruned": dict(p.pruned)}
    if dry_run:
        if as_json:
            typer.echo(json.dumps(summary, indent=1))
        elif not quiet:
            _print_plan(p)
            typer.echo(f"dry run: would write {len(p.files)} kernel files + kernel_selector.h, "
                       f"marlin_plugin_formats.h, sources.cmake, manifest.json to {out}")
        return
    report = api.generate(p, out)
    summary.update(written=list(report.written), unchanged=list(report.unchanged),
                   removed=list(report.removed))
    if as_json:
        typer.echo(json.dumps(summary, indent=1))
    elif not quiet:
        state = (f"wrote {len(report.written)}, unchanged {len(report.unchanged)}, "
                 f"removed {len(report.removed)}")
        if not report.written and not report.removed:
            state = f"up to date, no file rewritten ({len(report.unchanged)} files)"
        typer.echo(f"marlin gen: {len(p.kernels)} kernels in {len(p.files)} files for "
                   f"{p.arch_list} -> {out}: {state}")


def _print_plan(p: Plan) -> None:
    width = max((len(f.name) for f in p.files), default=10)
    typer.echo(f"{'file':<{width}}  {'scheme':<14} kernels")
    for f in p.files:
        counts: dict[str, int] = {}
        for k in f.kernels:
            counts[k.scheme] = counts.get(k.scheme, 0) + 1
        for i, (s, n) in enumerate(counts.items()):
            typer.echo(f"{f.name if i == 0 else '':<{width}}  {s:<14} {n:>7}")
    typer.echo(f"total: {len(p.kernels)} kernels in {len(p.files)} files for {p.arch_list}")
    for reason, n in p.pruned:
        typer.echo(f"pruned {n} kernels: {reason}")


@app.command()
def kernels(arch: str = ArchOpt,
            scheme: Optional[List[str]] = SchemeOpt,
            exclude_scheme: Optional[List[str]] = ExcludeOpt,
            disable_plugin: Optional[List[str]] = DisableOpt,
            max_kernels_per_file: int = MaxPerFileOpt,
            shards: int = ShardsOpt,
            as_json: bool = JsonOpt) -> None:
    """List the planned kernels per file and scheme, with counts (writes nothing)."""
    p = _plan(arch, scheme, exclude_scheme, disable_plugin, max_kernels_per_file, shards)
    if as_json:
        per_scheme: dict[str, int] = {}
        for k in p.kernels:
            per_scheme[k.scheme] = per_scheme.get(k.scheme, 0) + 1
        typer.echo(json.dumps({"archs": [str(a) for a in p.archs], "kernels": len(p.kernels),
                               "schemes": per_scheme, "files": _files_summary(p)}, indent=1))
    else:
        _print_plan(p)


@app.command()
def build(arch: str = typer.Option(..., "--arch", "-a", envvar="MARLIN_ARCH_LIST", help=ARCH_HELP),
          scheme: Optional[List[str]] = SchemeOpt,
          exclude_scheme: Optional[List[str]] = ExcludeOpt,
          disable_plugin: Optional[List[str]] = DisableOpt,
          build_dir: Path = typer.Option(Path("build/marlin"), "--build-dir", "-B",
                                         help="CMake build directory."),
          source: Optional[Path] = typer.Option(None, "--source", help="marlin's csrc/ directory "
                                                "(default: the one beside this marlin_core)."),
          jobs: int = typer.Option(0, "--jobs", "-j", help="Parallel compile jobs (0: ninja's default)."),
          max_kernels_per_file: int = MaxPerFileOpt,
          shards: int = ShardsOpt,
          ) -> None:
    """Build libmarlin.so for --arch with CMake and Ninja (generation included); shows progress."""
    from marlin_core.build import BuildRequest, default_source, run_build
    # Validate everything a build would trip over late, before the first compile starts.
    p = _plan(arch, scheme, exclude_scheme, disable_plugin, max_kernels_per_file, shards)
    req = BuildRequest(arch=p.arch_list, source=(source or default_source()).resolve(),
                       build_dir=build_dir.resolve(), schemes=tuple(scheme or ()),
                       exclude=tuple(exclude_scheme or ()), disabled=tuple(disable_plugin or ()),
                       jobs=jobs, max_kernels_per_file=max_kernels_per_file, shards=shards)
    _info(f"marlin build: {len(p.kernels)} kernels in {len(p.files)} files for {p.arch_list} "
          f"-> {req.build_dir}")
    lib = run_build(req)
    typer.echo(f"marlin build: {lib}")


@plugins_app.command("list")
def plugins_list(disable_plugin: Optional[List[str]] = DisableOpt, as_json: bool = JsonOpt) -> None:
    """List installed scheme plugins: name (the key --disable-plugin takes), distribution,
    version, schemes, hooks and status."""
    infos = api.load(disable_plugin or ()).infos
    if as_json:
        typer.echo(json.dumps([i.as_dict() for i in infos], indent=1))
        return
    rows = [("name", "distribution", "version", "status", "schemes", "hooks")]
    rows += [(i.name, i.distribution, i.version, i.status, ",".join(i.schemes) or "-",
              ",".join(h.removeprefix("marlin_") for h in i.hooks) or "-") for i in infos]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    for i in infos:
        if i.error:
            typer.echo(f"{i.name}: {i.error}")
    if not infos:
        typer.echo("no plugins installed (entry-point group marlin.schemes)")


@plugins_app.command("new")
def plugins_new(name: str = typer.Argument(..., help="Plugin name, e.g. my-int4 (package marlin_my_int4)."),
                directory: Path = typer.Option(Path("."), "--dir", "-d", help="Where to create marlin-NAME/."),
                b_type: str = typer.Option("kU4B8", "--weight-type", "-w", help="Weight scalar type of the "
                                           "starter config.")) -> None:
    """Create a ready scheme-plugin package: pyproject.toml with the entry point, hook
    implementations for one config, and a passing test."""
    from marlin_core.scaffold import create
    target = create(name, directory, b_type)
    typer.echo(f"created {target}: pip install -e '{target}[test]' && python -m pytest -q {target}/tests")


def main(argv: Optional[List[str]] = None) -> int:
    """Console entry point: run the app, turn every failure into one line and an exit code."""
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv if argv is not None else sys.argv[1:], prog_name="marlin",
                          standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except MarlinError as exc:
        typer.echo(f"marlin: error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("marlin: interrupted", err=True)
        return 130
    except Exception as exc:
        # typer's (vendored click) usage errors carry their own message and exit code (2).
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            typer.echo(f"marlin: error: {exc.format_message()}", err=True)
            return exc.exit_code
        if os.environ.get("MARLIN_DEBUG"):
            raise
        typer.echo(f"marlin: internal error: {type(exc).__name__}: {exc} "
                   "(set MARLIN_DEBUG=1 for a traceback)", err=True)
        return 101


def run() -> None:
    sys.exit(main())
