"""Writing generated files: atomic, write-if-changed, stale-file removal. The only disk I/O."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from marlin_core.emit import MANIFEST
from marlin_core.errors import MarlinError, UsageError


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


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _same(path: Path, text: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def write_outputs(out_dir: Path, files: dict[str, str]) -> WriteReport:
    """Write ``files`` into ``out_dir``; the manifest goes last so that it never names a file
    that is not there yet."""
    out_dir = prepare_out_dir(out_dir)
    old = previous_files(out_dir)
    written, unchanged = [], []
    try:
        for name in sorted(files, key=lambda n: n == MANIFEST):
            path = out_dir / name
            if _same(path, files[name]):
                unchanged.append(name)
            else:
                write_atomic(path, files[name])
                written.append(name)
        removed = []
        for name in old:
            if name not in files and (out_dir / name).is_file():
                (out_dir / name).unlink()
                removed.append(name)
    except OSError as exc:
        raise MarlinError(f"cannot write to '{out_dir}': {exc.strerror or exc}") from exc
    return WriteReport(tuple(written), tuple(unchanged), tuple(removed))
