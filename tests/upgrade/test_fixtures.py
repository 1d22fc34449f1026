"""Upgrade fixtures: 1.x programs whose upgrade is pinned (a golden diff) and, slow, runs on Lightning 2.x."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from litgen.upgrade.engine import upgrade_source
from litgen.upgrade.files import upgrade_paths
from tests.cli_helpers import litgen, python
from tests.goldens import UPGRADE, cases_with_golden, expected_file, expected_project, expected_text

FIXTURES = UPGRADE
CASES = cases_with_golden(FIXTURES)
PROJECT = FIXTURES / "project_1x"
PROJECT_FILES = ("cli.py", "config.yaml", "data.py", "model.py", "train.py")


@pytest.fixture
def upgraded_project(tmp_path: Path) -> Path:
    """A copy of the 1.x project, upgraded in place (outside git: NAME.orig backups)."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)
    report = upgrade_paths([project])
    assert not report.failed and all(f.written for f in report.files), [
        (f.path, f.upgraded and f.upgraded.notes) for f in report.files
    ]
    return project


@pytest.mark.parametrize("case", CASES)
def test_upgrade_matches_the_golden_file_and_is_idempotent(case: str) -> None:
    source = (FIXTURES / case / "input.py").read_text(encoding="utf-8")
    expected = expected_text(FIXTURES / case)
    upgraded = upgrade_source(source, "input.py")
    assert upgraded.upgraded == expected
    assert upgrade_source(expected, "expected.py").upgraded == expected
    assert not upgraded.needs_hands, upgraded.notes


@pytest.mark.slow
def test_the_upgraded_classifier_trains_with_its_command_line_and_epoch_outputs(
    tmp_path: Path,
) -> None:
    """The argparse Trainer flags still work and the epoch-end hooks see every step's output, as in 1.x."""
    script = expected_file(FIXTURES / "classifier_1x", tmp_path)
    arguments = ["--max_epochs", "2", "--limit_train_batches", "3", "--default_root_dir"]
    run = python(str(script), *arguments, str(tmp_path), cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert [line.split(",")[0] for line in lines if line.startswith("epoch ")] == [
        "epoch 0: 3 steps",
        "epoch 1: 3 steps",
    ]
    assert (
        lines.count("validation: 2 batches") == 3
    )  # the sanity check, then one per epoch (64 samples / 32)
    # the 1.x ModelCheckpoint(prefix=, period=) and the callback's 1.x state hooks, as 2.x spells them
    checkpoints = sorted(tmp_path.rglob("clf-*.ckpt"))
    assert checkpoints, list(tmp_path.rglob("*.ckpt"))
    import torch  # a slow test: torch is loaded anyway

    state = torch.load(checkpoints[-1], weights_only=False)["callbacks"]
    assert {"batches": 6} in state.values(), state


def test_each_change_is_reported_at_its_line_in_the_original_file() -> None:
    source = (FIXTURES / "classifier_1x" / "input.py").read_text(encoding="utf-8")
    lines = source.splitlines()
    changes = upgrade_source(source, "input.py").changes
    assert all(change.line is not None and 1 <= change.line <= len(lines) for change in changes)
    where = {
        change.text: lines[change.line - 1].strip() for change in changes if change.line is not None
    }
    assert where["on_batch_end -> on_train_batch_end"] == "def on_batch_end(self):"
    assert where[
        "training_epoch_end(outputs) -> on_train_epoch_end reading self.training_step_outputs"
    ] == ("def training_epoch_end(self, outputs):")
    assert where["fit(train_dataloader=...) -> fit(train_dataloaders=...)"].startswith(
        "trainer.fit("
    )
    assert where[
        "pytorch_lightning.utilities.seed.seed_everything -> lightning.pytorch.seed_everything"
    ].startswith("from pytorch_lightning.utilities.seed import")


def test_the_project_upgrades_every_file_as_pinned_and_a_second_run_changes_nothing(
    upgraded_project: Path,
) -> None:
    expected = expected_project()
    assert sorted(expected) == sorted(PROJECT_FILES)
    for name in PROJECT_FILES:
        assert (upgraded_project / name).read_text(encoding="utf-8") == expected[name], name
        assert (upgraded_project / f"{name}.orig").read_bytes() == (PROJECT / name).read_bytes()
    again = upgrade_paths([upgraded_project])
    assert not any(f.changed for f in again.files)


def test_a_datamodule_from_another_file_of_the_project_gets_its_argparse_helpers_too(
    upgraded_project: Path,
) -> None:
    train = (upgraded_project / "train.py").read_text(encoding="utf-8")
    assert "parser = add_arguments_of(RandomData, parser)" in train
    assert "data = RandomData(**arguments_of(RandomData, args))" in train


@pytest.mark.slow
def test_every_upgraded_fixture_trains_under_litgen_check(tmp_path: Path) -> None:
    from litgen.check import check_programs

    paths = [expected_file(FIXTURES / case, tmp_path) for case in CASES]
    results = check_programs(paths, timeout=240)
    assert all(r.ok for r in results), [
        (r.target, r.reason, r.output_tail) for r in results if not r.ok
    ]


@pytest.mark.slow
def test_the_upgraded_project_trains_from_its_argparse_and_its_lightningcli_entry_points(
    upgraded_project: Path,
) -> None:
    from litgen.check import check_programs

    [argparse_run] = check_programs(
        [upgraded_project / "train.py"], script_args=["--batch_size", "32"], timeout=240
    )
    assert argparse_run.ok, f"{argparse_run.reason}\n{argparse_run.output_tail}"
    config = str(upgraded_project / "config.yaml")
    [cli_run] = check_programs(
        [upgraded_project / "cli.py"], script_args=["fit", "--config", config], timeout=240
    )
    assert cli_run.ok, f"{cli_run.reason}\n{cli_run.output_tail}"


@pytest.mark.slow
def test_the_upgraded_gan_trains_both_optimizers_and_steps_their_schedulers_each_epoch(
    tmp_path: Path,
) -> None:
    run = python(str(expected_file(FIXTURES / "gan_1x", tmp_path)), cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    # 4 batches x 2 optimizers per epoch (1.x counted each optimizer's step); StepLR halves the lr
    # each epoch
    assert "epoch 0 done at step 8" in run.stdout and "epoch 1 done at step 16" in run.stdout
    assert "final lr 0.0025" in run.stdout


@pytest.mark.slow
def test_upgrade_check_runs_the_upgraded_program(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    shutil.copy(FIXTURES / "classifier_1x" / "input.py", script)
    run = litgen("upgrade", str(script), "--check", cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"PASS {script}" in run.stdout
