"""`upgrade_paths` / `find_files`: which files are read, and when and how they are written (git, backups)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from litgen.errors import ConversionError, UsageError
from litgen.upgrade.files import find_files, upgrade_paths

OLD = (
    "import pytorch_lightning as pl\n"
    "trainer = pl.Trainer(gpus=1, max_epochs=3)\n"
    "trainer.fit(model, train_dataloader=loader)\n"
)
NEW = (
    "import lightning.pytorch as pl\n"
    'trainer = pl.Trainer(accelerator="cuda", devices=1, max_epochs=3)\n'
    "trainer.fit(model, train_dataloaders=loader)\n"
)
PLAIN = "x = 1\n"  # nothing Lightning about it: upgrading changes nothing
OLD_YAML = "trainer:\n  gpus: 1\n  max_epochs: 3\n"
NEW_YAML = "trainer:\n  accelerator: cuda\n  devices: 1\n  max_epochs: 3\n"


@pytest.fixture(autouse=True)
def _outside_any_enclosing_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """git must not find a repository above tmp_path (it is not one unless a test runs `git init`)."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def _repo(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in files.items():
        _write(folder / name, text)
    _git(folder, "init", "-q")
    _git(folder, "config", "user.email", "tests@example.com")
    _git(folder, "config", "user.name", "Tests")
    _git(folder, "config", "commit.gpgsign", "false")
    _git(folder, "add", ".")
    _git(folder, "commit", "-q", "-m", "initial")
    return folder


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under FOLDER (outside .git) with its bytes and mtime."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(folder).parts
    }


# --- find_files -----------------------------------------------------------------------------------


def test_walk_finds_python_and_yaml_files_and_skips_hidden_build_and_linked_entries(
    tmp_path: Path,
) -> None:
    for name in ("a.py", "conf.yaml", "conf2.yml", "sub/b.py", "sub/deeper/c.yaml"):
        _write(tmp_path / name, PLAIN)
    for name in ("notes.txt", "data.json", "script.pyc", "a.py.orig"):
        _write(tmp_path / name, PLAIN)
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
        _write(tmp_path / skipped / "x.py", PLAIN)
    outside = _write(tmp_path.parent / f"{tmp_path.name}-outside" / "far.py", PLAIN)
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
    script = _write(tmp_path / "a.py", PLAIN)
    assert find_files([tmp_path, script, script]) == [script]


