"""The regressor's own tests: metrics in the target's units, and predictions from the trained checkpoint."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path

import torch
from lightning.pytorch.cli import LightningCLI

from {{ package_name }}.model import DiabetesRegressor

RunCLI = Callable[..., LightningCLI]


def test_metrics_are_in_original_units(run_cli: RunCLI) -> None:
    """The CLI hands the training target's statistics to the model, which reports RMSE in the target's units."""
    cli = run_cli("validate")
    model, data = cli.model, cli.datamodule
    assert (model.hparams.target_mean, model.hparams.target_std) == (data.target_mean, data.target_std)
    assert 100 < data.target_mean < 200 and 50 < data.target_std < 100  # disease progression, not z-scores
    features, standardised_target = data.val_set.tensors
    model.eval()  # no dropout, as in validation
    with torch.no_grad():
        error = model(features) - model.to_original_units(standardised_target)
    expected_rmse = error.pow(2).mean().sqrt().item()
    assert math.isclose(cli.trainer.callback_metrics["val_rmse"].item(), expected_rmse, rel_tol=0.02)


def test_predict_uses_the_trained_checkpoint(two_epoch_checkpoint: Path, run_cli: RunCLI, cpu_precision: str) -> None:
    cli = run_cli("predict", f"--ckpt_path={two_epoch_checkpoint}")
    with open("predictions/predictions-rank0.csv", newline="") as file:
        rows = sorted((int(row["index"]), float(row["prediction"])) for row in csv.DictReader(file))
    features = cli.datamodule.test_set.tensors[0]
    assert [index for index, _ in rows] == list(range(len(features)))
    # The trained weights, recomputed outside the CLI (under the same autocast), give the same numbers.
    trained = DiabetesRegressor.load_from_checkpoint(two_epoch_checkpoint, map_location="cpu").eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_precision == "bf16-mixed"):
        expected = trained(features)
    predicted = torch.tensor([value for _, value in rows])
    torch.testing.assert_close(predicted, expected, rtol=1e-3, atol=1e-2)
