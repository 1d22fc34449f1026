"""Tests for `litgen check --deep`: verdicts from sub-check reports, Trainer settings, and real runs of
each failure class.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from process_helpers import process_is_gone, wait_for

from litgen._probe_deep_util import (
    deep_trainer_kwargs,
    find_object,
    first_difference,
    weights_only_reason,
)
from litgen.check import CheckResult
from litgen.check_deep import SubCheck, judge_deep, read_deep_report
from tests.goldens import CONVERT, cases_with_golden, expected_file

FIXTURES = Path(__file__).parent / "fixtures" / "check_deep"
TEMPLATES = ("classifier", "regression", "autoencoder", "sequence", "gan")


def litgen(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "litgen", *args]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, cwd=cwd, env=environment, check=False
    )


# --- verdicts from the plugin's report (no Lightning) ---------------------------------------------


def _base(ok: bool = True, **fields: Any) -> CheckResult:
    defaults: dict[str, Any] = {
        "trainers": 1,
        "train_batches": 1,
        "val_batches": 1,
        "exit_code": 0,
        "elapsed_s": 3.0,
    }
    return CheckResult(target=Path("train.py"), ok=ok, **{**defaults, **fields})


def _entry(name: str, status: str = "pass", reason: str = "fine") -> dict[str, Any]:
    return {"name": name, "status": status, "reason": reason, "elapsed_s": 0.5}


ALL_PASS = [
    _entry(name) for name in ("fast_dev_run", "fit", "load", "resume", "determinism", "ddp")
]


def test_a_program_passes_when_no_sub_check_failed() -> None:
    entries = [*ALL_PASS[:4], _entry("determinism", "skipped", "no seed"), ALL_PASS[5]]
    result = judge_deep(_base(), {"subchecks": entries, "running": None}, timeout=60)
    assert result.ok and result.first_failure is None
    assert [check.status for check in result.subchecks] == ["pass"] * 4 + ["skipped", "pass"]
    assert result.subchecks[0].reason == "1 training step, 1 validation step"


def test_the_first_failed_sub_check_is_the_verdict_and_the_rest_keep_their_reasons() -> None:
    entries = [
        *ALL_PASS[:3],
        _entry("resume", "fail", "lost state"),
        *[_entry(n, "skipped", "earlier") for n in ("determinism", "ddp")],
    ]
    result = judge_deep(_base(), {"subchecks": entries}, timeout=60)
    assert not result.ok
    assert result.first_failure == SubCheck("resume", "fail", "lost state", 0.5)


def test_a_timeout_in_the_middle_of_a_sub_check_fails_that_sub_check() -> None:
    report = {"subchecks": ALL_PASS[:5], "running": "ddp"}
    result = judge_deep(
        _base(ok=False, timed_out=True, reason="timed out after 60 s"), report, timeout=60
    )
    assert not result.ok
    assert result.subchecks[0].status == "pass"  # the fast_dev_run fit itself had passed
    ddp = result.subchecks[5]
    assert ddp.status == "fail" and "timed out" in ddp.reason and "--timeout of 60 s" in ddp.reason


def test_a_fast_dev_run_failure_skips_every_deep_sub_check() -> None:
    result = judge_deep(
        _base(ok=False, exit_code=1, reason="exited with code 1: ZeroDivisionError"),
        None,
        timeout=60,
    )
    assert result.subchecks[0] == SubCheck(
        "fast_dev_run", "fail", "exited with code 1: ZeroDivisionError", 3.0
    )
    assert all(
        check.status == "skipped" and "fast_dev_run pass failed" in check.reason
        for check in result.subchecks[1:]
    )


def test_a_program_that_never_called_fit_is_not_passed_as_deeply_checked() -> None:
    result = judge_deep(_base(), {"subchecks": [], "running": None}, timeout=60)
    assert not result.ok
    assert (
        result.first_failure is not None
        and "never called Trainer.fit" in result.first_failure.reason
    )


def test_deep_reports_are_read_defensively(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    assert read_deep_report(path) is None
    path.write_text("{not json")
    assert read_deep_report(path) is None
    path.write_text(
        json.dumps({"subchecks": [{"name": "bogus", "status": "pass"}, _entry("fit", "maybe")]})
    )
    result = judge_deep(_base(), read_deep_report(path), timeout=60)
    assert {check.name for check in result.subchecks} == {
        "fast_dev_run",
        "fit",
        "load",
        "resume",
        "determinism",
        "ddp",
    }


# --- the short fit's Trainer settings and failure texts (no Lightning) ----------------------------


def test_the_short_fit_keeps_the_programs_settings_but_is_short_real_and_on_the_cpu() -> None:
    program = {
        "max_epochs": 100,
        "max_steps": 5000,
        "min_epochs": 50,
        "val_check_interval": 1000,
        "accelerator": "gpu",
        "devices": 4,
        "precision": "16-mixed",
        "fast_dev_run": False,
        "gradient_clip_val": 0.5,
        "enable_checkpointing": False,
    }
    kwargs, notes = deep_trainer_kwargs(program, root="/scratch/fit", epochs=2, batches=4)
    assert (
        kwargs["fast_dev_run"] is False
        and kwargs["max_epochs"] == 2
        and kwargs["limit_train_batches"] == 4
    )
    assert (
        kwargs["max_steps"] == -1
        and kwargs["min_epochs"] is None
        and kwargs["val_check_interval"] == 1.0
    )
    assert (
        kwargs["accelerator"] == "cpu"
        and kwargs["devices"] == 1
        and kwargs["precision"] == "bf16-mixed"
    )
    assert kwargs["enable_checkpointing"] is True and kwargs["default_root_dir"] == "/scratch/fit"
    assert kwargs["gradient_clip_val"] == 0.5  # what the program asked for stays
    assert any("accelerator 'gpu'" in note for note in notes)


def test_a_program_without_validation_keeps_it_off() -> None:
    kwargs, _ = deep_trainer_kwargs({"limit_val_batches": 0}, root="r", epochs=2, batches=4)
    assert kwargs["limit_val_batches"] == 0


class Settings:
    """A hyper-parameter object of the program's own class."""


