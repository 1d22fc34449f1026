"""Tests for the CLI surface: help texts, exit codes, one-line errors, and no heavy imports on light paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import litgen

MINI = str(Path(__file__).parent / "fixtures" / "templates" / "mini")


def test_help_names_every_command_and_its_module() -> None:
    result = litgen("--help")
    assert result.returncode == 0
    for command in ("new", "convert", "check", "templates"):
        assert command in result.stdout
    assert "litgen/new.py" in result.stdout and "litgen/check.py" in result.stdout


def test_version() -> None:
    result = litgen("--version")
    assert result.returncode == 0 and result.stdout.startswith("litgen ")


def test_templates_lists_the_default_template() -> None:
    result = litgen("templates")
    assert result.returncode == 0
    assert result.stdout.splitlines()[0].startswith("classifier")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["new", "{dest}", "--template", "nope", "--defaults"], "unknown template 'nope'"),
        (
            ["new", "{dest}", "--template", MINI, "--defaults", "--data", "colour=red"],
            "has no question 'colour'",
        ),
        (
            ["new", "{dest}", "--template", MINI, "--defaults", "--data", "epochs"],
            "--data expects KEY=VALUE",
        ),
        (
            ["new", "{dest}", "--template", MINI, "--defaults", "--data", "epochs=0"],
            "epochs must be at least 1",
        ),
        (
            ["new", "{dest}", "--template", MINI, "--defaults", "--data", "project_name=a b"],
            "Python identifier",
        ),
        (["convert", "{dest}/x.py", "--diff", "--in-place"], "cannot be combined"),
    ],
)
def test_bad_input_is_one_line_with_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    dest = tmp_path / "proj"
    result = litgen(*(arg.format(dest=dest) for arg in args))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("litgen: error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not dest.exists()


def test_non_empty_destination_exit_2_and_untouched(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text("x = 1\n")
    result = litgen("new", str(tmp_path), "--template", MINI, "--defaults", "--no-check")
    assert result.returncode == 2
    assert f"litgen: error: {tmp_path.resolve()}: is not empty" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["mine.py"]


def test_unknown_command_and_missing_argument_exit_2() -> None:
    assert litgen("nosuch").returncode == 2
    assert litgen("check").returncode == 2
    assert litgen("new").returncode == 2


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = litgen("--debug", "new", str(tmp_path / "p"), "--template", "nope", "--defaults")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


_IMPORT_PROBE = """
import sys
from litgen.cli import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    code = done.code
heavy = sorted(m for m in ("torch", "lightning", "pytorch_lightning") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), "CODE=" + str(code))
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["templates"],
        ["new", "{dest}", "--defaults", "--no-check"],
        ["new", "{dest}", "--template", MINI, "--defaults", "--no-check"],
        ["upgrade", "--diff", "{old}"],
    ],
    ids=["help", "templates", "new-classifier-no-check", "new-mini-no-check", "upgrade-diff"],
)
def test_light_commands_never_import_torch_or_lightning(tmp_path: Path, args: list[str]) -> None:
    old = tmp_path / "train_1x.py"
    old.write_text("import pytorch_lightning as pl\ntrainer = pl.Trainer(gpus=0)\n")
    argv = [arg.format(dest=tmp_path / "proj", old=old) for arg in args]
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, *argv], capture_output=True, text=True, timeout=120
    )
    assert "HEAVY= CODE=0" in result.stdout, result.stdout + result.stderr


def test_templates_show_each_questions_choices_and_default_and_json() -> None:
    text = litgen("templates").stdout
    assert "  optimizer: adam | adamw | sgd [default: adam]" in text
    assert (
        "  callbacks: model_checkpoint | early_stopping | lr_monitor (several, comma-separated)"
        in text
    )
    payload = json.loads(litgen("templates", "--json").stdout)
    classifier = next(template for template in payload if template["name"] == "classifier")
    optimizer = next(
        question for question in classifier["questions"] if question["name"] == "optimizer"
    )
    assert optimizer == {
        "name": "optimizer",
        "type": "str",
        "default": "adam",
        "choices": ["adam", "adamw", "sgd"],
        "multiselect": False,
    }


@pytest.mark.parametrize(
    "command", ["new", "templates", "check", "convert", "verify", "update", "add", "upgrade"]
)
def test_short_help_works_everywhere_with_readme_placeholders(command: str) -> None:
    result = litgen(command, "-h")
    assert result.returncode == 0 and result.stdout.startswith(f"Usage: litgen {command}")
    placeholders = {
        "new": "DEST",
        "check": "PATH",
        "convert": "INPUT",
        "verify": "ORIGINAL",
        "add": "COMPONENT",
        "upgrade": "PATH...",
    }
    assert placeholders.get(command, "") in result.stdout.splitlines()[0]


def test_new_ends_with_the_commands_to_run_next(tmp_path: Path) -> None:
    result = litgen("new", str(tmp_path / "proj"), "--defaults", "--no-check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-4:] == [
        "next:",
        f"  cd {tmp_path / 'proj'}",
        "  python -m pip install -e '.[dev]'   # or train from src/ with PYTHONPATH=src",
        "  python -m digits_classifier fit --config configs/default.yaml",
    ]


def test_shell_completion_can_be_installed() -> None:
    result = litgen("--help")
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout
