"""Writing generated files: atomic, write-if-changed, stale-file removal. The only disk I/O."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from marlin_core.emit import MANIFEST
from marlin_core.errors import MarlinError, UsageError

LOCK = ".marlin-gen.lock"
JOURNAL = ".marlin-gen.journal"
_TMP_PREFIX = ".marlin-tmp-"


@dataclass(frozen=True)
class WriteReport:
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]


def prepare_out_dir(out_dir: Path) -> Path:
    """Create ``out_dir`` if needed; fail with one line when it is not a writable directory."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"output path '{out_dir}' exists and is not a directory")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output directory '{out_dir}': {exc.strerror or exc}") from exc
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise UsageError(f"output directory '{out_dir}' is not writable")
    return out_dir


def previous_files(out_dir: Path) -> tuple[str, ...]:
    """Files the last run generated, from its manifest; () if there is none or it is unreadable."""
    try:
        files = json.loads((out_dir / MANIFEST).read_text()).get("files", [])
    except (OSError, ValueError, AttributeError):
        return ()
    # Only plain names: a manifest must never make us delete outside out_dir.
    return tuple(f for f in files if isinstance(f, str) and f == Path(f).name and f != MANIFEST)


def _stage(out_dir: Path, text: str) -> Path:
    """Write ``text`` to a new temp file in ``out_dir`` (same file system, so renames are atomic)."""
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=_TMP_PREFIX, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_atomic(path: Path, text: str) -> None:
    os.replace(_stage(path.parent, text), path)


@contextlib.contextmanager
def _locked(out_dir: Path):
    """One `marlin gen` at a time per output directory; a second waits for the first."""
    with open(out_dir / LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def recover(out_dir: Path) -> bool:
    """Finish a commit a killed run left behind (roll forward its journal) and drop the temp
    files of runs killed before their commit. Returns whether a journal was replayed."""
    journal = out_dir / JOURNAL
    replayed = False
    try:
        steps = json.loads(journal.read_text())
    except FileNotFoundError:
        steps = None
    except ValueError:
        steps = None  # a torn journal: its run had not started committing; temps go below
        journal.unlink()
    if steps is not None:
        for tmp, final in steps["renames"]:
            if (out_dir / tmp).exists():
                os.replace(out_dir / tmp, out_dir / final)
        for name in steps["removals"]:
            (out_dir / name).unlink(missing_ok=True)
        journal.unlink()
        replayed = True
    for stray in out_dir.glob(f"{_TMP_PREFIX}*.tmp"):
        stray.unlink(missing_ok=True)
    return replayed


def _same(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def write_outputs(out_dir: Path, files: dict[str, str]) -> WriteReport:
    """Replace the generated set in ``out_dir`` with ``files``, as one transaction.

    Changed files are first staged as temp files; then a journal naming every rename and
    removal is written atomically, carried out, and deleted. A run killed before the journal
    exists leaves the old set (and temps the next run deletes); one killed after it leaves a
    journal the next run rolls forward to the new set. The manifest is renamed last.
    """
    out_dir = prepare_out_dir(out_dir)
    try:
        with _locked(out_dir):
            recover(out_dir)
            old = previous_files(out_dir)
            order = sorted(files, key=lambda n: n == MANIFEST)
            unchanged = [n for n in order if _same(out_dir / n, files[n])]
            written = [n for n in order if n not in unchanged]
            removed = [n for n in old if n not in files and (out_dir / n).is_file()]
            if not written and not removed:
                return WriteReport((), tuple(unchanged), ())
            renames = [(_stage(out_dir, files[n]).name, n) for n in written]
            write_atomic(out_dir / JOURNAL, json.dumps({"renames": renames, "removals": removed}))
            recover(out_dir)
    except OSError as exc:
        raise MarlinError(f"cannot write to '{out_dir}': {exc.strerror or exc}") from exc
    return WriteReport(tuple(written), tuple(unchanged), tuple(removed))
