"""`litgen convert` end to end: where it writes, what it refuses to overwrite, --diff, --in-place, --json."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli_helpers import litgen
from tests.convert.helpers import FIXTURES
from tests.goldens import expected_text

CASE = FIXTURES / "functions_main"


@pytest.fixture()
def script(tmp_path: Path) -> Path:
    target = tmp_path / "train.py"
    shutil.copyfile(CASE / "input.py", target)
    return target


def _expected(name: str = "train.py") -> str:
    return expected_text(CASE).replace("input.py", name)


def test_writes_stem_lightning_beside_the_input(script: Path) -> None:
    before = script.read_bytes()
    result = litgen("convert", str(script))
    assert result.returncode == 0, result.stderr
    output = script.with_name("train_lightning.py")
    assert output.read_text(encoding="utf-8") == _expected()
    assert script.read_bytes() == before
    assert f"converted {script} -> {output}" in result.stdout
    assert "-> training_step" in result.stdout
    assert "Trainer(max_epochs=args.epochs)" in result.stdout


def test_refuses_to_overwrite_an_existing_output(script: Path) -> None:
    existing = script.with_name("train_lightning.py")
    existing.write_text("# mine\n", encoding="utf-8")
    result = litgen("convert", str(script))
    assert result.returncode == 2
    assert "already exists; delete it or choose another file with -o" in result.stderr
    assert existing.read_text(encoding="utf-8") == "# mine\n"
    assert len(result.stderr.strip().splitlines()) == 1


def test_output_option_writes_elsewhere(script: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "lit.py"
    target.parent.mkdir()
    result = litgen("convert", str(script), "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_text(encoding="utf-8") == _expected()
    assert not script.with_name("train_lightning.py").exists()


def test_diff_prints_a_unified_diff_and_writes_nothing(script: Path) -> None:
    result = litgen("convert", str(script), "--diff")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"--- {script}\n+++ {script.with_name('train_lightning.py')}\n")
    assert "+class LitNet(L.LightningModule):" in result.stdout
    assert "-    for epoch in range(1, args.epochs + 1):" in result.stdout
    assert "diff only, nothing written" in result.stderr
    assert sorted(p.name for p in script.parent.iterdir()) == ["train.py"]


def test_in_place_keeps_the_original_as_orig(script: Path) -> None:
    original = script.read_bytes()
    result = litgen("convert", str(script), "--in-place")
    assert result.returncode == 0, result.stderr
    assert script.with_name("train.py.orig").read_bytes() == original
    assert script.read_text(encoding="utf-8") == _expected()
    again = litgen("convert", str(script), "--in-place")
    assert again.returncode == 0
    assert "already Lightning" in again.stdout
    assert script.read_text(encoding="utf-8") == _expected()


def test_in_place_refuses_when_orig_exists(script: Path) -> None:
    original = script.read_bytes()
    script.with_name("train.py.orig").write_text("older\n", encoding="utf-8")
    result = litgen("convert", str(script), "--in-place")
    assert result.returncode == 2
    assert "train.py.orig already exists" in result.stderr
    assert script.read_bytes() == original


def test_json_report(script: Path) -> None:
    result = litgen("convert", str(script), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["output"] == str(script.with_name("train_lightning.py"))
    assert report["lightning_module"] == "LitNet"
    constructs = {entry["construct"]: entry for entry in report["mapping"]}
    assert constructs["batch loop body"] == {
        "construct": "batch loop body",
        "line": 25,
        "target": "training_step",
    }
    assert constructs["scheduler.step()"]["target"] == 'configure_optimizers (interval="epoch")'
    assert report["warnings"] == [] and report["refused"] == []


def test_converted_output_is_a_no_op_the_second_time(script: Path) -> None:
    assert litgen("convert", str(script)).returncode == 0
    output = script.with_name("train_lightning.py")
    again = litgen("convert", str(output))
    assert again.returncode == 0
    assert (
        again.stdout.strip() == f"{output}: already Lightning (it imports lightning); nothing to do"
    )
    assert not output.with_name("train_lightning_lightning.py").exists()


def test_refusal_exits_1_with_line_and_construct(tmp_path: Path) -> None:
    target = tmp_path / "hogwild.py"
    shutil.copyfile(FIXTURES / "refuse_hogwild" / "input.py", target)
    result = litgen("convert", str(target))
    assert result.returncode == 1
    assert result.stderr.startswith(f"litgen: error: {target}:19: Hogwild-style training")
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hogwild.py"]


def test_missing_input_exits_2(tmp_path: Path) -> None:
    result = litgen("convert", str(tmp_path / "nope.py"))
    assert result.returncode == 2
    assert "no such file" in result.stderr


def test_warnings_are_printed_with_file_and_line_and_left_as_review_comments(
    tmp_path: Path,
) -> None:
    target = tmp_path / "amp.py"
    target.write_text(
        "import torch\n"
        "model = torch.nn.Linear(2, 1)\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "data = [(torch.randn(4, 2), torch.randn(4, 1))]\n"
        "for epoch in range(2):\n"
        "    for x, y in data:\n"
        "        optimizer.zero_grad()\n"
        "        with torch.autocast(device_type=x.device.type):\n"
        "            loss = ((model(x) - y) ** 2).mean()\n"
        "        loss.backward()\n"
        "        optimizer.step()\n",
        encoding="utf-8",
    )
    result = litgen("convert", str(target))
    assert result.returncode == 0, result.stderr
    assert (
        f"{target}:8: warning: autocast picks its dtype from the device at run time"
        in result.stdout
    )
    written = target.with_name("amp_lightning.py").read_text(encoding="utf-8")
    assert (
        "# litgen: autocast picks its dtype from the device at run time; check the precision\ntrainer = L.Trainer("
        in written
    )


@pytest.mark.slow
def test_check_option_trains_the_converted_script(script: Path) -> None:
    result = litgen("convert", str(script), "--check")
    assert result.returncode == 0, result.stderr
    assert f"PASS {script.with_name('train_lightning.py')}" in result.stdout


def test_json_refusal_is_a_json_object_with_exit_1(tmp_path: Path) -> None:
    target = tmp_path / "hogwild.py"
    shutil.copyfile(FIXTURES / "refuse_hogwild" / "input.py", target)
    result = litgen("convert", str(target), "--json")
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert payload["input"] == str(target)
    assert "Hogwild" in payload["error"] and isinstance(payload["line"], int)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hogwild.py"]


@pytest.mark.slow
def test_check_option_on_an_already_lightning_script_checks_that_script(script: Path) -> None:
    assert litgen("convert", str(script)).returncode == 0
    converted = script.with_name("train_lightning.py")
    result = litgen("convert", str(converted), "--check")
    assert result.returncode == 0, result.stderr
    assert "already Lightning" in result.stdout
    assert f"PASS {converted}" in result.stdout


# --- inputs that are not plain scripts, and in-place safety (nothing lost, never half-written) ----


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: os.mkfifo(p), "is not a regular file (a pipe, device or socket)"),
        (
            lambda p: os.truncate(p.write_bytes(b"") or p, 11 * 1024 * 1024),
            "is 11 MB; litgen reads Python scripts up to 10 MB",
        ),
        (lambda p: p.write_bytes(b"x = '\xff\xfe'\n"), "cannot decode the file as Python source"),
    ],
)
def test_inputs_that_are_not_readable_scripts_exit_2_at_once(
    tmp_path: Path, make: object, message: str
) -> None:
    target = tmp_path / "train.py"
    make(target)  # type: ignore[operator]
    started = time.monotonic()
    result = litgen("convert", str(target))
    assert time.monotonic() - started < 30  # a FIFO is never opened, so nothing blocks
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"litgen: error: {target}: {message}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.py"]


def test_a_character_device_is_refused(tmp_path: Path) -> None:
    result = litgen("convert", "/dev/null", "-o", str(tmp_path / "out.py"))
    assert result.returncode == 2 and "is not a regular file" in result.stderr


def test_outputs_keep_the_input_mode(script: Path) -> None:
    script.chmod(0o750)
    assert litgen("convert", str(script)).returncode == 0
    assert stat.S_IMODE(script.with_name("train_lightning.py").stat().st_mode) == 0o750
    assert litgen("convert", str(script), "--in-place").returncode == 0
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert stat.S_IMODE(script.with_name("train.py.orig").stat().st_mode) == 0o750


def test_in_place_refuses_a_symbolic_link_and_touches_nothing(script: Path) -> None:
    link = script.with_name("link.py")
    link.symlink_to(script.name)
    before = script.read_bytes()
    result = litgen("convert", str(link), "--in-place")
    assert result.returncode == 2
    assert (
        f"is a symbolic link; convert the file it points to ({script.resolve()}) in place instead"
        in result.stderr
    )
    assert script.read_bytes() == before and link.is_symlink()
    assert sorted(p.name for p in script.parent.iterdir()) == ["link.py", "train.py"]


def test_in_place_reuses_a_leftover_backup_that_still_equals_the_input(script: Path) -> None:
    original = script.read_bytes()
    # what a run killed before its rewrite leaves
    script.with_name("train.py.orig").write_bytes(original)
    result = litgen("convert", str(script), "--in-place")
    assert result.returncode == 0, result.stderr
    assert script.with_name("train.py.orig").read_bytes() == original
    assert script.read_text(encoding="utf-8") == _expected()


def test_a_refused_in_place_conversion_leaves_no_backup(tmp_path: Path) -> None:
    target = tmp_path / "hogwild.py"
    shutil.copyfile(FIXTURES / "refuse_hogwild" / "input.py", target)
    assert litgen("convert", str(target), "--in-place").returncode == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hogwild.py"]


def _run_at_once(copies: int, *args: str) -> list[int]:
    """Start COPIES `litgen ARGS` processes together; their exit codes."""
    command = [sys.executable, "-m", "litgen", *args]
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(copies)
    ]
    for run in runs:
        run.communicate(timeout=120)
    return [run.returncode for run in runs]


def test_concurrent_in_place_runs_never_lose_the_original(script: Path) -> None:
    original = script.read_bytes()
    codes = _run_at_once(4, "convert", str(script), "--in-place")
    assert 0 in codes and set(codes) <= {0, 2}
    assert script.with_name("train.py.orig").read_bytes() == original
    assert script.read_text(encoding="utf-8") == _expected()
    assert sorted(p.name for p in script.parent.iterdir()) == ["train.py", "train.py.orig"]


def test_concurrent_runs_never_replace_each_others_output(script: Path) -> None:
    codes = _run_at_once(4, "convert", str(script))
    assert codes.count(0) >= 1 and set(codes) <= {0, 2}
    assert script.with_name("train_lightning.py").read_text(encoding="utf-8") == _expected()
    assert sorted(p.name for p in script.parent.iterdir()) == ["train.py", "train_lightning.py"]


def test_a_syntax_warning_in_the_script_does_not_leak_into_litgens_output(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    source = (FIXTURES / "single_epoch" / "input.py").read_text(encoding="utf-8")
    script.write_text(source + "\nif 'a' is not 'b':\n    pass\n", encoding="utf-8")
    done = litgen("convert", str(script))
    assert done.returncode == 0, done.stderr
    assert "SyntaxWarning" not in done.stderr
