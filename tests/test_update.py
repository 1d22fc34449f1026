"""Tests for litgen.update: copier's three-way merge brings a new template version and keeps the user's edits.

Each test builds its own release history of a tiny template (version N, then a change as N+1),
with the same machinery a litgen release uses, in a temporary cache. No test needs the network.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from versioned_templates import (
    Releases,
    commit_all,
    new_project,
    write_files,
)

import litgen
from litgen.catalog import templates_root
from litgen.errors import LitgenError, UsageError
from litgen.new import create_project
from litgen.template_release import add_release
from litgen.template_source import installed_source, record_pinned_source, set_answers_source
from litgen.update import MergeConflicts, check_update, read_project, update_project


def test_update_keeps_the_users_edit_and_brings_the_template_change(
    releases: Releases, tmp_path: Path
) -> None:
    """The issue's acceptance test: generate with N, edit, update to N+1; both the edit and the change survive."""
    project = new_project(releases, tmp_path)
    train = project / "train.py"
    train.write_text(train.read_text().replace("default=3", "default=10"))  # the user's edit
    (project / "mine.txt").write_text("a file the template does not know\n")
    commit_all(project, "my changes")

    # Version N+1: a new question used in train.py, a new file, and a file dropped.
    releases.edit(
        "copier.yml",
        "project_name:",
        "learning_rate:\n  type: float\n  default: 0.01\nproject_name:",
    )
    releases.edit("project/train.py.jinja", "lr = 0.1", "lr = {{ learning_rate }}")
    write_files(releases.template, {"project/configs/extra.yaml": "added: in 1.1\n"})
    (releases.template / "project" / "NOTES.md").unlink()
    releases.release("1.1.0")

    assert check_update(project).available
    report = update_project(project)

    text = train.read_text()
    assert "default=10" in text, "the user's edit was lost"
    assert "lr = 0.01" in text, "the template change did not arrive"
    assert (project / "configs" / "extra.yaml").read_text() == "added: in 1.1\n"
    assert not (project / "NOTES.md").exists()
    assert (project / "mine.txt").read_text() == "a file the template does not know\n"
    assert (report.changed, report.added, report.removed, report.conflicts) == (
        [".copier-answers.yml", "train.py"],
        ["configs/extra.yaml"],
        ["NOTES.md"],
        [],
    )
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["_src_path"], answers["_commit"], answers["learning_rate"]) == (
        "litgen:demo",
        "v1.1.0",
        0.01,
    )
    assert not check_update(project).available
    assert not list(project.rglob("*.litgen-partial"))


def test_update_of_a_real_classifier_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, git_identity: None
) -> None:
    """The same round trip with the shipped template's classifier task, its long answers file and its
    subfolder layout.
    """
    root = tmp_path / "templates"
    shutil.copytree(
        templates_root() / "lightning",
        root / "lightning",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    monkeypatch.setattr("litgen.catalog.templates_root", lambda: root)
    monkeypatch.setattr("litgen.template_source.BUNDLE_PATH", tmp_path / "history.bundle")
    monkeypatch.setattr(litgen, "__version__", "1.0.0")
    add_release(tmp_path / "history.bundle", root, "1.0.0")
    project = create_project(
        tmp_path / "proj", template="classifier", answers={"optimizer": "sgd"}, use_defaults=True
    ).dest
    model = project / "src" / "digits_classifier" / "model.py"
    model.write_text(model.read_text().replace("nn.ReLU(),", "nn.GELU(),"))
    commit_all(project, "my model")

    config = root / "lightning" / "project" / "configs" / "default.yaml.jinja"
    config.write_text(
        config.read_text().replace("  log_every_n_steps: 5", "  log_every_n_steps: 10")
    )
    monkeypatch.setattr(litgen, "__version__", "1.1.0")
    add_release(tmp_path / "history.bundle", root, "1.1.0")
    report = update_project(project)

    assert (
        report.changed == [".copier-answers.yml", "configs/default.yaml"] and report.conflicts == []
    )
    assert "nn.GELU()," in model.read_text() and "nn.ReLU()," not in model.read_text()
    assert (
        yaml.safe_load((project / "configs" / "default.yaml").read_text())["trainer"][
            "log_every_n_steps"
        ]
        == 10
    )
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["_commit"], answers["optimizer"]) == ("v1.1.0", "sgd")


