"""Tests for `litgen check`: target resolution, the probe's forcing rules, verdicts, and real fast_dev_run runs."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from process_helpers import process_is_gone

from litgen import check
from litgen._probe import print_user_traceback
from litgen._probe_trainer import exception_line, force_cpu_fast_dev_run
from litgen.check import (
    CheckResult,
    check_programs,
    judge,
    read_output_tail,
    read_report,
    resolve_target,
)
from litgen.errors import UsageError

FIXTURES = Path(__file__).parent / "fixtures" / "check"
PROJECT = FIXTURES / "project"


def litgen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "litgen", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})}
    )


# --- target resolution ---------------------------------------------------------------------------


def test_a_script_runs_like_python_script_py_with_its_folder_first(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("pass\n")
    target = resolve_target(script, ["--lr", "0.1"])
    assert target.kind == "script"
    assert target.argv == (str(script.resolve()), "--lr", "0.1")
    assert target.sys_path == (str(tmp_path.resolve()),)


def test_a_project_runs_its_module_with_check_args_resolved_against_its_root() -> None:
    target = resolve_target(PROJECT, ["--trainer.max_epochs=2"])
    root = PROJECT.resolve()
    assert target.kind == "module" and target.module == "litgen_fake_project"
    assert target.argv == (
        "litgen_fake_project",
        "fit",
        "--config",
        str(root / "configs" / "default.yaml"),
        "--trainer.max_epochs=2",
    )
    assert target.sys_path == (str(root / "src"),)


def write_file(path: Path) -> Path:
    path.write_text("x\n")
    return path


def write_project(root: Path, litgen_table: str, *, module_dir: str | None = "pkg") -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text(f'[project]\nname = "x"\n{litgen_table}')
    if module_dir:
        (root / "src" / module_dir).mkdir(parents=True)
        (root / "src" / module_dir / "__main__.py").write_text("pass\n")
    (root / "configs").mkdir()
    (root / "configs" / "a.yaml").write_text("{}\n")
    return root


def test_check_args_paths_given_as_option_values_are_resolved_too(tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "p",
        '[tool.litgen]\nmodule = "pkg"\ncheck-args = ["fit", "--config=configs/a.yaml", "--x=none"]\n',
    )
    target = resolve_target(root)
    assert target.argv == (
        "pkg",
        "fit",
        f"--config={root.resolve() / 'configs' / 'a.yaml'}",
        "--x=none",
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.py", "no such file or folder; expected a .py script"),
        (lambda tmp: write_file(tmp / "notes.txt"), "not a Python script"),
        (lambda tmp: tmp, "folder has no pyproject.toml"),
        (lambda tmp: write_project(tmp / "p", ""), "no [tool.litgen] table"),
        (
            lambda tmp: write_project(tmp / "p", "[tool.litgen]\nmodule = 3\n"),
            "module must name the package",
        ),
        (
            lambda tmp: write_project(tmp / "p", '[tool.litgen]\nmodule = "a-b"\n'),
            "module must name the package",
        ),
        (
            lambda tmp: write_project(
                tmp / "p", '[tool.litgen]\nmodule = "pkg"\ncheck-args = "fit"\n'
            ),
            "check-args must be a list of strings",
        ),
        (
            lambda tmp: write_project(
                tmp / "p", '[tool.litgen]\nmodule = "pkg"\n', module_dir=None
            ),
            "has no src/pkg/__main__.py",
        ),
        (lambda tmp: write_project(tmp / "p", "[tool.litgen\n"), "cannot read it"),
        (
            lambda tmp: os.mkfifo(tmp / "pipe.py") or tmp / "pipe.py",
            "not a Python script",
        ),  # never opened
    ],
)
def test_bad_targets_are_usage_errors_naming_the_path(
    tmp_path: Path, make: Any, message: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(UsageError) as caught:
        resolve_target(path)
    assert message in caught.value.reason
    assert str(caught.value).startswith(str(path)), "the error names the file"
    assert caught.value.exit_code == 2


def test_usage_errors_come_before_any_program_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / "good.py"
    good.write_text("pass\n")
    monkeypatch.setattr(check, "_ProbeSession", None)  # any attempt to run would raise TypeError
    with pytest.raises(UsageError, match="no such file"):
        check_programs([good, tmp_path / "missing.py"])
    for timeout in (0, -1, float("inf"), float("nan")):
        with pytest.raises(UsageError, match="--timeout must be a positive number"):
            check_programs([good], timeout=timeout)


def test_checking_imports_neither_torch_nor_lightning() -> None:
    code = "import sys, litgen.check, litgen._probe; print([m for m in ('torch', 'lightning') if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_cli_exit_2_names_a_missing_path(tmp_path: Path) -> None:
    result = litgen("check", str(tmp_path / "nope.py"))
    assert result.returncode == 2
    expected = f"{tmp_path / 'nope.py'}: no such file or folder; expected {check.EXPECTED_TARGET}"
    assert result.stderr.strip() == f"litgen: error: {expected}"


# --- the probe's forcing rules (pure; Lightning not needed) --------------------------------------


@pytest.mark.parametrize(
    ("given", "expected", "note"),
    [
        (
            {"precision": "16-mixed"},
            {"precision": "bf16-mixed"},
            "precision '16-mixed' was checked as 'bf16-mixed'",
        ),
        (
            {"precision": 16},
            {"precision": "bf16-mixed"},
            "precision 16 was checked as 'bf16-mixed' on CPU",
        ),
        (
            {"precision": "16-true"},
            {"precision": "bf16-true"},
            "precision '16-true' was checked as 'bf16-true'",
        ),
        (
            {"strategy": "deepspeed_stage_2"},
            {"strategy": "auto"},
            "strategy 'deepspeed_stage_2' was checked as",
        ),
        ({"strategy": "fsdp"}, {"strategy": "auto"}, "strategy 'fsdp' was checked as 'auto'"),
        (
            {"strategy": "ddp_spawn"},
            {"strategy": "auto"},
            "strategy 'ddp_spawn' was checked as 'auto'",
        ),
        (
            {"accelerator": "gpu", "devices": 4},
            {"accelerator": "cpu", "devices": 1},
            "accelerator 'gpu' was checked",
        ),
        ({"devices": [0, 1]}, {"devices": 1}, "devices=[0, 1] was checked as devices=1"),
        ({"num_nodes": 2}, {"num_nodes": 1}, "num_nodes=2 was checked as num_nodes=1"),
        (
            {"barebones": True},
            {"barebones": False},
            "barebones=True was checked as barebones=False",
        ),
    ],
)
def test_gpu_only_settings_map_to_their_cpu_equivalent_with_a_note(
    given: dict[str, Any], expected: dict[str, Any], note: str
) -> None:
    forced, notes = force_cpu_fast_dev_run(given)
    for key, value in expected.items():
        assert forced[key] == value
    assert any(n.startswith(note) for n in notes), notes


def test_a_long_run_is_forced_to_one_fast_cpu_batch_without_notes() -> None:
    given = {
        "fast_dev_run": False,
        "max_epochs": 1000,
        "accelerator": "cpu",
        "devices": "auto",
        "callbacks": None,
    }
    forced, notes = force_cpu_fast_dev_run(given)
    assert notes == []
    # fast_dev_run caps the epochs
    assert forced["fast_dev_run"] is True and forced["max_epochs"] == 1000
    assert (forced["accelerator"], forced["devices"], forced["num_nodes"]) == ("cpu", 1, 1)
    assert forced["callbacks"] == []
    assert given["fast_dev_run"] is False, "the caller's dict is not modified"


def test_loggers_and_checkpointing_are_left_to_fast_dev_run() -> None:
    # fast_dev_run already makes them no-ops; forcing them off would break LearningRateMonitor,
    # trainer.log_dir and trainer.checkpoint_callback users
    checkpoint, logger = object(), object()
    forced, notes = force_cpu_fast_dev_run(
        {"callbacks": checkpoint, "logger": logger, "enable_checkpointing": True}
    )
    assert forced["callbacks"] == [checkpoint]
    assert forced["logger"] is logger and forced["enable_checkpointing"] is True
    assert "logger" not in force_cpu_fast_dev_run({})[0]
    assert not any(
        name.startswith("PL_TRAINER_LOGGER") or "CHECKPOINTING" in name for name in check.FORCED_ENV
    )


def test_tracebacks_start_at_the_program_like_python_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "boom.py"
    script.write_text("def main():\n    raise RuntimeError('boom')\n\nmain()\n")
    try:
        runpy.run_path(str(script), run_name="__main__")
    except RuntimeError as error:
        print_user_traceback(error)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1].startswith(f'  File "{script}", line 4')
    assert lines[-1] == "RuntimeError: boom"


def test_exception_line_is_one_line() -> None:
    assert (
        exception_line(ZeroDivisionError("division by zero"))
        == "ZeroDivisionError: division by zero"
    )
    assert exception_line(ValueError("\nfirst\nsecond")) == "ValueError: first"
    assert exception_line(KeyboardInterrupt()) == "KeyboardInterrupt"


# --- verdicts from reports -----------------------------------------------------------------------


def report(**counters: Any) -> dict[str, Any]:
    return {
        "trainers": 1,
        "train_batches": 1,
        "val_batches": 1,
        "notes": [],
        "exception": None,
        **counters,
    }


@pytest.mark.parametrize(
    ("end", "probe_report", "tail", "reason"),
    [
        (
            {"exit_code": 1},
            report(exception="ZeroDivisionError: division by zero"),
            "",
            "exited with code 1: ZeroDivisionError: division by zero",
        ),
        (  # no exception recorded (sys.exit(2) from argparse): the last line of output says why
            {"exit_code": 2},
            report(trainers=0),
            "usage: x\nerror: unrecognized arguments: --y\n",
            "exited with code 2: error: unrecognized arguments: --y",
        ),
        (
            {"exit_code": 0},
            report(trainers=0, train_batches=0),
            "",
            "no Lightning Trainer was created",
        ),
        (
            {"exit_code": 0},
            report(train_batches=0),
            "",
            "a Trainer was created but no training step ran",
        ),
        (
            {"exit_code": None, "timed_out": True},
            report(),
            "",
            "timed out after 30 s (process tree killed)",
        ),
        ({"exit_code": None, "signal": "SIGSEGV"}, report(), "", "killed by signal SIGSEGV"),
        ({"exit_code": 0}, None, "", "the check process left no report"),
        (
            {"failure": "the check process died while this program ran"},
            None,
            "",
            "the check process died",
        ),
    ],
)
def test_failed_verdicts_give_one_line_reasons(
    end: dict[str, Any], probe_report: dict[str, Any] | None, tail: str, reason: str
) -> None:
    result = judge(Path("x.py"), end=end, report=probe_report, output_tail=tail, timeout=30)
    assert not result.ok
    assert result.reason.startswith(reason)
    assert "\n" not in result.reason


def test_a_pass_needs_exit_0_and_a_training_step_and_summarizes_it() -> None:
    result = judge(
        Path("x.py"),
        end={"exit_code": 0, "elapsed_s": 4.34},
        report=report(
            train_batches=4, notes=["precision '16-mixed' was checked as 'bf16-mixed' on CPU"]
        ),
        output_tail="",
        timeout=30,
    )
    assert result.ok and result.reason == ""
    assert result.summary == "4 training steps, 1 validation step in 4.3 s"
    assert result.notes == ["precision '16-mixed' was checked as 'bf16-mixed' on CPU"]
    payload = result.to_json()
    assert json.loads(json.dumps(payload)) == payload and payload["target"] == "x.py"
    two_trainers = judge(
        Path("x.py"),
        end={"exit_code": 0},
        report=report(trainers=2, train_batches=2),
        output_tail="",
        timeout=1,
    )
    assert two_trainers.summary.startswith("2 Trainers, 2 training steps")


def test_reports_and_output_tails_are_read_defensively(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    assert read_report(path) is None
    path.write_text("{half")
    assert read_report(path) is None
    path.write_text(json.dumps({"trainers": "1", "train_batches": 0, "val_batches": 0}))
    assert read_report(path) is None
    path.write_text(json.dumps(report()))
    assert read_report(path) == report()
    output = tmp_path / "output.log"
    output.write_text("".join(f"line {n}\n" for n in range(100)))
    assert read_output_tail(output).splitlines() == [f"line {n}" for n in range(60, 100)]
    assert read_output_tail(tmp_path / "missing.log") == ""


# --- the outer safety net, against stand-in probes (fast: no Lightning) --------------------------

# run instead of the real probe; they speak its protocol
STAND_IN_PROBES = FIXTURES / "stand_in_probes"


def scripts(tmp_path: Path, count: int) -> list[Path]:
    paths = [tmp_path / f"s{n}.py" for n in range(count)]
    for path in paths:
        path.write_text("pass\n")
    return paths


def test_the_outer_deadline_kills_a_probe_that_hangs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check, "_BOOTSTRAP", (STAND_IN_PROBES / "hanging.py").read_text())
    monkeypatch.setattr(check, "GRACE_S", 0.5)
    monkeypatch.setenv("LITGEN_TEST_PID_FILE", str(tmp_path / "pid"))
    started = time.monotonic()
    [result] = check_programs(scripts(tmp_path, 1), timeout=0.5)
    assert time.monotonic() - started < 10
    assert result.reason == "timed out after 0.5 s (process tree killed)" and result.timed_out
    child = int((tmp_path / "pid").read_text())
    deadline = time.monotonic() + 5
    while not process_is_gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process_is_gone(child)


def test_a_probe_that_dies_is_replaced_for_the_remaining_targets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check, "_BOOTSTRAP", (STAND_IN_PROBES / "dying.py").read_text())
    first, second = check_programs(scripts(tmp_path, 2), timeout=5)
    assert first.reason == "the check process died while this program ran"
    assert second.ok and second.summary == "2 training steps, 0 validation steps in 0.1 s"


@pytest.mark.parametrize(
    ("probe", "reason"),
    [
        pytest.param(
            "import json; print(json.dumps({'event': 'import-failed', 'error': 'ModuleNotFoundError: lightning'}))",
            f"could not import Lightning with {sys.executable}: ModuleNotFoundError: lightning",
            id="import-failed",
        ),
        pytest.param(
            "import sys; sys.stderr.write('boom: cannot start\\n'); sys.exit(3)",
            "the check process stopped (exit code 3) before running this program: boom: cannot start",
            id="crashed-at-start",
        ),
    ],
)
def test_a_probe_that_cannot_start_fails_every_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, probe: str, reason: str
) -> None:
    monkeypatch.setattr(check, "_BOOTSTRAP", probe)
    results = check_programs(scripts(tmp_path, 2), timeout=5)
    assert [r.ok for r in results] == [False, False]
    assert all(r.reason.startswith(reason) for r in results), [r.reason for r in results]


# --- real runs under the probe (slow: each session imports Lightning once) -----------------------

SHARED_TARGETS = [
    "good.py",
    "crash.py",
    "no_trainer.py",
    "no_training.py",
    "hardcoded.py",
    "legacy_pl.py",
    "env_defaults.py",
    "project",
]


@pytest.fixture(scope="module")
def shared_run() -> dict[str, CheckResult]:
    """One check_programs call for most cases, so that they share a single Lightning import."""
    results = check_programs([FIXTURES / name for name in SHARED_TARGETS], timeout=120)
    return dict(zip(SHARED_TARGETS, results, strict=True))


@pytest.mark.slow
def test_a_lightning_script_that_trains_passes(shared_run: dict[str, CheckResult]) -> None:
    result = shared_run["good.py"]
    assert result.ok, result.reason + "\n" + result.output_tail
    assert (result.train_batches, result.val_batches) == (1, 1)
    assert result.summary.startswith("1 training step, 1 validation step in ")


@pytest.mark.slow
def test_a_crash_fails_with_its_exception_line(shared_run: dict[str, CheckResult]) -> None:
    result = shared_run["crash.py"]
    assert not result.ok and result.exit_code == 1
    assert result.reason == "exited with code 1: ZeroDivisionError: division by zero"
    assert result.output_tail.rstrip().endswith("ZeroDivisionError: division by zero")


@pytest.mark.slow
def test_programs_that_do_not_train_fail(shared_run: dict[str, CheckResult]) -> None:
    assert shared_run["no_trainer.py"].reason == "no Lightning Trainer was created"
    assert "nothing trains it" in shared_run["no_trainer.py"].output_tail
    assert shared_run["no_training.py"].reason == "a Trainer was created but no training step ran"


@pytest.mark.slow
def test_hard_coded_trainer_arguments_cannot_undo_the_forcing(
    shared_run: dict[str, CheckResult],
) -> None:
    # lightning.pytorch and the pytorch_lightning package
    for name in (
        "hardcoded.py",
        "legacy_pl.py",
    ):
        result = shared_run[name]
        assert result.ok, f"{name}: {result.reason}\n{result.output_tail}"
        # max_epochs=1000 unforced would take minutes
        assert result.train_batches == 1 and result.elapsed_s < 30
    assert set(shared_run["hardcoded.py"].notes) == {
        "devices=2 was checked as devices=1",
        "strategy 'ddp' was checked as 'auto' (one CPU device)",
        "precision '16-mixed' was checked as 'bf16-mixed' on CPU",
    }


@pytest.mark.slow
def test_lightning_still_honours_pl_trainer_env_defaults(
    shared_run: dict[str, CheckResult],
) -> None:
    result = shared_run["env_defaults.py"]  # it asserts the env-derived settings itself
    assert result.ok, result.reason + "\n" + result.output_tail


@pytest.mark.slow
def test_a_lightning_cli_project_runs_with_its_check_args(
    shared_run: dict[str, CheckResult],
) -> None:
    result = shared_run["project"]
    assert result.ok, result.reason + "\n" + result.output_tail
    assert result.notes == ["precision '16-mixed' was checked as 'bf16-mixed' on CPU"]
    assert not list(PROJECT.rglob("__pycache__")), "the user's folders are left as they were"


@pytest.mark.slow
@pytest.mark.slow
def test_verbose_shows_the_end_of_a_passing_programs_output() -> None:
    quiet = litgen("check", str(FIXTURES / "args.py"), "--", "--flag", "value")
    loud = litgen("check", str(FIXTURES / "args.py"), "--verbose", "--", "--flag", "value")
    assert quiet.returncode == loud.returncode == 0
    extra = loud.stdout.splitlines()[1:]
    assert quiet.stdout.count("\n") == 1 and extra, loud.stdout  # only PASS without --verbose


def test_cli_passes_script_args_and_exits_0() -> None:
    result = litgen("check", str(FIXTURES / "args.py"), "--", "--flag", "value")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        f"PASS {FIXTURES / 'args.py'} (1 training step, 1 validation step in "
    )
    # as it happens, on stderr: the import apart from each program's run
    progress = result.stderr.splitlines()
    assert progress[0].startswith("litgen: imported Lightning in ") and progress[0].endswith(
        " s (shared by every program)"
    )
    assert progress[1:3] == [f"litgen: running {FIXTURES / 'args.py'} ...", progress[2]]
    assert progress[2].startswith(f"litgen: finished {FIXTURES / 'args.py'} in ")


@pytest.mark.slow
def test_cli_exits_1_and_kills_a_hanging_program_tree(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    started = time.monotonic()
    result = litgen(
        "check", str(FIXTURES / "crash.py"), str(FIXTURES / "hang.py"), "--timeout", "3",
        env={"LITGEN_TEST_PID_FILE": str(pid_file)},
    )  # fmt: skip
    assert time.monotonic() - started < 60
    assert result.returncode == 1
    assert (
        f"FAIL {FIXTURES / 'crash.py'}: exited with code 1: ZeroDivisionError: division by zero"
        in result.stderr
    )
    assert (
        f"FAIL {FIXTURES / 'hang.py'}: timed out after 3 s (process tree killed)" in result.stderr
    )
    assert "started; now hanging" in result.stderr  # the tail of the killed program's output
    assert result.stderr.rstrip().splitlines()[-1] == (
        f"litgen: error: {FIXTURES / 'crash.py'}: did not train under fast_dev_run: "
        "exited with code 1: ZeroDivisionError: division by zero"
    )
    program, its_child = map(int, pid_file.read_text().split())
    assert process_is_gone(program) and process_is_gone(its_child)


def test_a_program_that_targets_the_cpu_keeps_a_gpu_only_strategy_unless_cpu_map() -> None:
    forced, notes = force_cpu_fast_dev_run({"accelerator": "cpu", "strategy": "fsdp"})
    # Lightning then refuses it, as the program's real run would
    assert forced["strategy"] == "fsdp"
    assert notes == [
        "strategy 'fsdp' was kept: the program itself targets accelerator='cpu', where it cannot run "
        "(--cpu-map checks it as 'auto')"
    ]
    forced, notes = force_cpu_fast_dev_run(
        {"accelerator": "cpu", "strategy": "deepspeed_stage_2"}, cpu_map=True
    )
    assert forced["strategy"] == "auto" and notes[0].startswith(
        "strategy 'deepspeed_stage_2' was checked as 'auto'"
    )
    forced, _ = force_cpu_fast_dev_run({"accelerator": "cpu", "strategy": "ddp"})
    # DDP runs on CPU processes: one CPU device is its faithful check
    assert forced["strategy"] == "auto"


@pytest.mark.slow
def test_check_fails_a_cpu_program_whose_strategy_needs_a_gpu(tmp_path: Path) -> None:
    script = tmp_path / "fsdp_on_cpu.py"
    script.write_text(
        "import lightning as L\nfrom lightning.pytorch.demos.boring_classes import BoringModel\n"
        "L.Trainer(accelerator='cpu', strategy='fsdp', max_epochs=1).fit(BoringModel())\n"
    )
    failed = litgen("check", str(script))
    assert failed.returncode == 1
    assert (
        "requires a GPU accelerator" in failed.stderr
        and "--cpu-map checks it as 'auto'" in failed.stderr
    )
    mapped = litgen("check", str(script), "--cpu-map")
    assert mapped.returncode == 0, mapped.stderr
    assert "strategy 'fsdp' was checked as 'auto'" in mapped.stderr


def test_relative_paths_after_the_double_dash_are_resolved_against_the_callers_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "train.py"
    script.write_text("import lightning\nlightning.Trainer()\n")
    (tmp_path / "data.csv").write_text("x\n")
    monkeypatch.chdir(tmp_path)
    target = resolve_target(
        script, ["--data", "data.csv", "--out=data.csv", "--epochs", "2", "missing.csv"]
    )
    assert target.argv[1:] == (
        "--data",
        str(tmp_path / "data.csv"),
        f"--out={tmp_path / 'data.csv'}",
        "--epochs",
        "2",
        "missing.csv",
    )


def test_a_lightning_cli_script_without_a_subcommand_runs_fit(tmp_path: Path) -> None:
    script = tmp_path / "main.py"
    script.write_text("from lightning.pytorch.cli import LightningCLI\nLightningCLI()\n")
    assert resolve_target(script).argv[1:] == ("fit",)
    assert resolve_target(script, ["validate", "--config", "c.yaml"]).argv[1:] == (
        "validate",
        "--config",
        "c.yaml",
    )
    assert resolve_target(script, ["--trainer.max_epochs=1"]).argv[1:] == (
        "fit",
        "--trainer.max_epochs=1",
    )


def test_a_fabric_script_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    script = tmp_path / "fabric_train.py"
    script.write_text(
        "import lightning as L\nfabric = L.Fabric(accelerator='cpu')\nfabric.launch()\n"
    )
    with pytest.raises(UsageError, match="trains with Lightning Fabric, which has no fast_dev_run"):
        resolve_target(script)
