"""Upgrade fixtures: 1.x programs whose upgrade is pinned (expected.py) and, slow, runs on Lightning 2.x."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from litgen.upgrade.engine import upgrade_source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "upgrade"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.py").exists())


@pytest.mark.parametrize("case", CASES)
def test_upgrade_matches_the_golden_file_and_is_idempotent(case: str) -> None:
    source = (FIXTURES / case / "input.py").read_text(encoding="utf-8")
    expected = (FIXTURES / case / "expected.py").read_text(encoding="utf-8")
    upgraded = upgrade_source(source, "input.py")
    assert upgraded.upgraded == expected
    assert upgrade_source(expected, "expected.py").upgraded == expected
    assert not upgraded.needs_hands, upgraded.notes


@pytest.mark.slow
def test_the_upgraded_classifier_trains_with_its_command_line_and_epoch_outputs(tmp_path: Path) -> None:
    """The argparse Trainer flags still work and the epoch-end hooks see every step's output, as in 1.x."""
    script = FIXTURES / "classifier_1x" / "expected.py"
    run = subprocess.run(
        [sys.executable, str(script), "--max_epochs", "2", "--limit_train_batches", "3", "--default_root_dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert [line.split(",")[0] for line in lines if line.startswith("epoch ")] == ["epoch 0: 3 steps", "epoch 1: 3 steps"]
    assert lines.count("validation: 2 batches") == 3  # the sanity check, then one per epoch (64 samples / 32)


@pytest.mark.slow
def test_the_upgraded_classifier_passes_litgen_check() -> None:
    from litgen.check import check_programs

    [result] = check_programs([FIXTURES / "classifier_1x" / "expected.py"], timeout=240)
    assert result.ok, f"{result.reason}\n{result.output_tail}"


def test_each_change_is_reported_at_its_line_in_the_original_file() -> None:
    source = (FIXTURES / "classifier_1x" / "input.py").read_text(encoding="utf-8")
    lines = source.splitlines()
    changes = upgrade_source(source, "input.py").changes
    assert all(change.line is not None and 1 <= change.line <= len(lines) for change in changes)
    where = {change.text: lines[change.line - 1].strip() for change in changes if change.line is not None}
    assert where["on_batch_end -> on_train_batch_end"] == "def on_batch_end(self):"
    assert where["training_epoch_end(outputs) -> on_train_epoch_end reading self.training_step_outputs"] == (
        "def training_epoch_end(self, outputs):"
    )
    assert where["fit(train_dataloader=...) -> fit(train_dataloaders=...)"].startswith("trainer.fit(")
    assert where["pytorch_lightning.utilities.seed.seed_everything -> lightning.pytorch.seed_everything"].startswith(
        "from pytorch_lightning.utilities.seed import"
    )
