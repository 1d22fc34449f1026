"""The autoencoder's own test: predict writes the trained checkpoint's latent codes with the digit labels."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import torch
from lightning.pytorch.cli import LightningCLI

from {{ package_name }}.model import DigitsAutoencoder

RunCLI = Callable[..., LightningCLI]


def test_predict_writes_the_trained_checkpoints_codes(two_epoch_checkpoint: Path, run_cli: RunCLI, cpu_precision: str) -> None:
    cli = run_cli("predict", f"--ckpt_path={two_epoch_checkpoint}")
    with open("predictions/embeddings-rank0.csv", newline="") as file:
        rows = sorted(csv.DictReader(file), key=lambda row: int(row["index"]))
    images, labels = cli.datamodule.test_set.tensors
    latent_dim = cli.model.hparams.latent_dim
    assert [int(row["index"]) for row in rows] == list(range(len(images)))
    assert [int(row["label"]) for row in rows] == labels.tolist()
    codes = torch.tensor([[float(row[f"z{dim}"]) for dim in range(latent_dim)] for row in rows])
    # The trained weights, recomputed outside the CLI (under the same autocast), give the same codes.
    trained = DigitsAutoencoder.load_from_checkpoint(two_epoch_checkpoint, map_location="cpu").eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_precision == "bf16-mixed"):
        expected, _ = trained.encode(images)
    torch.testing.assert_close(codes, expected, rtol=1e-3, atol=1e-3)
