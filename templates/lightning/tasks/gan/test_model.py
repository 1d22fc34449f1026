"""The GAN's own tests: each network learns against the other frozen, clipping, the schedule, sampling."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import LambdaCallback
from lightning.pytorch.cli import LightningCLI

from {{ package_name }}.model import RingGAN, decay_to_zero

RunCLI = Callable[..., LightningCLI]


# One fixed batch, no callbacks, logger, checkpoints or schedule: isolates the networks, losses and optimizers.
ONE_BATCH = (
    "--trainer.overfit_batches=1",
    "--trainer.max_epochs=40",
    "--trainer.callbacks=[]",
    "--trainer.logger=false",
    "--trainer.enable_checkpointing=false",
    "--model.scheduler=none",
    "--model.n_critic=1",
)


def record_logged(trainer: Trainer, name: str) -> list[float]:
    """Appends the value of metric NAME after every training batch (manual optimization returns no loss)."""
    values: list[float] = []
    trainer.callbacks.append(
        LambdaCallback(on_train_batch_end=lambda trainer, *_: values.append(float(trainer.callback_metrics[name])))
    )
    return values


def test_discriminator_separates_one_batch(run_cli: RunCLI) -> None:
    """With the generator frozen, the discriminator learns to score one batch of real points above generated ones."""
    # A large step: this checks the wiring (toggling, loss signs, optimizer), not the tuning.
    cli = run_cli(None, *ONE_BATCH, "--model.generator_lr=0", "--model.discriminator_lr=0.01")
    d_losses = record_logged(cli.trainer, "d_loss")
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert len(d_losses) == 40
    assert sum(d_losses[-5:]) < sum(d_losses[:5]), f"d_loss went from {d_losses[0]:.3f} to {d_losses[-1]:.3f}"
    model = cli.model.eval()
    (real,) = next(iter(cli.trainer.train_dataloader))  # the one batch it trained on
    with torch.no_grad():
        real_scores = model.discriminator(real).flatten()
        fake_scores = model.discriminator(model(torch.randn(len(real), model.hparams.latent_dim))).flatten()
    # The fraction of (real, fake) pairs ranked the right way round (ROC AUC): 0.5 is chance, whatever the loss.
    auc = (real_scores.unsqueeze(1) > fake_scores.unsqueeze(0)).float().mean()
    assert auc > 0.95, f"discriminator ranks real above fake in only {auc:.2%} of pairs"


def test_generator_climbs_a_frozen_discriminator(run_cli: RunCLI) -> None:
    """With the discriminator frozen, gradients flow through it into the generator, and the generator's loss falls."""
    cli = run_cli(None, *ONE_BATCH, "--model.discriminator_lr=0")
    g_losses = record_logged(cli.trainer, "g_loss")
    before = {name: value.clone() for name, value in cli.model.named_parameters()}
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    after = dict(cli.model.named_parameters())
    assert len(g_losses) == 40
    assert all(torch.equal(before[name], after[name]) for name in before if name.startswith("discriminator."))
    assert not any(torch.equal(before[name], after[name]) for name in before if name.startswith("generator."))
    assert sum(g_losses[-5:]) < sum(g_losses[:5]), f"g_loss went from {g_losses[0]:.4f} to {g_losses[-1]:.4f}"


def test_each_network_is_clipped_before_its_step(run_cli: RunCLI) -> None:
    """model.gradient_clip_val rescales each network's gradient (manual optimization rules out Trainer clipping)."""
    clip = 1e-3  # far below the natural gradient norm, so every step is clipped
    cli = run_cli(
        None,
        *("--trainer.max_epochs=1", "--trainer.limit_train_batches=3", "--trainer.limit_val_batches=0"),
        *("--trainer.callbacks=[]", "--trainer.logger=false", "--trainer.enable_checkpointing=false"),
        *("--model.n_critic=1", f"--model.gradient_clip_val={clip}"),
    )
    norms: list[tuple[float, float]] = []

    def grad_norm(network: torch.nn.Module) -> float:
        return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in network.parameters()])))

    def record(trainer: Trainer, module: RingGAN, *_: Any) -> None:
        # zero_grad runs before each backward, so after the step the gradients that were applied are still there.
        norms.append((grad_norm(module.generator), grad_norm(module.discriminator)))

    cli.trainer.callbacks.append(LambdaCallback(on_train_batch_end=record))
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert len(norms) == 3
    for generator_norm, discriminator_norm in norms:
        assert generator_norm == pytest.approx(clip, rel=1e-3) and discriminator_norm == pytest.approx(clip, rel=1e-3)


@pytest.mark.parametrize("shape", ["linear", "cosine"])
def test_learning_rate_decays_to_zero_over_the_run(shape: str) -> None:
    multiplier = decay_to_zero(total_steps=100, shape=shape)
    values = [multiplier(step) for step in range(101)]
    assert values[0] == 1.0 and values[50] == pytest.approx(0.5) and values[100] == pytest.approx(0.0)
    assert all(a > b for a, b in zip(values, values[1:]))
    assert multiplier(150) == pytest.approx(0.0)  # a run that goes on longer stays at zero


def test_predict_writes_the_checkpoints_samples(two_epoch_checkpoint: Path, run_cli: RunCLI) -> None:
    cli = run_cli("predict", f"--ckpt_path={two_epoch_checkpoint}")
    with open("predictions/samples-rank0.csv", newline="") as file:
        rows = sorted(csv.DictReader(file), key=lambda row: int(row["index"]))
    (codes,) = cli.datamodule.predict_set.tensors
    assert [int(row["index"]) for row in rows] == list(range(len(codes)))
    written = torch.tensor([[float(row["x"]), float(row["y"])] for row in rows])
    # The same codes through the checkpoint's generator, under the run's precision, give the very same points.
    model = RingGAN.load_from_checkpoint(two_epoch_checkpoint, map_location="cpu").eval()
    with torch.no_grad(), cli.trainer.precision_plugin.forward_context():
        expected = model(codes).float()
    torch.testing.assert_close(written, expected, rtol=1e-6, atol=1e-6)