@pytest.mark.parametrize(
    ("task", "module", "edit"),
    [
        ("classifier", "digits_classifier", ("nn.ReLU(),", "nn.GELU(),")),
        ("gan", "ring_gan", ("nn.LeakyReLU(0.2)", "nn.LeakyReLU(0.1)")),
    ],
)
def test_a_0_1_0_project_updates_to_the_shared_template_keeping_a_user_edit(
    tmp_path: Path, git_identity: None, task: str, module: str, edit: tuple[str, str]
) -> None:
    """A project generated by litgen 0.1.0 (its own template folder) moves to the task of the shared template."""
    import copier

    source = installed_source()
    old = source.existing(task, "v0.1.0")
    assert old is not None, "the shipped bundle records the five templates of 0.1.0"
    project = tmp_path / "proj"
    copier.run_copy(str(old.repo), project, vcs_ref=old.tag, defaults=True, quiet=True)
    record_pinned_source(project, old)  # what litgen 0.1.0's `litgen new` recorded
    model = project / "src" / module / "model.py"
    assert edit[0] in model.read_text()
    model.write_text(model.read_text().replace(edit[0], edit[1]))
    commit_all(project, "generated by 0.1.0, then edited")

    report = update_project(project)

    assert (
        report.from_tag == "v0.1.0"
        and report.to_tag.startswith("v0.1.0")
        and report.conflicts == []
    )
    assert edit[1] in model.read_text() and edit[0] not in model.read_text(), (
        "the user's edit was lost"
    )
    assert {"configs/barebones.yaml", "tests/test_model.py", f"src/{module}/inmemory.py"} <= set(
        report.added
    )
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["_src_path"], answers["task"]) == (f"litgen:{task}", task)
    assert "from conftest import" not in (project / "tests" / "test_training.py").read_text()


def test_update_to_unreleased_templates_of_a_development_checkout(
    releases: Releases, tmp_path: Path
) -> None:
    project = new_project(releases, tmp_path)
    releases.edit("project/train.py.jinja", "lr = 0.1", "lr = 0.05")  # edited, not released
    report = update_project(project)
    assert (report.from_tag, report.to_tag) == ("v1.0.0", "v1.0.0+dev.1")
    assert "lr = 0.05" in (project / "train.py").read_text()
    commit_all(project, "updated")
    releases.edit("project/train.py.jinja", "lr = 0.05", "lr = 0.02")
    assert update_project(project).to_tag == "v1.0.0+dev.2", (
        "a later development state is not a downgrade"
    )


def test_conflicting_edits_get_markers_with_both_versions(
    releases: Releases, tmp_path: Path
) -> None:
    project = new_project(releases, tmp_path)
    train = project / "train.py"
    train.write_text(train.read_text().replace("lr = 0.1", "lr = 0.5  # tuned by hand"))
    commit_all(project)
    releases.edit("project/train.py.jinja", "lr = 0.1", "lr = 0.01")
    releases.release("1.1.0")

    report = update_project(project)

    assert report.conflicts == ["train.py"]
    text = train.read_text()
    assert "<<<<<<< before updating" in text and ">>>>>>> after updating" in text
    assert "lr = 0.5  # tuned by hand" in text and "lr = 0.01" in text
    with pytest.raises(MergeConflicts, match="train.py"):
        report.raise_for_conflicts()


def test_a_dropped_file_the_user_changed_is_kept(releases: Releases, tmp_path: Path) -> None:
    project = new_project(releases, tmp_path)
    (project / "NOTES.md").write_text("my own notes now\n")
    commit_all(project)
    (releases.template / "project" / "NOTES.md").unlink()
    releases.release("1.1.0")

    report = update_project(project)

    assert (project / "NOTES.md").read_text() == "my own notes now\n"
    assert report.removed == [] and report.kept == [
        "NOTES.md: the new template dropped it, but you changed it"
    ]


def test_up_to_date_project_is_left_alone(releases: Releases, tmp_path: Path) -> None:
    project = new_project(releases, tmp_path)
    status = check_update(project)
    assert not status.available and status.summary().endswith("is up to date (demo v1.0.0)")
    report = update_project(project)
    assert not report.touched and report.summary_lines("updated") == [
        f"{project} is up to date (demo v1.0.0)"
    ]


def test_update_refuses_uncommitted_changes_and_non_git_projects(
    releases: Releases, tmp_path: Path
) -> None:
    releases.release("1.0.0")
    plain = create_project(tmp_path / "plain", template="demo", use_defaults=True).dest
    releases.edit("project/train.py.jinja", "lr = 0.1", "lr = 0.01")
    releases.release("1.1.0")
    with pytest.raises(UsageError, match="not in a git repository.*git init"):
        update_project(plain)
    commit_all(plain)
    (plain / "train.py").write_text("changed, not committed\n")
    with pytest.raises(UsageError, match=r"uncommitted changes \(1 file\(s\), e.g. train.py\)"):
        update_project(plain)
    assert (plain / "train.py").read_text() == "changed, not committed\n"


def _project_with_a_pending_update(releases: Releases, tmp_path: Path) -> Path:
    """A project made from template 1.0.0, while 1.1.0 (one changed line) is released."""
    project = new_project(releases, tmp_path)
    releases.edit("project/train.py.jinja", "lr = 0.1", "lr = 0.01")
    releases.release("1.1.0")
    return project


def _project_files(project: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts}


