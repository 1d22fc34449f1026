"""Tests for litgen.template_source and litgen.template_release: release bundle, template cache, recorded source.

Each test builds its own release history of a tiny template in a temporary cache; no network.
"""

from __future__ import annotations

import filecmp
import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from versioned_templates import Releases

from litgen.errors import UsageError
from litgen.git_store import git
from litgen.new import create_project
from litgen.template_release import add_release, bundle_tags
from litgen.template_source import (
    BUNDLE_PATH,
    TemplateSource,
    set_answers_source,
)
from litgen.template_tree import tree_id, write_tree


def test_new_project_records_a_stable_source_and_the_release_tag(
    releases: Releases, tmp_path: Path
) -> None:
    releases.release("1.0.0")
    project = create_project(tmp_path / "proj", template="demo", use_defaults=True).dest
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == "litgen:demo"
    assert answers["_commit"] == "v1.0.0"
    assert answers["project_name"] == "demo"


def test_unreleased_templates_get_a_development_tag_on_top_of_the_release(
    releases: Releases,
) -> None:
    source = releases.release("1.0.0")
    assert source.pin("demo").tag == "v1.0.0"
    releases.edit("project/train.py.jinja", "lr = 0.1", "lr = 0.2")
    first = source.pin("demo")
    assert first.tag == "v1.0.0+dev.1"
    assert source.pin("demo").tag == "v1.0.0+dev.1", "the same content must reuse its tag"
    releases.edit("project/train.py.jinja", "lr = 0.2", "lr = 0.3")
    assert source.pin("demo").tag == "v1.0.0+dev.2"
    releases.edit("project/train.py.jinja", "lr = 0.3", "lr = 0.1")
    assert source.pin("demo").tag == "v1.0.0", "content equal to a release pins the release"


