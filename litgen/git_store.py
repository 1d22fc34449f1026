"""Git plumbing for template versions: git run with litgen's identity, no hooks or signing; commits, tags."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from litgen.errors import LitgenError, UsageError

# Commits litgen makes must not depend on the user's git identity, hooks or signing setup.
_IDENTITY = {
    "GIT_AUTHOR_NAME": "litgen",
    "GIT_AUTHOR_EMAIL": "litgen@localhost",
    "GIT_COMMITTER_NAME": "litgen",
    "GIT_COMMITTER_EMAIL": "litgen@localhost",
}


class GitFailed(LitgenError):
    """A git command that litgen relies on failed (exit 1); the reason is git's last line."""

    exit_code = 1


def run_git(
    args: Sequence[str],
    git_dir: Path | None,
    stdin: str | None,
    env: Mapping[str, str] | None,
    cwd: Path | None,
) -> subprocess.CompletedProcess[str]:
    command = [
        "git",
        "-c",
        "commit.gpgsign=false",
        "-c",
        "tag.gpgsign=false",
        "-c",
        f"core.hooksPath={os.devnull}",
    ]
    if git_dir is not None:
        command.append(f"--git-dir={git_dir}")
    full_env = {**os.environ, **_IDENTITY, "LC_ALL": "C", **(env or {})}
    try:
        return subprocess.run(
            [*command, *args], cwd=cwd, input=stdin, capture_output=True, text=True, env=full_env
        )
    except FileNotFoundError:
        raise UsageError("git is not installed; litgen keeps template versions in git") from None


def git(
    *args: str,
    cwd: Path | None = None,
    git_dir: Path | None = None,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run git with litgen's identity and without hooks or signing; return stdout, or raise GitFailed."""
    result = run_git(args, git_dir, stdin, env, cwd)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise GitFailed(
            f"git {args[0]} failed: {lines[-1] if lines else f'exit {result.returncode}'}"
        )
    return result.stdout


def git_succeeds(*args: str, cwd: Path | None = None, git_dir: Path | None = None) -> bool:
    """Whether a git command (a question such as ``cat-file -e``) exits 0."""
    return run_git(args, git_dir, None, None, cwd).returncode == 0


def git_available() -> bool:
    return shutil.which("git") is not None


def _commit_env(unix_time: int | None) -> dict[str, str]:
    if unix_time is None:
        return {}
    stamp = f"{unix_time} +0000"
    return {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}


def commit_tree(
    git_dir: Path, tree: str, parent: str | None, message: str, unix_time: int | None = None
) -> str:
    """A commit of TREE; with a fixed UNIX_TIME the same inputs always give the same commit id."""
    parents = ["-p", parent] if parent else []
    return git(
        "commit-tree", tree, *parents, "-m", message, git_dir=git_dir, env=_commit_env(unix_time)
    ).strip()


def list_tags(git_dir: Path, namespace: str = "refs/tags/") -> dict[str, tuple[str, str, int]]:
    """tag -> (commit, tree, commit time) for every tag under NAMESPACE (lightweight tags on commits)."""
    output = git(
        "for-each-ref",
        "--format=%(refname)%00%(objectname)%00%(tree)%00%(committerdate:unix)",
        namespace,
        git_dir=git_dir,
    )
    tags: dict[str, tuple[str, str, int]] = {}
    for line in output.splitlines():
        ref, commit, tree, when = line.split("\0")
        tags[ref.removeprefix(namespace)] = (commit, tree, int(when or 0))
    return tags