@pytest.mark.parametrize("name", ["notes.txt", "setup.cfg", "train.ipynb"])
def test_an_explicit_file_that_is_neither_python_nor_yaml_is_a_usage_error(
    tmp_path: Path, name: str
) -> None:
    other = _write(tmp_path / name, PLAIN)
    with pytest.raises(UsageError) as raised:
        upgrade_paths([other])
    assert raised.value.exit_code == 2
    assert "neither a .py file nor a YAML config" in str(raised.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_missing_path_is_a_usage_error_and_nothing_is_written(tmp_path: Path) -> None:
    script = _write(tmp_path / "train.py", OLD)
    with pytest.raises(UsageError) as raised:
        upgrade_paths([script, tmp_path / "nope.py"])
    assert raised.value.exit_code == 2
    assert "no such file or folder" in str(raised.value)
    assert "nope.py" in str(raised.value)
    assert script.read_text(encoding="utf-8") == OLD
    assert not (tmp_path / "train.py.orig").exists()


def test_an_explicit_link_to_a_folder_is_a_usage_error(tmp_path: Path) -> None:
    _write(tmp_path / "real" / "train.py", OLD)
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    with pytest.raises(UsageError, match="link to a folder"):
        upgrade_paths([tmp_path / "alias"])
    assert (tmp_path / "real" / "train.py").read_text(encoding="utf-8") == OLD


# --- outside git: NAME.orig backups
# --------------------------------------------------------------------


def test_outside_git_a_changed_file_is_rewritten_and_the_original_kept_as_orig(
    tmp_path: Path,
) -> None:
    script = _write(tmp_path / "train.py", OLD)
    report = upgrade_paths([tmp_path])
    assert script.read_text(encoding="utf-8") == NEW
    backup = tmp_path / "train.py.orig"
    assert backup.read_bytes() == OLD.encode("utf-8")
    [result] = report.files
    assert result.written and result.changed and result.backup == backup
    assert result.error is None and not report.failed
    assert any("train_dataloaders" in change.text for change in result.upgraded.changes)


def test_a_yaml_config_in_a_folder_is_upgraded_with_a_backup(tmp_path: Path) -> None:
    config = _write(tmp_path / "configs" / "trainer.yaml", OLD_YAML)
    upgrade_paths([tmp_path])
    assert config.read_text(encoding="utf-8") == NEW_YAML
    assert config.with_name("trainer.yaml.orig").read_text(encoding="utf-8") == OLD_YAML


def test_an_unchanged_file_gets_no_backup_and_is_not_written(tmp_path: Path) -> None:
    plain = _write(tmp_path / "utils.py", PLAIN)
    already = _write(tmp_path / "new.py", NEW)
    before = _snapshot(tmp_path)
    report = upgrade_paths([tmp_path])
    assert _snapshot(tmp_path) == before
    assert [(r.path, r.changed, r.written, r.backup) for r in report.files] == [
        (already, False, False, None),
        (plain, False, False, None),
    ]


def test_a_second_run_changes_nothing_and_writes_nothing(tmp_path: Path) -> None:
    _write(tmp_path / "train.py", OLD)
    _write(tmp_path / "trainer.yaml", OLD_YAML)
    upgrade_paths([tmp_path])
    before = _snapshot(tmp_path)
    assert set(before) == {"train.py", "train.py.orig", "trainer.yaml", "trainer.yaml.orig"}

    again = upgrade_paths([tmp_path])

    assert _snapshot(tmp_path) == before  # same bytes, same mtimes, no new files
    assert [r.path.name for r in again.files] == [
        "train.py",
        "trainer.yaml",
    ]  # the .orig files are not read
    assert not any(r.changed or r.written for r in again.files)
    assert not again.failed


def test_an_existing_different_orig_blocks_every_write(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.py", OLD)
    second = _write(tmp_path / "b.py", OLD)
    _write(tmp_path / "b.py.orig", "# an older backup the user kept\n")
    before = _snapshot(tmp_path)
    with pytest.raises(UsageError) as raised:
        upgrade_paths([tmp_path])
    assert raised.value.exit_code == 2
    assert "b.py.orig already exists" in str(raised.value)
    assert _snapshot(tmp_path) == before  # a.py, which had no backup in the way, is untouched too
    assert first.read_text(encoding="utf-8") == OLD and second.read_text(encoding="utf-8") == OLD


def test_an_existing_orig_equal_to_the_file_is_reused(tmp_path: Path) -> None:
    script = _write(tmp_path / "train.py", OLD)
    _write(tmp_path / "train.py.orig", OLD)  # a run killed between backup and rewrite left this
    report = upgrade_paths([script])
    assert script.read_text(encoding="utf-8") == NEW
    assert (tmp_path / "train.py.orig").read_text(encoding="utf-8") == OLD
    assert report.files[0].written


# --- inside git
# --------------------------------------------------------------------------------------


def test_inside_a_clean_git_tree_the_file_is_rewritten_without_a_backup(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo", {"t1.py": OLD, "t2.py": PLAIN})
    report = upgrade_paths([repo])
    assert (repo / "t1.py").read_text(encoding="utf-8") == NEW
    assert not (repo / "t1.py.orig").exists()
    assert [r.backup for r in report.files] == [None, None]
    assert report.files[0].written
    assert _git(repo, "status", "--porcelain").splitlines() == [" M t1.py"]  # review with git diff


def test_a_dirty_git_tree_is_refused_naming_the_dirty_file(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo", {"t1.py": OLD, "t2.py": PLAIN})
    _write(repo / "t2.py", "x = 2\n")  # modified, not committed
    before = _snapshot(repo)
    with pytest.raises(UsageError) as raised:
        upgrade_paths([repo])
    message = str(raised.value)
    assert raised.value.exit_code == 2
    assert "uncommitted changes" in message
    assert "(t2.py)" in message  # the whole name, not a truncated one
    assert _snapshot(repo) == before


def test_a_staged_change_in_a_subfolder_also_makes_the_tree_dirty(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo", {"t1.py": OLD, "pkg/mod.py": PLAIN})
    _write(repo / "pkg" / "mod.py", "x = 3\n")
    _git(repo, "add", "pkg/mod.py")
    with pytest.raises(UsageError, match=r"uncommitted changes \(pkg/mod\.py\)"):
        upgrade_paths([repo / "t1.py"])
    assert (repo / "t1.py").read_text(encoding="utf-8") == OLD


def test_an_untracked_file_in_a_clean_repo_gets_a_backup(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo", {"tracked.py": PLAIN})
    untracked = _write(repo / "new_train.py", OLD)
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
    script = _write(tmp_path / "train.py", OLD)
    _write(tmp_path / "utils.py", PLAIN)
    before = _snapshot(tmp_path)
    report = upgrade_paths([tmp_path], diff_only=True)
    assert _snapshot(tmp_path) == before
    changed, unchanged = report.files
    assert report.diff_only and not changed.written and changed.backup is None
    assert changed.diff is not None
    assert changed.diff.startswith(f"--- {script}\n+++ {script}\n@@ ")
    assert "-trainer = pl.Trainer(gpus=1, max_epochs=3)\n" in changed.diff
    assert '+trainer = pl.Trainer(accelerator="cuda", devices=1, max_epochs=3)\n' in changed.diff
    assert unchanged.diff is None and not unchanged.changed


def test_a_file_that_does_not_parse_is_reported_and_the_others_still_upgraded(
    tmp_path: Path,
) -> None:
    good = _write(tmp_path / "a_good.py", OLD)
    broken = _write(
        tmp_path / "b_broken.py", "import pytorch_lightning as pl\n\ndef oops(:\n    pass\n"
    )
    config = _write(tmp_path / "c.yaml", OLD_YAML)
    report = upgrade_paths([tmp_path])
    assert report.failed
    results = {r.path.name: r for r in report.files}
    error = results["b_broken.py"].error
    assert isinstance(error, ConversionError) and error.exit_code == 1
    assert error.line is not None
    assert str(error).startswith(f"{broken}:{error.line}: not valid Python")
    assert broken.read_text(encoding="utf-8").startswith(
        "import pytorch_lightning"
    )  # left as it was
    assert not (tmp_path / "b_broken.py.orig").exists()
    assert good.read_text(encoding="utf-8") == NEW and results["a_good.py"].written
    assert config.read_text(encoding="utf-8") == NEW_YAML and results["c.yaml"].written


def test_invalid_yaml_among_good_files_is_reported_with_its_line(tmp_path: Path) -> None:
    _write(tmp_path / "bad.yaml", "trainer:\n  gpus: [1,\n  x: : :\n")
    good = _write(tmp_path / "good.py", OLD)
    report = upgrade_paths([tmp_path])
    bad = report.files[0]
    assert isinstance(bad.error, ConversionError) and bad.error.line == 3
    assert good.read_text(encoding="utf-8") == NEW
    assert report.failed


def test_a_single_file_that_does_not_parse_is_reported_not_raised(tmp_path: Path) -> None:
    """A parse error is a conversion problem (exit 1, listed per file), not a usage error."""
    broken = _write(tmp_path / "broken.py", "import pytorch_lightning as pl\nx = (\n")
    report = upgrade_paths([broken])
    [result] = report.files
    assert isinstance(result.error, ConversionError) and result.error.line is not None
    assert report.failed and not result.written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.py"]


def test_a_single_undecodable_file_is_a_usage_error_but_in_a_folder_it_is_reported(
    tmp_path: Path,
) -> None:
    undecodable = tmp_path / "latin.py"
    undecodable.write_bytes(
        b"import pytorch_lightning as pl\nname = '\xe9'\n"
    )  # not UTF-8, no coding cookie
    good = _write(tmp_path / "train.py", OLD)
    with pytest.raises(UsageError, match="cannot decode"):
        upgrade_paths([undecodable])
    report = upgrade_paths([tmp_path])
    results = {r.path.name: r for r in report.files}
    assert isinstance(results["latin.py"].error, UsageError)
    assert report.failed
    assert good.read_text(encoding="utf-8") == NEW


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    for index in range(3):
        _write(tmp_path / f"train{index}.py", OLD)
    _write(tmp_path / "trainer.yaml", OLD_YAML)
    upgrade_paths([tmp_path])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")]
    assert names == sorted(
        [f"train{i}.py" for i in range(3)]
        + [f"train{i}.py.orig" for i in range(3)]
        + ["trainer.yaml", "trainer.yaml.orig"]
    )


def test_an_executable_script_stays_executable_and_so_does_its_backup(tmp_path: Path) -> None:
    script = _write(tmp_path / "train.py", "#!/usr/bin/env python\n" + OLD)
    script.chmod(0o755)
    upgrade_paths([script])
    assert script.read_text(encoding="utf-8") == "#!/usr/bin/env python\n" + NEW
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "train.py.orig").stat().st_mode) == 0o755
    assert os.access(script, os.X_OK)


def test_the_source_encoding_is_kept(tmp_path: Path) -> None:
    header = "# -*- coding: latin-1 -*-\n"
    script = tmp_path / "train.py"
    original = (header + OLD + "author = 'Jos\u00e9'\n").encode("latin-1")
    script.write_bytes(original)
    upgrade_paths([script])
    assert script.read_bytes() == (header + NEW + "author = 'Jos\u00e9'\n").encode("latin-1")
    assert (tmp_path / "train.py.orig").read_bytes() == original


def test_a_utf8_bom_and_crlf_line_endings_are_kept(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_bytes(b"\xef\xbb\xbf" + OLD.replace("\n", "\r\n").encode("utf-8"))
    upgrade_paths([script])
    assert script.read_bytes() == b"\xef\xbb\xbf" + NEW.replace("\n", "\r\n").encode("utf-8")


# --- known bugs
# ------------------------------------------------------------------------------------------


def test_a_syntax_error_is_reported_at_its_own_line(tmp_path: Path) -> None:
    broken = _write(tmp_path / "broken.py", "import pytorch_lightning as pl\nb = = 2\nc = 3\n")
    [result] = upgrade_paths([broken]).files
    assert result.error is not None
    assert result.error.line == 2


def test_a_deeply_nested_but_valid_file_is_reported_not_crashing_the_run(tmp_path: Path) -> None:
    good = _write(tmp_path / "a_train.py", OLD)
    text = (
        "import pytorch_lightning as pl\nHELP = (\n"
        + "".join(f'    "line {i}\\n"\n' for i in range(1000))
        + ")\n"
    )
    compile(text, "b_help.py", "exec")  # valid Python
    _write(tmp_path / "b_help.py", text)
    report = upgrade_paths([tmp_path])
    results = {r.path.name: r for r in report.files}
    assert isinstance(results["b_help.py"].error, ConversionError)
    assert good.read_text(encoding="utf-8") == NEW


def test_an_explicit_symlinked_file_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.py", OLD)
    _write(tmp_path / "b.py", OLD)
    (tmp_path / "link.py").symlink_to(tmp_path / "b.py")
    with pytest.raises(UsageError, match="symbolic link"):
        upgrade_paths([first, tmp_path / "link.py"])
    assert first.read_text(encoding="utf-8") == OLD
    assert not (tmp_path / "a.py.orig").exists()


def test_the_same_file_named_twice_is_upgraded_once(tmp_path: Path) -> None:
    script = _write(tmp_path / "train.py", OLD)
    (tmp_path / "sub").mkdir()
    report = upgrade_paths([script, tmp_path / "sub" / ".." / "train.py"])
    assert script.read_text(encoding="utf-8") == NEW
    assert sum(r.written for r in report.files) == 1
    assert not report.failed