def test_new_still_works_when_the_cache_cannot_be_written(
    releases: Releases,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    releases.release("1.0.0")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("LITGEN_CACHE_DIR", str(blocker))
    project = create_project(tmp_path / "proj", template="demo", use_defaults=True).dest
    assert (project / "train.py").is_file()
    assert "_commit" not in yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert "so `litgen update` cannot update it" in capsys.readouterr().err


def test_tree_id_is_the_tree_git_writes(tmp_path: Path) -> None:
    repo = tmp_path / "store.git"
    git("init", "--quiet", "--bare", str(repo))
    folder = tmp_path / "template"
    # names git orders differently from a plain sort (a folder sorts as if it ended in "/")
    names = ["a/z", "a.b", "a-b/x", "a0", "é/ü.txt", "x/y/z/w", "x/y.txt", "x/y-", "__pycache__/c"]
    for name in [*names, "skipped.pyc", "empty"]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(name * 3 if name != "empty" else "")
    (folder / "run.sh").write_text("#!/bin/sh\n")
    (folder / "run.sh").chmod(0o755)
    assert tree_id(folder) == write_tree(repo, folder)
    shipped = Path(__file__).resolve().parent.parent / "templates"
    assert tree_id(shipped) == write_tree(repo, shipped)
    assert tree_id(tmp_path / "missing") is None


def test_a_deleted_cache_is_rebuilt_with_identical_commits(releases: Releases) -> None:
    source = releases.release("1.0.0")
    repo = source.pin("demo").repo
    first = git("rev-parse", "v1.0.0", git_dir=repo)
    shutil.rmtree(source.cache_dir)
    source.pin("demo")
    assert git("rev-parse", "v1.0.0", git_dir=repo) == first


def test_add_release_refuses_an_older_version_and_keeps_published_ones(releases: Releases) -> None:
    releases.release("1.0.0")
    assert add_release(releases.bundle, releases.root, "1.0.0") == "unchanged"
    releases.edit("project/train.py.jinja", "lr = 0.1", "lr = 0.2")
    with pytest.raises(UsageError, match="not newer"):
        add_release(releases.bundle, releases.root, "0.9.0")
    with pytest.raises(UsageError, match="already holds v1.0.0"):
        add_release(releases.bundle, releases.root, "1.0.0")
    assert add_release(releases.bundle, releases.root, "1.0.0", replace=True) == "replaced"
    assert list(bundle_tags(releases.bundle)) == ["v1.0.0"]


def test_add_release_refuses_binary_files(releases: Releases) -> None:
    (releases.template / "project" / "weights.bin").write_bytes(b"\x00\x01")
    with pytest.raises(UsageError, match="weights.bin: looks binary"):
        add_release(releases.bundle, releases.root, "1.0.0")
    assert not releases.bundle.exists()


def test_release_script_verifies_the_bundle(releases: Releases) -> None:
    releases.release("1.0.0")
    script = [
        sys.executable,
        "-m",
        "litgen.template_release",
        "--bundle",
        str(releases.bundle),
        "--templates",
        str(releases.root),
    ]
    assert (
        subprocess.run([*script, "verify", "--version", "1.0.0"], capture_output=True).returncode
        == 0
    )
    releases.edit("project/train.py.jinja", "lr = 0.1", "lr = 0.2")
    unreleased = subprocess.run(
        [*script, "verify", "--version", "1.0.0"], capture_output=True, text=True
    )
    assert unreleased.returncode == 1 and "run add-release" in unreleased.stderr
    added = subprocess.run(
        [*script, "add-release", "--version", "1.1.0"], capture_output=True, text=True
    )
    assert added.returncode == 0, added.stderr
    listed = subprocess.run([*script, "list"], capture_output=True, text=True)
    assert listed.stdout.split() == ["v1.0.0", "v1.1.0"]


def test_rendering_a_shipped_release_tag_equals_rendering_the_folder(
    tmp_path: Path, git_identity: None
) -> None:
    """The shipped bundle holds classifier v0.1.0; litgen new renders the folder and records the tag: same project."""
    import copier

    source = TemplateSource(tmp_path / "installed", BUNDLE_PATH, tmp_path / "cache", "0.1.0")
    subprocess.run(["git", "init", "--quiet", str(tmp_path / "src")], check=True)
    release = bundle_tags(BUNDLE_PATH)["v0.1.0"]
    git("fetch", "--quiet", str(BUNDLE_PATH), "refs/tags/v0.1.0", cwd=tmp_path / "src")
    archive = subprocess.run(
        ["git", "archive", release], cwd=tmp_path / "src", capture_output=True, check=True
    ).stdout
    tarfile.open(fileobj=io.BytesIO(archive)).extractall(tmp_path / "installed", filter="data")
    pinned = source.pin("classifier")
    assert pinned.tag == "v0.1.0"
    copier.run_copy(
        str(pinned.repo), tmp_path / "from-tag", vcs_ref=pinned.tag, defaults=True, quiet=True
    )
    copier.run_copy(
        str(source.templates_root / "classifier"),
        tmp_path / "from-folder",
        defaults=True,
        quiet=True,
    )
    comparison = filecmp.dircmp(tmp_path / "from-tag", tmp_path / "from-folder")
    differing = _deep_differences(comparison)
    assert differing == [".copier-answers.yml"], "only _src_path/_commit may differ"


def _deep_differences(comparison: filecmp.dircmp[str]) -> list[str]:
    found = [*comparison.diff_files, *comparison.left_only, *comparison.right_only]
    for name, sub in comparison.subdirs.items():
        found += [f"{name}/{item}" for item in _deep_differences(sub)]
    return found


def test_set_answers_source_rewrites_only_the_source_lines(tmp_path: Path) -> None:
    answers = tmp_path / ".copier-answers.yml"
    long_path = "/a path with spaces/" + "x" * 90
    answers.write_text(
        "# Changes here will be overwritten by Copier\n_commit: v1\n_src_path: "
        + long_path.replace(" with", "\n    with")
        + "\ndescription: keep me\nname: demo\n"
    )
    # a wrapped value, as yaml writes it
    assert yaml.safe_load(answers.read_text())["_src_path"] == long_path
    set_answers_source(answers, "litgen:demo", "v2")
    assert answers.read_text() == (
        "# Changes here will be overwritten by Copier\n_commit: v2\n_src_path: "
        "litgen:demo\ndescription: keep me\nname: demo\n"
    )