def test_weights_only_refusals_name_the_class_and_where_it_is() -> None:
    qualified = f"{Settings.__module__}.{Settings.__qualname__}"
    error = RuntimeError(
        f"Weights only load failed.\nWeightsUnpickler error: Unsupported global: GLOBAL {qualified} was not allowed"
    )
    checkpoint = {"state_dict": {}, "hyper_parameters": {"lr": 0.1, "settings": Settings()}}
    reason = weights_only_reason(error, checkpoint)
    assert qualified in reason and "checkpoint['hyper_parameters']['settings']" in reason
    assert find_object(checkpoint, "no.such.Class") is None


def test_losses_are_compared_step_by_step() -> None:
    assert first_difference([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) is None
    assert first_difference([1.0, 2.0, 3.0], [1.0, 2.5, 3.0]) == 1
    assert first_difference([1.0, 2.0], [1.0, 2.0, 3.0]) == 2


# --- the command line (no Lightning run) --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "x.py", "--devices", "2"], "--devices only applies to --deep"),
        (["check", "x.py", "--keep-going"], "--keep-going only applies to --deep"),
        (["check", "x.py", "--deep", "--devices", "0"], "--devices must be 1 or more"),
        (
            ["new", "somewhere", "--deep", "--no-check"],
            "--deep deepens the check that --no-check skips",
        ),
        (["convert", "x.py", "--deep"], "--deep deepens --check; add --check"),
    ],
)
def test_deep_options_are_refused_where_they_mean_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "x.py").write_text("pass\n")
    result = litgen(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "somewhere").exists()


def test_the_deep_modules_import_neither_torch_nor_lightning() -> None:
    code = (
        "import sys, litgen.check_deep, litgen._probe_deep, litgen._probe_deep_steps, litgen.cli_check\n"
        "import litgen._probe_deep_ddp, litgen._probe_deep_record\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning', 'pytorch_lightning')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_deep_modules_stay_small_and_say_what_they_are() -> None:
    litgen_dir = Path(__file__).parent.parent / "litgen"
    for name in (
        "check_deep.py",
        "_probe_deep.py",
        "_probe_deep_steps.py",
        "_probe_deep_util.py",
        "_probe_deep_ddp.py",
        "_probe_deep_record.py",
        "cli_check.py",
    ):
        text = (litgen_dir / name).read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 400, name
        assert text.startswith('"""') and text.splitlines()[0].endswith('"""'), name


# --- real deep checks (slow: one probe session for every fixture) ---------------------------------


@pytest.fixture(scope="module")
def deep_run() -> dict[str, Any]:
    from litgen.check_deep import deep_check_programs

    names = [
        "good",
        "unpicklable_hparam",
        "weights_only_refused",
        "callback_state_lost",
        "duplicate_state_key",
        "unseeded_rng",
        "ddp_uneven",
    ]
    results = deep_check_programs([FIXTURES / f"{name}.py" for name in names], timeout=120)
    return {Path(result.target).stem: result for result in results}


def _statuses(result: Any) -> dict[str, str]:
    return {check.name: check.status for check in result.subchecks}


@pytest.mark.slow
def test_a_good_program_passes_every_sub_check(deep_run: dict[str, Any]) -> None:
    result = deep_run["good"]
    assert result.ok, result.subchecks
    assert set(_statuses(result).values()) == {"pass"}
    reasons = {check.name: check.reason for check in result.subchecks}
    assert "2 epochs, 8 steps" in reasons["fit"]
    assert "1 callback state restored" in reasons["resume"]
    assert "seed_everything(7)" in reasons["determinism"]
    assert reasons["ddp"].startswith("2 processes (gloo)") and "val_loss" in reasons["ddp"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "sub_check", "words"),
    [
        (
            "unpicklable_hparam",
            "fit",
            [
                "a checkpoint could not be saved",
                "hyper-parameter scale (function) cannot be pickled",
            ],
        ),
        (
            "weights_only_refused",
            "load",
            ["weights_only=True", "__main__.Settings", "['hyper_parameters']['settings']"],
        ),
        (
            "callback_state_lost",
            "resume",
            ["callback ForgetfulCounter lost its state on resume", '{"seen": 4}', '{"seen": 0}'],
        ),
        (
            "duplicate_state_key",
            "resume",
            ["BatchCounter and ValidationCounter share the state_key 'BatchCounter'"],
        ),
        (
            "unseeded_rng",
            "determinism",
            [
                "not reproducible",
                "seed_everything(42)",
                "numpy.random.default_rng() at unseeded_rng.py:",
            ],
        ),
        (
            "ddp_uneven",
            "ddp",
            ["different numbers of training batches per epoch (rank 0: 4, rank 1: 2)"],
        ),
    ],
)
def test_each_failure_class_fails_at_its_sub_check_for_its_reason(
    deep_run: dict[str, Any], name: str, sub_check: str, words: list[str]
) -> None:
    result = deep_run[name]
    assert not result.ok
    failed = result.first_failure
    assert failed is not None and failed.name == sub_check, result.subchecks
    for word in words:
        assert word in failed.reason
    statuses = list(_statuses(result).values())
    after = statuses[list(_statuses(result)).index(sub_check) + 1 :]
    assert all(status == "skipped" for status in after)  # fail fast without --keep-going
    assert result.subchecks[0].status == "pass"  # fast_dev_run alone would have passed it


