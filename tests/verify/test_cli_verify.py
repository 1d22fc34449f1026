"""`litgen verify` and `litgen convert --verify` end to end: exit codes, one-line errors, the report, --json."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import litgen as run_litgen
from tests.convert.helpers import FIXTURES

CLASSIFIER = Path(__file__).resolve().parents[1] / "fixtures" / "verify" / "classifier"
ORIGINAL, CONVERTED = CLASSIFIER / "original.py", CLASSIFIER / "converted.py"


def litgen(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_litgen(*args, cwd=cwd, timeout=300)  # a verify runs both programs


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("litgen: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["verify", "missing.py", str(CONVERTED)],
            "missing.py: no such file; verify compares two Python scripts",
        ),
        (
            ["verify", str(ORIGINAL), str(CONVERTED), "--steps", "0"],
            "--steps must be a positive integer or 'all'",
        ),
        (
            ["verify", str(ORIGINAL), str(CONVERTED), "--steps", "few"],
            "--steps must be a positive integer or 'all'",
        ),
        (
            ["verify", str(ORIGINAL), str(CONVERTED), "--devices", "0"],
            "--devices must be a number of CPU processes",
        ),
        (
            ["verify", str(ORIGINAL), str(CONVERTED), "--rtol", "-1"],
            "--rtol must be a relative tolerance",
        ),
        (["verify", str(ORIGINAL), str(CLASSIFIER)], "verify compares two Python scripts"),
        (["convert", str(ORIGINAL), "--diff", "--verify"], "cannot be combined with --diff"),
        (
            ["convert", str(ORIGINAL), "--in-place", "--verify"],
            "run `litgen verify INPUT.orig INPUT`",
        ),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(args: list[str], message: str) -> None:
    result = litgen(*args)
    assert result.returncode == 2
    assert message in _one_error_line(result)


def test_importing_verify_imports_no_torch() -> None:
    code = (
        "import sys, litgen.cli, litgen.verify; print(sorted(m for m in sys.modules if "
        "m.split('.')[0] in ('torch', 'lightning')))"
    )
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "[]"
    )


@pytest.mark.slow
def test_verify_passes_script_arguments_to_both_and_prints_json() -> None:
    result = litgen(
        "verify", str(ORIGINAL), str(CONVERTED), "--steps", "3", "--json", "--", "--lr", "0.05"
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["agree"] is True and payload["first_difference"] is None
    assert payload["options"]["script_args"] == ["--lr", "0.05"]
    assert [row["lrs"] for row in payload["steps"]] == [[0.05]] * 3
    assert {row["batch"] for row in payload["steps"]} == {"same"}


@pytest.mark.slow
def test_a_divergence_exits_1_naming_the_step_and_the_cause(tmp_path: Path) -> None:
    tampered = tmp_path / "converted.py"
    tampered.write_text(
        CONVERTED.read_text(encoding="utf-8").replace("momentum=0.9)", "momentum=0.5)")
    )
    result = litgen("verify", str(ORIGINAL), str(tampered), "--steps", "3")
    assert result.returncode == 1
    error = _one_error_line(result)
    assert error.startswith(
        f"litgen: error: {tampered}: does not compute what {ORIGINAL} computes at step 3: loss 0."
    )
    # momentum acts from the second update on, so the first loss that differs is the third one
    assert "verdict: DIVERGE at step 3: different computation" in result.stdout
    table = [line.split() for line in result.stdout.splitlines() if line.strip()[:1].isdigit()]
    assert [row[0] for row in table] == ["1", "2", "3"] and table[0][-1] == "same"


@pytest.mark.slow
def test_convert_verify_converts_then_verifies(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    shutil.copyfile(FIXTURES / "functions_main" / "input.py", script)
    result = litgen("convert", str(script), "--verify", "--steps", "4")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "train_lightning.py").is_file()
    assert "verdict: AGREE" in result.stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == ["train.py", "train_lightning.py"]
