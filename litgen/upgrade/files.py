"""`upgrade_paths`: find the files, upgrade them in memory, then write them only where that is safe to undo.

Inside a git work tree litgen needs a clean tree (the user reviews with `git diff` and undoes with
`git checkout`); a file git does not track, or one outside git, keeps a `NAME.orig` backup. Every
file is planned before any is written, so a refusal leaves everything as it was.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from litgen.errors import ConversionError, LitgenError, UsageError
from litgen.source_files import (
    decode_script,
    read_script_bytes,
    rewrite_keeping_backup,
    unified_diff,
    write_atomically,
)
from litgen.upgrade.attribute_table import config_keys_read
from litgen.upgrade.classes import project_classes
from litgen.upgrade.engine import Upgraded, upgrade_source
from litgen.upgrade.yaml_config import YAML_SUFFIXES, upgrade_yaml

PYTHON_SUFFIXES = (".py",)
EXPECTED = "a Python file, a YAML config or a folder of them"
SKIPPED_FOLDERS = frozenset(
    {"__pycache__", "node_modules", "site-packages", "build", "dist", "venv", "env"}
)


@dataclass
class FileResult:
    path: Path
    upgraded: Upgraded | None = None
    error: LitgenError | None = None
    backup: Path | None = None
    written: bool = False
    diff: str | None = None

    @property
    def changed(self) -> bool:
        return self.upgraded is not None and self.upgraded.changed


@dataclass
class UpgradeReport:
    files: list[FileResult] = field(default_factory=list)
    diff_only: bool = False

    @property
    def failed(self) -> bool:
        """Something could not be upgraded: a file that did not parse, or a spot left for a person."""
        return any(
            f.error is not None or (f.upgraded is not None and f.upgraded.needs_hands)
            for f in self.files
        )


def find_files(paths: list[Path]) -> list[Path]:
    """The .py and YAML files under PATHS (folders walked, hidden and build folders skipped), in order."""
    found: list[Path] = []
    for path in paths:
        if path.is_symlink() and path.is_dir():
            raise UsageError(f"is a link to a folder; expected {EXPECTED}", path=path)
        if path.is_dir():
            found.extend(_walk(path))
        elif path.exists() or path.is_symlink():
            if path.suffix not in (*PYTHON_SUFFIXES, *YAML_SUFFIXES):
                raise UsageError(
                    f"is neither a .py file nor a YAML config; expected {EXPECTED}", path=path
                )
            found.append(path)
        else:
            raise UsageError(f"no such file or folder; expected {EXPECTED}", path=path)
    unique: dict[Path, Path] = {}
    for path in found:  # `train.py` and `sub/../train.py` are one file: upgraded once
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def _walk(folder: Path) -> list[Path]:
    files = []
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():
            continue  # a link may lead out of the folder the user named
        if entry.is_dir():
            if (
                not entry.name.startswith(".")
                and entry.name not in SKIPPED_FOLDERS
                and not entry.name.endswith(".egg-info")
            ):
                files.extend(_walk(entry))
        elif entry.suffix in (*PYTHON_SUFFIXES, *YAML_SUFFIXES) and entry.is_file():
            files.append(entry)
    return files


def upgrade_paths(paths: list[Path], *, diff_only: bool = False) -> UpgradeReport:
    """Upgrade every file under PATHS in place (or, with DIFF_ONLY, only say how)."""
    report = UpgradeReport(diff_only=diff_only)
    sources: dict[Path, bytes] = {}
    texts: dict[Path, str] = {}
    for path in find_files(paths):
        result = FileResult(path)
        report.files.append(result)
        try:
            raw = read_script_bytes(path, EXPECTED)
            texts[path], _ = decode_script(raw, path)
        except LitgenError as error:
            if isinstance(error, UsageError) and len(paths) == 1 and paths[0] == path:
                raise  # the one file named cannot be read: a usage error (exit 2)
            result.error = error
            continue
        sources[path] = raw
    project = project_classes(
        text for path, text in texts.items() if path.suffix in PYTHON_SUFFIXES
    )
    read_by_code = frozenset(
        key
        for path, text in texts.items()
        if path.suffix in PYTHON_SUFFIXES
        for key in config_keys_read(text)
    )
    for result in report.files:
        path = result.path
        if path not in texts:
            continue
        try:
            text = texts[path]
            result.upgraded = (
                upgrade_yaml(text, str(path), read_by_code)
                if path.suffix in YAML_SUFFIXES
                else upgrade_source(text, str(path), project)
            )
        except LitgenError as error:
            result.error = error
            sources.pop(path, None)
            continue
        except Exception as error:  # a litgen bug on one file: the others still upgrade
            result.error = ConversionError(
                f"litgen could not upgrade this file ({type(error).__name__}: {error}); it is left "
                "as it was: please report it",
                path=str(path),
            )
            sources.pop(path, None)
            continue
        if diff_only and result.changed:
            assert result.upgraded is not None
            result.diff = unified_diff(
                result.upgraded.original, result.upgraded.upgraded, str(path), str(path)
            )
    if diff_only:
        return report
    changing = [f for f in report.files if f.changed]
    tracked = _refuse_dirty_trees([f.path for f in changing])
    for result in changing:  # every refusal before the first write: all files or none
        if result.path.is_symlink():
            raise UsageError(
                f"is a symbolic link; upgrade the file it points to ({result.path.resolve()}) instead",
                path=result.path,
            )
        backup = result.path.with_name(result.path.name + ".orig")
        if (
            result.path.resolve() not in tracked
            and backup.exists()
            and backup.read_bytes() != sources[result.path]
        ):
            raise UsageError(
                f"{backup} already exists; move it away before upgrading in place", path=result.path
            )
    for result in changing:
        assert result.upgraded is not None
        _, encoding = decode_script(sources[result.path], result.path)
        new = result.upgraded.upgraded.encode(encoding)
        if result.path.resolve() in tracked:
            if result.path.read_bytes() != sources[result.path]:
                raise UsageError(
                    "changed while upgrading it; nothing more was written, try again",
                    path=result.path,
                )
            write_atomically(result.path, new)
        else:
            result.backup = rewrite_keeping_backup(
                result.path, sources[result.path], new, "upgrade", "upgrading"
            )
        result.written = True
    return report


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None  # no git: the files are treated as outside git (backups)


def _refuse_dirty_trees(paths: list[Path]) -> set[Path]:
    """The files git tracks (undo with git); raises UsageError when a work tree has uncommitted changes."""
    tracked: set[Path] = set()
    checked: dict[Path, bool] = {}
    for path in paths:
        folder = path.resolve().parent
        top = _git(folder, "rev-parse", "--show-toplevel")
        if top is None or top.returncode != 0:
            continue
        root = Path(top.stdout.strip())
        if root not in checked:
            status = _git(root, "status", "--porcelain", "--untracked-files=no")
            dirty = status is None or status.returncode != 0 or bool(status.stdout.strip())
            if dirty:
                first = (
                    status.stdout.lstrip("\n").splitlines()[0][3:]
                    if status is not None and status.stdout.strip()
                    else "?"
                )
                raise UsageError(
                    f"the git work tree has uncommitted changes ({first}); commit or stash them first, "
                    "so the upgrade can be reviewed with `git diff` and undone with git",
                    path=root,
                )
            checked[root] = True
        listed = _git(folder, "ls-files", "--error-unmatch", path.name)
        if listed is not None and listed.returncode == 0:
            tracked.add(path.resolve())
    return tracked
