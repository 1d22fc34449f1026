"""Scratch folders named after the process that made them, so a later run removes those a killed run left."""

# A run that is killed with SIGKILL cannot remove its scratch folder. Each folder's name carries its
# maker's pid (`<prefix><pid>-<random>`); making a new one first removes the folders with the same
# prefix whose maker is gone. A folder of a live process, or of another user, is never touched.

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def sweep_stale(prefix: str, parent: Path) -> list[Path]:
    """Remove PARENT/PREFIX<pid>-* folders of ours whose process is gone; return what was removed."""
    removed: list[Path] = []
    try:
        entries = list(parent.glob(f"{glob.escape(prefix)}*"))
    except OSError:
        return removed
    for entry in entries:
        pid_text = entry.name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _alive(int(pid_text)):
            continue
        try:
            if entry.is_symlink() or not entry.is_dir() or entry.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def make_scratch(prefix: str, parent: Path | None = None) -> Path:
    """A new empty folder PARENT/PREFIX<pid>-<random> (PARENT: the temp folder), after sweeping stale ones."""
    where = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    sweep_stale(prefix, where)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=where))


@contextlib.contextmanager
def scratch(prefix: str, parent: Path | None = None) -> Iterator[Path]:
    """make_scratch, removed again on any exit the process lives through (exceptions, Ctrl-C, SIGTERM)."""
    folder = make_scratch(prefix, parent)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
