"""`litgen upgrade` end to end: exit codes, --diff, --json, what goes to stdout and stderr, and staying light."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import litgen as run_litgen
from tests.cli_helpers import python
from tests.upgrade.files_helpers import NEW, OLD

SWA = "import pytorch_lightning as pl\ntrainer = pl.Trainer(stochastic_weight_avg=True)\n"


@pytest.fixture(autouse=True)
def _outside_any_enclosing_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "GIT_CEILING_DIRECTORIES", str(tmp_path.parent)
    )  # inherited by the subprocesses


def litgen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = run_litgen(*args, cwd=cwd)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("litgen: error:")]


def test_exit_0_when_everything_was_upgraded(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(OLD, encoding="utf-8")
    result = litgen("upgrade", "train.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "train.py").read_text(encoding="utf-8") == NEW
    assert (tmp_path / "train.py.orig").read_text(encoding="utf-8") == OLD
    assert "upgraded train.py (3 changes; the original is train.py.orig)" in result.stdout
    assert "1 file read, 1 upgraded" in result.stderr
    assert not _error_lines(result.stderr)


def test_exit_1_and_one_error_line_when_a_litgen_note_needs_the_user(tmp_path: Path) -> None:
    (tmp_path / "swa.py").write_text(SWA, encoding="utf-8")
    result = litgen("upgrade", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert _error_lines(result.stderr) == [
        "litgen: error: some code could not be upgraded: see the `# litgen:` notes listed above"
    ]
    assert result.stderr.rstrip("\n").splitlines()[-1].startswith("litgen: error:")
    assert "swa.py:2: needs you: `stochastic_weight_avg=` was removed" in result.stdout
    upgraded = (tmp_path / "swa.py").read_text(encoding="utf-8")
    assert upgraded.splitlines()[1].startswith("# litgen: `stochastic_weight_avg=` was removed")
    assert "Trainer(stochastic_weight_avg=True)" in upgraded  # left for the user
    assert "1 spot left for you" in result.stderr


def test_a_file_that_does_not_parse_exits_1_naming_it(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import pytorch_lightning as pl\nx = (\n", encoding="utf-8")
    (tmp_path / "train.py").write_text(OLD, encoding="utf-8")
    result = litgen("upgrade", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert any(
        line.startswith("broken.py:") and "not valid Python" in line
        for line in result.stderr.splitlines()
    )
    assert "1 file could not be read" in result.stderr
    assert len(_error_lines(result.stderr)) == 1
    assert (tmp_path / "train.py").read_text(encoding="utf-8") == NEW


def test_a_missing_path_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(OLD, encoding="utf-8")
    result = litgen("upgrade", "train.py", "nope.py", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "litgen: error: nope.py: no such file or folder; expected a Python file, a YAML config or a folder of them"
    )
    assert result.stdout == ""
    assert _files(tmp_path) == {"train.py": OLD.encode("utf-8")}


def test_diff_and_check_together_exit_2_and_write_nothing(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(OLD, encoding="utf-8")
    result = litgen("upgrade", "--diff", "--check", "train.py", cwd=tmp_path)
    assert result.returncode == 2
    [error] = _error_lines(result.stderr)
    assert "--check" in error and "--diff" in error
    assert len(result.stderr.strip().splitlines()) == 1
    assert _files(tmp_path) == {"train.py": OLD.encode("utf-8")}


def test_a_dirty_git_tree_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, timeout=60)

    (tmp_path / "train.py").write_text(OLD, encoding="utf-8")
    (tmp_path / "t2.py").write_text("x = 1\n", encoding="utf-8")
    git("init", "-q")
    git("config", "user.email", "tests@example.com")
    git("config", "user.name", "Tests")
    git("config", "commit.gpgsign", "false")
    git("add", ".")
    git("commit", "-q", "-m", "initial")
    (tmp_path / "t2.py").write_text("x = 2\n", encoding="utf-8")
    result = litgen("upgrade", ".", cwd=tmp_path)
    assert result.returncode == 2
    [error] = _error_lines(result.stderr)
    assert "uncommitted changes (t2.py)" in error
    assert (tmp_path / "train.py").read_text(encoding="utf-8") == OLD


def test_diff_prints_a_unified_diff_on_stdout_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(OLD, encoding="utf-8")
    (tmp_path / "trainer.yaml").write_text("trainer:\n  gpus: 2\n", encoding="utf-8")
    before = _files(tmp_path)
    result = litgen("upgrade", "--diff", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _files(tmp_path) == before
    assert result.stdout.startswith("--- train.py\n+++ train.py\n@@ -1,3 +1,3 @@\n")
    assert "-trainer = pl.Trainer(gpus=1, max_epochs=3)\n" in result.stdout
    assert "+trainer.fit(model, train_dataloaders=loader)\n" in result.stdout
    assert "--- trainer.yaml\n+++ trainer.yaml\n" in result.stdout
    assert "+  accelerator: cuda\n+  devices: 2\n" in result.stdout
    assert all(
        line[:1] in ("-", "+", " ", "@") for line in result.stdout.splitlines()
    )  # only the diff
    assert "would upgrade train.py (3 changes)" in result.stderr
    assert "2 files read, 2 would change" in result.stderr


def test_json_prints_one_object_with_files_changes_and_notes(tmp_path: Path) -> None:
    (tmp_path / "swa.py").write_text(SWA, encoding="utf-8")
    (tmp_path / "train.py").write_text(OLD, encoding="utf-8")
    (tmp_path / "utils.py").write_text("x = 1\n", encoding="utf-8")
    result = litgen("upgrade", "--json", ".", cwd=tmp_path)
    assert result.returncode == 1  # a note needs the user
    report = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert {"files", "changed", "needs_hands"} <= set(report)
    assert report["changed"] == 2 and report["needs_hands"] is True
    files = {entry["path"]: entry for entry in report["files"]}
    assert set(files) == {"swa.py", "train.py", "utils.py"}
    [note] = files["swa.py"]["notes"]
    assert note["line"] == 2 and note["kind"] == "manual" and note["rule"] == "trainer"
    assert "stochastic_weight_avg" in note["message"]
    train = files["train.py"]
    assert train["written"] is True and train["backup"] == "train.py.orig"
    assert train["error"] is None and train["notes"] == [] and len(train["changes"]) == 3
    assert files["utils.py"]["changed"] is False and files["utils.py"]["written"] is False
    assert _error_lines(result.stderr) == [
        "litgen: error: some code could not be upgraded: see the `# litgen:` notes listed above"
    ]


def test_json_with_diff_holds_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(OLD, encoding="utf-8")
    result = litgen("upgrade", "--json", "--diff", "train.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [entry] = json.loads(result.stdout)["files"]
    assert entry["written"] is False and entry["backup"] is None
    assert entry["diff"].startswith("--- train.py\n+++ train.py\n")
    assert _files(tmp_path) == {"train.py": OLD.encode("utf-8")}


def test_json_reports_a_parse_error_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("trainer:\n  gpus: 2\n  max_epochs: : 3\n", encoding="utf-8")
    result = litgen("upgrade", "--json", "bad.yaml", cwd=tmp_path)
    assert result.returncode == 1
    [entry] = json.loads(result.stdout)["files"]
    assert entry["error"]["line"] == 3 and entry["error"]["reason"].startswith("not valid YAML")
    assert json.loads(result.stdout)["needs_hands"] is True


def test_help_lists_the_options(tmp_path: Path) -> None:
    result = litgen("upgrade", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for option in ("--diff", "--check", "--json"):
        assert option in result.stdout
    assert "Lightning 1.x" in result.stdout and "NAME.orig" in result.stdout


IMPORT_PROBE = (
    "import litgen.upgrade.files, litgen.upgrade.report, sys; "
    "assert 'torch' not in sys.modules and 'lightning' not in sys.modules"
)


def test_importing_the_upgrade_modules_does_not_import_torch_or_lightning(tmp_path: Path) -> None:
    result = python("-c", IMPORT_PROBE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


PROBE = """
import sys
from litgen.cli import main
try:
    main(["upgrade", sys.argv[1]])
except SystemExit as done:
    code = done.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "lightning", "pytorch_lightning"))
print("EXIT", code, "HEAVY", heavy)
"""


def test_an_upgrade_run_never_imports_torch_or_lightning(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(OLD, encoding="utf-8")
    (tmp_path / "trainer.yaml").write_text("trainer:\n  gpus: 2\n", encoding="utf-8")
    result = python("-c", PROBE, str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("EXIT 0 HEAVY []"), result.stdout[-500:]
    assert (tmp_path / "train.py").read_text(encoding="utf-8") == NEW