def _break_a_swap(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: Callable[[list[Path]], BaseException | None],
) -> list[Path]:
    """Every file a merge swaps into PROJECT, in order; a swap raises what `failure` makes of them."""
    real_replace = os.replace
    swapped: list[Path] = []

    def replace(source: str | Path, target: str | Path) -> None:
        if Path(target).is_relative_to(project):
            swapped.append(Path(target))
            error = failure(swapped)
            if error is not None:
                raise error
        real_replace(source, target)

    monkeypatch.setattr("litgen.merge_files.os.replace", replace)
    return swapped


def test_a_failing_merge_leaves_the_project_untouched(
    releases: Releases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project_with_a_pending_update(releases, tmp_path)
    before = _project_files(project)
    # one file is already swapped in when the second fails: it must be put back
    disk_full = OSError(28, "No space left on device")
    swaps_into_project = _break_a_swap(
        project, monkeypatch, lambda swapped: disk_full if len(swapped) == 2 else None
    )
    with pytest.raises(LitgenError, match="No space left on device.*the project was restored"):
        update_project(project)
    assert len(swaps_into_project) == 2
    assert _project_files(project) == before


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (None, "is not a litgen project"),
        ("_src_path: /somewhere/else\n_commit: v1\n", "not a litgen template"),
        ("_src_path: litgen:demo\n", "records no template version"),
        ("_src_path: [unclosed\n", "is not valid YAML"),
    ],
)
def test_projects_litgen_cannot_update_are_refused(
    tmp_path: Path, answers: str | None, message: str
) -> None:
    if answers is not None:
        (tmp_path / ".copier-answers.yml").write_text(answers)
    with pytest.raises(UsageError, match=message):
        read_project(tmp_path)


def test_downgrades_and_unknown_versions_are_refused(releases: Releases, tmp_path: Path) -> None:
    project = new_project(releases, tmp_path)
    answers = project / ".copier-answers.yml"
    set_answers_source(answers, "litgen:demo", "v2.0.0")
    commit_all(project)
    with pytest.raises(UsageError, match="newer template demo v2.0.0.*upgrade litgen"):
        update_project(project)
    set_answers_source(answers, "litgen:demo", "v0.5.0+dev.3")
    commit_all(project)
    with pytest.raises(
        UsageError, match=r"v0.5.0\+dev.3, which this litgen does not have \(it has: v1.0.0\)"
    ):
        update_project(project)


def test_cli_update_check_and_conflict_exit_codes(
    releases: Releases, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from litgen.cli import main

    project = new_project(releases, tmp_path)
    (project / "train.py").write_text(
        (project / "train.py").read_text().replace("lr = 0.1", "lr = 0.5")
    )
    commit_all(project)
    releases.edit("project/train.py.jinja", "lr = 0.1", "lr = 0.01")
    releases.release("1.1.0")

    def run(*args: str) -> int:
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        return int(exit_info.value.code or 0)

    assert run("update", str(project), "--check") == 1
    assert "update available" in capsys.readouterr().out
    assert run("update", str(project)) == 1
    out, err = capsys.readouterr()
    assert "  C train.py" in out
    assert err.startswith("litgen: error: ") and len(err.strip().splitlines()) == 1
    assert run("update", str(tmp_path / "nowhere")) == 2


def test_the_answers_file_is_swapped_in_last_and_an_interrupt_restores_everything(
    releases: Releases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project_with_a_pending_update(releases, tmp_path)
    before = _project_files(project)
    # Ctrl-C (or SIGTERM, which litgen turns into an exit) right as the answers file goes in
    swapped = _break_a_swap(
        project,
        monkeypatch,
        lambda swaps: KeyboardInterrupt() if swaps[-1].name == ".copier-answers.yml" else None,
    )
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch_root))
    with pytest.raises(KeyboardInterrupt):
        update_project(project)
    assert list(scratch_root.iterdir()) == []  # no litgen-merge-* scratch folder left
    assert swapped[-1].name == ".copier-answers.yml" and len(swapped) >= 2  # every other file first
    assert _project_files(project) == before
    assert check_update(project).available


def test_an_answers_file_that_is_not_utf8_is_a_one_line_error(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / ".copier-answers.yml").write_bytes(
        b"_src_path: litgen:classifier\n_commit: v0.1.0\nname: \xff\xfe\n"
    )
    with pytest.raises(UsageError, match="cannot read it as UTF-8 text") as caught:
        read_project(project)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("cache", ["a-file", "missing/deeper"])
def test_a_cache_that_cannot_be_used_is_a_one_line_error(
    releases: Releases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: str
) -> None:
    project = new_project(releases, tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    if cache == "missing/deeper":
        (tmp_path / "missing").write_text("a file where a folder should be")
    monkeypatch.setenv("LITGEN_CACHE_DIR", str(tmp_path / cache))
    with pytest.raises(
        UsageError,
        match="cannot use the template cache .*set LITGEN_CACHE_DIR to a writable folder",
    ):
        check_update(project)
