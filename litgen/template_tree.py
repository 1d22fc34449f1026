"""A template folder as git stores it: its files, its tree id computed in Python, and writing it."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from litgen.errors import UsageError
from litgen.git_store import git

_SKIPPED_NAMES = frozenset({"__pycache__", ".pytest_cache", ".git", ".DS_Store"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


def _skipped(relative: Path) -> bool:
    return any(part in _SKIPPED_NAMES for part in relative.parts) or relative.name.endswith(
        _SKIPPED_SUFFIXES
    )


def template_files(folder: Path) -> list[Path]:
    """The files of a template folder that belong to the template (no caches), sorted, relative to FOLDER."""
    files = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    return [path for path in files if not _skipped(path)]


def _file_mode(path: Path) -> str:
    return "100755" if os.access(path, os.X_OK) else "100644"


def tree_id(folder: Path) -> str | None:
    """The id git gives FOLDER's files as a tree (what write_tree returns), computed without git or writing.

    Used to find a tag that already holds the folder: equal ids mean equal content. None when
    write_tree would refuse the folder.
    """
    files = template_files(folder)
    if not files or any("\n" in path.as_posix() for path in files):
        return None
    # folder -> {name: (mode, id)}; a sub-folder's entry is filled in once its own tree is hashed
    folders: dict[tuple[str, ...], dict[bytes, tuple[bytes, bytes]]] = {(): {}}
    for path in files:
        data = (folder / path).read_bytes()
        blob = hashlib.sha1(b"blob %d\0%b" % (len(data), data), usedforsecurity=False).digest()
        parts = path.parts
        for depth in range(1, len(parts)):
            folders.setdefault(parts[:depth], {})
        folders[parts[:-1]][os.fsencode(parts[-1])] = (_file_mode(folder / path).encode(), blob)
    for key in sorted(folders, key=len, reverse=True):  # the deepest first
        entries = folders[key]
        # git orders a tree's entries by name, a folder's name compared as if it ended in "/"
        names = sorted(
            entries, key=lambda name: name + b"/" if entries[name][0] == b"40000" else name
        )
        body = b"".join(b"%b %b\0%b" % (entries[name][0], name, entries[name][1]) for name in names)
        tree = hashlib.sha1(b"tree %d\0%b" % (len(body), body), usedforsecurity=False).digest()
        if not key:
            return tree.hex()
        folders[key[:-1]][os.fsencode(key[-1])] = (b"40000", tree)
    raise AssertionError("unreachable: the root folder is hashed last")


def write_tree(git_dir: Path, folder: Path) -> str:
    """Store FOLDER's files as a git tree in GIT_DIR (no work tree or index needed) and return the tree id."""
    files = template_files(folder)
    if not files:
        raise UsageError("holds no template files", path=folder)
    if any("\n" in path.as_posix() for path in files):
        raise UsageError("has a file name with a line break; git cannot store it", path=folder)
    blobs = git(
        "hash-object",
        "-w",
        "--stdin-paths",
        git_dir=git_dir,
        stdin="".join(f"{folder / p}\n" for p in files),
    )
    entries = [
        f"{_file_mode(folder / path)} {blob}\t{path.as_posix()}\0"
        for path, blob in zip(files, blobs.split(), strict=True)
    ]
    with tempfile.TemporaryDirectory(prefix="litgen-index-") as scratch:
        index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        git(
            "update-index",
            "-z",
            "--add",
            "--index-info",
            git_dir=git_dir,
            stdin="".join(entries),
            env=index,
        )
        return git("write-tree", git_dir=git_dir, env=index).strip()
