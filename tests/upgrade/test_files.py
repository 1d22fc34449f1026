"""`upgrade_paths` / `find_files`: which files are read, and when and how they are written (git, backups)."""

from __future__ import annotations

from pathlib import Path

import pytest

from litgen.errors import UsageError
from litgen.upgrade.files import find_files, upgrade_paths
from tests.upgrade.files_helpers import (
    NEW,
    NEW_YAML,
    OLD,
    OLD_YAML,
    PLAIN,
    git,
    make_repo,
    snapshot,
    write,
)

# --- find_files -----------------------------------------------------------------------------------


def test_walk_finds_python_and_yaml_files_and_skips_hidden_build_and_linked_entries(
    tmp_path: Path,
) -> None:
    for name in ("a.py", "conf.yaml", "conf2.yml", "sub/b.py", "sub/deeper/c.yaml"):
        write(tmp_path / name, PLAIN)
    for name in ("notes.txt", "data.json", "script.pyc", "a.py.orig"):
        write(tmp_path / name, PLAIN)
    for skipped in (
        ".hidden",
        "__pycache__",
        "venv",
        ".venv",
        "build",
        "dist",
        "node_modules",
        "pkg.egg-info",
    ):
        write(tmp_path / skipped / "x.py", PLAIN)
    outside = write(tmp_path.parent / f"{tmp_path.name}-outside" / "far.py", PLAIN)
    (tmp_path / "linked_file.py").symlink_to(tmp_path / "a.py")
    (tmp_path / "linked_dir").symlink_to(outside.parent, target_is_directory=True)

    found = find_files([tmp_path])

    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.py",
        "conf.yaml",
        "conf2.yml",
        "sub/b.py",
        "sub/deeper/c.yaml",
    ]


def test_a_file_named_twice_or_inside_a_named_folder_is_listed_once(tmp_path: Path) -> None:
    script = write(tmp_path / "a.py", PLAIN)
    assert find_files([tmp_path, script, script]) == [script]


@pytest.mark.parametrize("name", ["notes.txt", "setup.cfg", "train.ipynb"])
def test_an_explicit_file_that_is_neither_python_nor_yaml_is_a_usage_error(
    tmp_path: Path, name: str
) -> None:
    other = write(tmp_path / name, PLAIN)
    with pytest.raises(UsageError) as raised:
        upgrade_paths([other])
    assert raised.value.exit_code == 2
    assert "neither a .py file nor a YAML config" in str(raised.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_missing_path_is_a_usage_error_and_nothing_is_written(tmp_path: Path) -> None:
    script = write(tmp_path / "train.py", OLD)
    with pytest.raises(UsageError) as raised:
        upgrade_paths([script, tmp_path / "nope.py"])
    assert raised.value.exit_code == 2
    assert "no such file or folder" in str(raised.value)
    assert "nope.py" in str(raised.value)
    assert script.read_text(encoding="utf-8") == OLD
    assert not (tmp_path / "train.py.orig").exists()


def test_an_explicit_link_to_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path / "real" / "train.py", OLD)
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    with pytest.raises(UsageError, match="link to a folder"):
        upgrade_paths([tmp_path / "alias"])
    assert (tmp_path / "real" / "train.py").read_text(encoding="utf-8") == OLD


# --- outside git: NAME.orig backups
# --------------------------------------------------------------------


def test_outside_git_a_changed_file_is_rewritten_and_the_original_kept_as_orig(
    tmp_path: Path,
) -> None:
    script = write(tmp_path / "train.py", OLD)
    report = upgrade_paths([tmp_path])
    assert script.read_text(encoding="utf-8") == NEW
    backup = tmp_path / "train.py.orig"
    assert backup.read_bytes() == OLD.encode("utf-8")
    [result] = report.files
    assert result.written and result.changed and result.backup == backup
    assert result.error is None and not report.failed
    assert any("train_dataloaders" in change.text for change in result.upgraded.changes)


def test_a_yaml_config_in_a_folder_is_upgraded_with_a_backup(tmp_path: Path) -> None:
    config = write(tmp_path / "configs" / "trainer.yaml", OLD_YAML)
    upgrade_paths([tmp_path])
    assert config.read_text(encoding="utf-8") == NEW_YAML
    assert config.with_name("trainer.yaml.orig").read_text(encoding="utf-8") == OLD_YAML


def test_an_unchanged_file_gets_no_backup_and_is_not_written(tmp_path: Path) -> None:
    plain = write(tmp_path / "utils.py", PLAIN)
    already = write(tmp_path / "new.py", NEW)
    before = snapshot(tmp_path)
    report = upgrade_paths([tmp_path])
    assert snapshot(tmp_path) == before
    assert [(r.path, r.changed, r.written, r.backup) for r in report.files] == [
        (already, False, False, None),
        (plain, False, False, None),
    ]


