"""The classifier's own test: predict labels the held-out images with the trained checkpoint's weights."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from lightning.pytorch.cli import LightningCLI

RunCLI = Callable[..., LightningCLI]


def test_predict_uses_the_trained_checkpoint(two_epoch_checkpoint: Path, run_cli: RunCLI) -> None:
    cli = run_cli("predict", f"--ckpt_path={two_epoch_checkpoint}")
    with open("predictions/predictions-rank0.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    labels = cli.datamodule.test_set.tensors[1]
    assert sorted(int(row["index"]) for row in rows) == list(range(len(labels)))
    correct = sum(int(row["label"]) == labels[int(row["index"])] for row in rows)
    # Untrained weights score about 0.1: a high score shows the checkpoint's weights were loaded.
    assert correct / len(labels) > 0.6