@pytest.mark.slow
def test_cli_json_keep_going_and_a_one_line_error(tmp_path: Path) -> None:
    result = litgen(
        "check",
        str(FIXTURES / "good.py"),
        str(FIXTURES / "weights_only_refused.py"),
        "--deep",
        "--keep-going",
        "--json",
    )
    assert result.returncode == 1
    good, refused = json.loads(result.stdout)
    assert good["ok"] and [check["status"] for check in good["subchecks"]] == ["pass"] * 6
    statuses = {check["name"]: check["status"] for check in refused["subchecks"]}
    assert statuses["load"] == "fail" and statuses["resume"] == "fail"  # --keep-going ran the rest
    assert statuses["ddp"] == "pass"
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"litgen: error: {FIXTURES / 'weights_only_refused.py'}: failed the deep check at load: torch.load refuses"
        )
    )


@pytest.mark.slow
def test_every_templates_default_project_passes_the_deep_check(tmp_path: Path) -> None:
    first, *others = TEMPLATES
    created = litgen("new", str(tmp_path / first), "--template", first, "--defaults", "--deep")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "ddp           pass" in created.stdout
    for template in others:
        rendered = litgen(
            "new", str(tmp_path / template), "--template", template, "--defaults", "--no-check"
        )
        assert rendered.returncode == 0, rendered.stderr
    result = litgen("check", *(str(tmp_path / template) for template in others), "--deep")
    assert result.returncode == 0, result.stdout + result.stderr
    table = result.stdout.splitlines()[-len(others) :]
    assert all(row.split()[1:7] == ["pass"] * 6 for row in table), result.stdout


@pytest.mark.slow
def test_every_converted_fixture_passes_the_deep_check(tmp_path: Path) -> None:
    from litgen.check_deep import deep_check_programs

    paths = [expected_file(CONVERT / case, tmp_path) for case in cases_with_golden(CONVERT)]
    results = deep_check_programs(paths, timeout=240)
    failed = {
        result.target.parent.name: result.first_failure for result in results if not result.ok
    }
    assert failed == {}


@pytest.mark.slow
def test_sigterm_during_the_ddp_sub_check_leaves_no_process_and_no_scratch(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch_root), "LITGEN_TEST_PID_FILE": str(pid_file)}
    run = subprocess.Popen(
        [sys.executable, "-m", "litgen", "check", str(FIXTURES / "ddp_hang.py"), "--deep"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        rank_file = Path(f"{pid_file}.rank1")
        assert wait_for(lambda: rank_file.exists() and rank_file.read_text(), 120)
        rank = int(rank_file.read_text())
        os.kill(run.pid, signal.SIGTERM)
        _, stderr = run.communicate(timeout=60)
        assert run.returncode == 143 and "Traceback" not in stderr, stderr
        assert wait_for(lambda: process_is_gone(rank), 20)
        assert [
            path.name for path in scratch_root.iterdir() if path.name.startswith("litgen-")
        ] == []
    finally:
        run.kill()
        run.communicate()