def test_a_second_run_changes_nothing_and_writes_nothing(tmp_path: Path) -> None:
    write(tmp_path / "train.py", OLD)
    write(tmp_path / "trainer.yaml", OLD_YAML)
    upgrade_paths([tmp_path])
    before = snapshot(tmp_path)
    assert set(before) == {"train.py", "train.py.orig", "trainer.yaml", "trainer.yaml.orig"}

    again = upgrade_paths([tmp_path])

    assert snapshot(tmp_path) == before  # same bytes, same mtimes, no new files
    assert [r.path.name for r in again.files] == [
        "train.py",
        "trainer.yaml",
    ]  # the .orig files are not read
    assert not any(r.changed or r.written for r in again.files)
    assert not again.failed


def test_an_existing_different_orig_blocks_every_write(tmp_path: Path) -> None:
    first = write(tmp_path / "a.py", OLD)
    second = write(tmp_path / "b.py", OLD)
    write(tmp_path / "b.py.orig", "# an older backup the user kept\n")
    before = snapshot(tmp_path)
    with pytest.raises(UsageError) as raised:
        upgrade_paths([tmp_path])
    assert raised.value.exit_code == 2
    assert "b.py.orig already exists" in str(raised.value)
    assert snapshot(tmp_path) == before  # a.py, which had no backup in the way, is untouched too
    assert first.read_text(encoding="utf-8") == OLD and second.read_text(encoding="utf-8") == OLD


def test_an_existing_orig_equal_to_the_file_is_reused(tmp_path: Path) -> None:
    script = write(tmp_path / "train.py", OLD)
    write(tmp_path / "train.py.orig", OLD)  # a run killed between backup and rewrite left this
    report = upgrade_paths([script])
    assert script.read_text(encoding="utf-8") == NEW
    assert (tmp_path / "train.py.orig").read_text(encoding="utf-8") == OLD
    assert report.files[0].written


# --- inside git
# --------------------------------------------------------------------------------------


def test_inside_a_clean_git_tree_the_file_is_rewritten_without_a_backup(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"t1.py": OLD, "t2.py": PLAIN})
    report = upgrade_paths([repo])
    assert (repo / "t1.py").read_text(encoding="utf-8") == NEW
    assert not (repo / "t1.py.orig").exists()
    assert [r.backup for r in report.files] == [None, None]
    assert report.files[0].written
    assert git(repo, "status", "--porcelain").splitlines() == [" M t1.py"]  # review with git diff


def test_a_dirty_git_tree_is_refused_naming_the_dirty_file(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"t1.py": OLD, "t2.py": PLAIN})
    write(repo / "t2.py", "x = 2\n")  # modified, not committed
    before = snapshot(repo)
    with pytest.raises(UsageError) as raised:
        upgrade_paths([repo])
    message = str(raised.value)
    assert raised.value.exit_code == 2
    assert "uncommitted changes" in message
    assert "(t2.py)" in message  # the whole name, not a truncated one
    assert snapshot(repo) == before


def test_a_staged_change_in_a_subfolder_also_makes_the_tree_dirty(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"t1.py": OLD, "pkg/mod.py": PLAIN})
    write(repo / "pkg" / "mod.py", "x = 3\n")
    git(repo, "add", "pkg/mod.py")
    with pytest.raises(UsageError, match=r"uncommitted changes \(pkg/mod\.py\)"):
        upgrade_paths([repo / "t1.py"])
    assert (repo / "t1.py").read_text(encoding="utf-8") == OLD


def test_an_untracked_file_in_a_clean_repo_gets_a_backup(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"tracked.py": PLAIN})
    untracked = write(repo / "new_train.py", OLD)
    report = upgrade_paths([repo])
    assert untracked.read_text(encoding="utf-8") == NEW
    assert (repo / "new_train.py.orig").read_text(encoding="utf-8") == OLD
    assert {r.path.name: r.backup for r in report.files} == {
        "new_train.py": repo / "new_train.py.orig",
        "tracked.py": None,
    }


# --- diff only, errors, what is written
# ------------------------------------------------------------------


def test_diff_only_writes_nothing_and_holds_a_unified_diff(tmp_path: Path) -> None:
    script = write(tmp_path / "train.py", OLD)
    write(tmp_path / "utils.py", PLAIN)
    before = snapshot(tmp_path)
    report = upgrade_paths([tmp_path], diff_only=True)
    assert snapshot(tmp_path) == before
    changed, unchanged = report.files
    assert report.diff_only and not changed.written and changed.backup is None
    assert changed.diff is not None
    assert changed.diff.startswith(f"--- {script}\n+++ {script}\n@@ ")
    assert "-trainer = pl.Trainer(gpus=1, max_epochs=3)\n" in changed.diff
    assert '+trainer = pl.Trainer(accelerator="cuda", devices=1, max_epochs=3)\n' in changed.diff
    assert unchanged.diff is None and not unchanged.changed
