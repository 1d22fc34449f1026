"""The files of a template merge: a scratch copy of the project's tracked files; the merge written back
all or nothing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

from litgen.errors import LitgenError
from litgen.git_store import git
from litgen.template_source import ANSWERS_FILE


def snapshot_tracked(root: Path, tracked: list[str], scratch: Path) -> set[str]:
    """Copy the tracked files into SCRATCH and commit them there (copier's starting point); return their names."""
    copied: set[str] = set()
    for name in tracked:
        source = root / name
        if not (source.is_file() or source.is_symlink()):
            continue  # a submodule: not the template's business
        destination = scratch / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination, follow_symlinks=False)
        copied.add(name)
    git("init", "--quiet", str(scratch))
    git("add", "--all", "--force", cwd=scratch)
    git("commit", "--quiet", "--allow-empty", "-m", "project before the litgen merge", cwd=scratch)
    return copied


def is_project_file(path: Path, scratch: Path) -> bool:
    return (path.is_file() or path.is_symlink()) and path.relative_to(scratch).parts[0] != ".git"


def differs(new: Path, current: Path) -> bool:
    if new.is_symlink() or current.is_symlink():
        return not (
            new.is_symlink() and current.is_symlink() and os.readlink(new) == os.readlink(current)
        )
    return new.read_bytes() != current.read_bytes() or (new.stat().st_mode & 0o111) != (
        current.stat().st_mode & 0o111
    )


def free_backup_name(path: Path) -> Path:
    candidate, counter = path.with_name(path.name + ".bak"), 1
    while candidate.exists():
        candidate, counter = path.with_name(f"{path.name}.bak{counter}"), counter + 1
    return candidate


def apply_merge(
    root: Path,
    scratch: Path,
    writes: list[str],
    removals: list[str],
    backups: list[tuple[Path, Path]],
) -> None:
    """Write every changed file beside its target first, then swap them all in; undo on any failure."""
    staged: list[tuple[Path, Path]] = []
    try:
        for name in writes:
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.litgen-partial")
            shutil.copy2(scratch / name, partial, follow_symlinks=False)
            staged.append((partial, target))
    except BaseException as error:
        _abandon(error, staged, root, "nothing was changed")
    # Keep what gets replaced or removed, so a failure halfway can put it back.
    previous = {
        target: target.read_bytes()
        for _, target in staged
        if target.is_file() and not target.is_symlink()
    }
    previous.update({root / name: (root / name).read_bytes() for name in removals})
    done: list[Path] = []
    moved: list[tuple[Path, Path]] = []
    try:
        for target, backup in backups:
            target.rename(backup)
            moved.append((target, backup))
        # The answers file goes last: it records the template version, so a project that is stopped
        # half-way still reports the update as pending.
        for partial, target in sorted(staged, key=lambda pair: pair[1] == root / ANSWERS_FILE):
            os.replace(partial, target)
            done.append(target)
        for name in removals:
            (root / name).unlink()
            done.append(root / name)
            _remove_empty_parents(root / name, root)
    except BaseException as error:  # a full disk, or Ctrl-C / SIGTERM half-way: put everything back
        for target in done:
            if target in previous:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(previous[target])
            else:
                target.unlink(missing_ok=True)
        for target, backup in moved:
            backup.rename(target)
        _abandon(error, staged, root, "the project was restored")


def _abandon(
    error: BaseException, staged: list[tuple[Path, Path]], root: Path, outcome: str
) -> NoReturn:
    """After a failed merge: remove the staged copies, then raise ERROR again (Ctrl-C and the
    like) or, for an OSError, a LitgenError saying OUTCOME."""
    for partial, _ in staged:
        partial.unlink(missing_ok=True)
    if not isinstance(error, OSError):
        raise error
    raise LitgenError(
        f"could not write the merge ({error.strerror}); {outcome}", path=root
    ) from error


def _remove_empty_parents(path: Path, root: Path) -> None:
    folder = path.parent
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
