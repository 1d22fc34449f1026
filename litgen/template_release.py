"""Release time: record the templates folder as ``v<version>`` in the bundle that litgen ships.

    python -m litgen.template_release add-release      # before tagging a release
    python -m litgen.template_release verify           # exit 1 unless templates/ is recorded as v<version>
    python -m litgen.template_release list

The bundle holds one commit per release of the whole ``templates/`` folder (text files only),
each tagged ``v<version>``; litgen/template_source.py turns it into per-template repositories.
Set SOURCE_DATE_EPOCH for a reproducible commit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import litgen
from litgen import catalog
from litgen.errors import LitgenError, UsageError
from litgen.git_store import commit_tree, git, list_tags
from litgen.template_source import (
    BUNDLE_PATH,
    is_release_tag,
    parse_version,
    sorted_by_version,
)
from litgen.template_tree import template_files, write_tree


def bundle_tags(bundle: Path) -> dict[str, str]:
    """tag -> commit of a release bundle (empty when the file does not exist)."""
    if not bundle.is_file():
        return {}
    heads = git("bundle", "list-heads", str(bundle))
    tags = {}
    for line in heads.splitlines():
        commit, _, ref = line.partition(" ")
        if ref.startswith("refs/tags/"):
            tags[ref.removeprefix("refs/tags/")] = commit
    return tags


def add_release(bundle: Path, templates_dir: Path, version: str, *, replace: bool = False) -> str:
    """Append TEMPLATES_DIR to BUNDLE as the release ``v<VERSION>``; returns 'added', 'unchanged' or 'replaced'."""
    tag = f"v{version}"
    new_version = parse_version(tag)
    if not is_release_tag(tag) or new_version.local is not None:
        raise UsageError(f"release version must be a public version, got '{version}'")
    # The bundle is committed to litgen's repository and shipped in the wheel: keep it small and
    # diffable.
    binary = next(
        (
            name
            for name in template_files(templates_dir)
            if b"\0" in (templates_dir / name).read_bytes()
        ),
        None,
    )
    if binary is not None:
        raise UsageError(
            "looks binary; the template history holds text files only", path=templates_dir / binary
        )
    with tempfile.TemporaryDirectory(prefix="litgen-bundle-") as scratch:
        repo = Path(scratch) / "history.git"
        git("init", "--quiet", "--bare", str(repo))
        if bundle.is_file():
            git("fetch", "--quiet", "--no-tags", str(bundle), "+refs/*:refs/*", git_dir=repo)
        tags = list_tags(repo)
        tree = write_tree(repo, templates_dir)
        newest = max(tags, key=parse_version) if tags else None
        outcome = "added"
        if tag in tags:
            if tags[tag][1] == tree:
                return "unchanged"
            if not replace or tag != newest:
                raise UsageError(
                    f"{bundle.name} already holds {tag} with other templates; "
                    "pass --replace to re-record the newest release"
                )
            outcome = "replaced"
        elif newest is not None and parse_version(newest) >= new_version:
            raise UsageError(f"{tag} is not newer than the bundle's newest release {newest}")
        parent: str | None = tags[newest][0] if newest and outcome == "added" else None
        if outcome == "replaced":
            older = [t for t in tags if t != tag]
            parent = tags[max(older, key=parse_version)][0] if older else None
        when = int(os.environ.get("SOURCE_DATE_EPOCH") or 0) or None
        commit = commit_tree(repo, tree, parent, f"litgen {version} templates", when)
        git("update-ref", f"refs/tags/{tag}", commit, git_dir=repo)
        git("update-ref", "refs/heads/main", commit, git_dir=repo)
        git("symbolic-ref", "HEAD", "refs/heads/main", git_dir=repo)
        partial = bundle.with_name(f".{bundle.name}.litgen-partial")
        git("bundle", "create", "--quiet", str(partial), "--all", git_dir=repo)
        os.replace(partial, bundle)
        return outcome


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m litgen.template_release",
        description="Maintain the release history of litgen's templates.",
    )
    parser.add_argument(
        "action",
        choices=["add-release", "list", "verify"],
        help="add-release: record templates/ as v<version>; list: the bundle's tags; "
        "verify: exit 1 unless the bundle holds templates/ as v<version>",
    )
    parser.add_argument("--bundle", type=Path, default=BUNDLE_PATH)
    parser.add_argument(
        "--templates", type=Path, default=None, help="default: the installed templates folder"
    )
    parser.add_argument("--version", default=litgen.__version__)
    parser.add_argument(
        "--replace",
        action="store_true",
        help="re-record the newest release (before it is published)",
    )
    options = parser.parse_args(argv)
    templates_dir = (options.templates or catalog.templates_root()).resolve()
    try:
        if options.action == "list":
            for tag in sorted_by_version(list(bundle_tags(options.bundle))):
                print(tag)
        elif options.action == "add-release":
            outcome = add_release(
                options.bundle, templates_dir, options.version, replace=options.replace
            )
            print(f"{outcome} v{options.version} in {options.bundle}")
        else:
            with tempfile.TemporaryDirectory(prefix="litgen-verify-") as scratch:
                probe = Path(scratch) / "probe.bundle"
                if options.bundle.is_file():
                    shutil.copyfile(options.bundle, probe)
                outcome = add_release(probe, templates_dir, options.version, replace=True)
            if outcome != "unchanged":
                missing = f"{options.bundle} does not hold {templates_dir} as v{options.version}; run add-release"
                print(missing, file=sys.stderr)
                return 1
            print(f"{options.bundle} holds {templates_dir} as v{options.version}")
    except LitgenError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(_main())
