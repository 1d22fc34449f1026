"""The LightningModule: a GAN on 2-D points, trained with two optimizers under manual optimization."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from lightning.pytorch import LightningModule
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm as spectrally_normalized
from torch.optim import Adam, Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from .data import ring_centers
from .metrics import RingQuality

LossName = Literal["bce", "hinge", "wgan-gp"]
SchedulerName = Literal["none", "linear", "cosine"]


def mlp(in_features: int, hidden_dim: int, out_features: int, depth: int, normalize: bool = False) -> nn.Sequential:
    """DEPTH hidden layers of HIDDEN_DIM units with LeakyReLU, then a linear output layer.

    NORMALIZE wraps every linear layer in spectral normalization, which divides its weight by its
    largest singular value, so the whole network is 1-Lipschitz.
    """
    sizes = [in_features, *[hidden_dim] * depth, out_features]
    layers: list[nn.Module] = []
    for index, (size_in, size_out) in enumerate(zip(sizes, sizes[1:])):
        linear = nn.Linear(size_in, size_out)
        layers.append(spectrally_normalized(linear) if normalize else linear)
        if index < depth:
            layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


class RingGAN(LightningModule):
    """A generator (latent code -> 2-D point) and a discriminator (2-D point -> realness score).

    ``automatic_optimization`` is off: every batch takes one discriminator step, and every
    ``n_critic``-th batch (counting from the first) also a generator step. Each step toggles its
    optimizer, so only that network's parameters get gradients, and clips those gradients by norm
    (``gradient_clip_val``; Trainer-level clipping is not available under manual optimization).
    The learning-rate schedules are stepped by hand, once per batch.

    ``loss`` picks the objective: ``bce`` (the non-saturating GAN loss), ``hinge``, or ``wgan-gp`` (a
    Wasserstein critic with a gradient penalty of weight ``gp_weight``). ``spectral_norm`` keeps the
    discriminator 1-Lipschitz, so its gradients also pull the generator towards modes it has not
    found yet: without it, a plain GAN on this data typically drops two to four of the eight modes.

    Logs ``d_loss`` and ``g_loss`` every step, and per validation (test) epoch the sample quality on
    fixed latent codes: ``val_hq`` (fraction of samples within 3 std of a mode), ``val_modes`` (modes
    covered) and ``val_tv`` (total variation distance between the samples' mode histogram and the true one).
    """

    def __init__(
        self,
        latent_dim: int = 8,
        hidden_dim: int = 64,
        depth: int = 2,
        loss: LossName = "bce",
        spectral_norm: bool = True,
        generator_lr: float = 2e-3,
        discriminator_lr: float = 2e-3,
        betas: tuple[float, float] = (0.5, 0.999),
        n_critic: int = 1,
        gp_weight: float = 10.0,
        scheduler: SchedulerName = "none",
        gradient_clip_val: float = 0.0,
        n_modes: int = 8,
        radius: float = 2.0,
        std: float = 0.05,
    ) -> None:
        super().__init__()
        if n_critic < 1 or latent_dim < 1:
            raise ValueError(f"n_critic and latent_dim must be >= 1, got {n_critic} and {latent_dim}")
        if generator_lr < 0 or discriminator_lr < 0 or gradient_clip_val < 0:
            raise ValueError("learning rates and gradient_clip_val must be >= 0 (0 freezes a network, 0 never clips)")
        self.save_hyperparameters()
        # Two optimizers stepped on a schedule of our own: Lightning must not call backward or step.
        self.automatic_optimization = False
        self.generator = mlp(latent_dim, hidden_dim, 2, depth)
        self.discriminator = mlp(2, hidden_dim, 1, depth, normalize=spectral_norm)
        # What forward() takes (latent codes): the model summary and exporters trace with it.
        self.example_input_array = torch.zeros(2, latent_dim)
        # One metric per split: counts over the epoch, synchronised across processes.
        self.val_quality = RingQuality(ring_centers(n_modes, radius), std)
        self.test_quality = RingQuality(ring_centers(n_modes, radius), std)

    def forward(self, codes: Tensor) -> Tensor:
        """Generated points ``(batch, 2)`` for latent codes ``(batch, latent_dim)``."""
        return self.generator(codes)

    def training_step(self, batch: tuple[Tensor], batch_idx: int) -> None:
        (real,) = batch
        generator_optimizer, discriminator_optimizer = self.optimizers()

        codes = torch.randn(real.shape[0], self.hparams.latent_dim, device=real.device, dtype=real.dtype)
        self.toggle_optimizer(discriminator_optimizer)
        # detach: the discriminator step must not backpropagate into the generator.
        d_loss = self.discriminator_loss(real, self.generator(codes).detach())
        self._step(discriminator_optimizer, d_loss)
        self.untoggle_optimizer(discriminator_optimizer)
        self.log("d_loss", d_loss, prog_bar=True)

        if batch_idx % self.hparams.n_critic == 0:
            self.toggle_optimizer(generator_optimizer)
            codes = torch.randn(real.shape[0], self.hparams.latent_dim, device=real.device, dtype=real.dtype)
            g_loss = self.generator_loss(self.discriminator(self.generator(codes)))
            self._step(generator_optimizer, g_loss)
            self.untoggle_optimizer(generator_optimizer)
            self.log("g_loss", g_loss, prog_bar=True)

        # Lightning steps no scheduler under manual optimization. Both follow the run's progress in
        # batches, so the generator's learning rate decays on time even when it steps every n_critic-th.
        for schedule in self._schedules():
            schedule.step()

    def _step(self, optimizer: Optimizer, loss: Tensor) -> None:
        optimizer.zero_grad()
        self.manual_backward(loss)
        # Clipping happens in on_before_optimizer_step, after mixed precision has unscaled the gradients.
        optimizer.step()

    def on_before_optimizer_step(self, optimizer: Optimizer) -> None:
        if self.hparams.gradient_clip_val > 0:
            self.clip_gradients(optimizer, self.hparams.gradient_clip_val, gradient_clip_algorithm="norm")

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        real_score, fake_score = self.discriminator(real), self.discriminator(fake)
        if self.hparams.loss == "bce":
            # -log D(real) - log(1 - D(fake)) with D = sigmoid(score), written stably.
            return F.softplus(-real_score).mean() + F.softplus(fake_score).mean()
        if self.hparams.loss == "hinge":
            return F.relu(1 - real_score).mean() + F.relu(1 + fake_score).mean()
        return fake_score.mean() - real_score.mean() + self.hparams.gp_weight * self.gradient_penalty(real, fake)

    def generator_loss(self, fake_score: Tensor) -> Tensor:
        if self.hparams.loss == "bce":
            return F.softplus(-fake_score).mean()  # non-saturating: maximise log D(fake)
        return -fake_score.mean()

    def gradient_penalty(self, real: Tensor, fake: Tensor) -> Tensor:
        """Mean of (|grad_x D(x)| - 1)^2 at random points between real and fake samples (WGAN-GP)."""
        mix = torch.rand(real.shape[0], 1, device=real.device, dtype=real.dtype)
        between = (mix * real + (1 - mix) * fake).requires_grad_(True)
        scores = self.discriminator(between)
        (gradients,) = torch.autograd.grad(scores.sum(), between, create_graph=True)
        return (gradients.float().norm(dim=1) - 1).pow(2).mean()

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        _, codes = batch
        self.val_quality.update(self(codes))

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        _, codes = batch
        self.test_quality.update(self(codes))

    def on_validation_epoch_end(self) -> None:
        self._log_quality("val", self.val_quality)

    def on_test_epoch_end(self) -> None:
        self._log_quality("test", self.test_quality)

    def _log_quality(self, split: str, metric: RingQuality) -> None:
        # compute() sums the counts over all processes first, so every rank holds the same global values;
        # sync_dist=True then averages identical numbers, which changes nothing but states they are global.
        values = metric.compute()
        metric.reset()
        logged = {f"{split}_{name}": value for name, value in values.items()}
        self.log_dict(logged, prog_bar=split == "val", sync_dist=True)

    def predict_step(self, batch: tuple[Tensor], batch_idx: int) -> Tensor:
        (codes,) = batch
        return self(codes)

    def configure_optimizers(self) -> tuple[list[Optimizer], list[LRScheduler]]:
        hparams = self.hparams
        optimizers = [
            Adam(self.generator.parameters(), lr=hparams.generator_lr, betas=hparams.betas),
            Adam(self.discriminator.parameters(), lr=hparams.discriminator_lr, betas=hparams.betas),
        ]
        if hparams.scheduler == "none":
            return optimizers, []
        # Under manual optimization Lightning estimates the run in batches, which is what the schedules step on.
        total_batches = self.trainer.estimated_stepping_batches
        if self.trainer.max_steps != -1:
            # max_steps counts optimizer steps: n_critic + 1 for every n_critic batches here, not one per batch.
            batches_until_max_steps = math.ceil(self.trainer.max_steps * hparams.n_critic / (hparams.n_critic + 1))
            total_batches = min(total_batches, batches_until_max_steps)
        if not math.isfinite(total_batches):
            raise ValueError(f"scheduler {hparams.scheduler!r} spans the run: set trainer.max_epochs or max_steps")
        multiplier = decay_to_zero(max(1, int(total_batches)), hparams.scheduler)
        return optimizers, [LambdaLR(optimizer, multiplier) for optimizer in optimizers]

    def _schedules(self) -> list[LRScheduler]:
        schedules = self.lr_schedulers()
        if schedules is None:
            return []
        return schedules if isinstance(schedules, list) else [schedules]


def decay_to_zero(total_steps: int, shape: Literal["linear", "cosine"]) -> Callable[[int], float]:
    """The LR multiplier for step s: from 1 down to 0 at TOTAL_STEPS (and 0 beyond), linearly or along a cosine."""

    def multiplier(step: int) -> float:
        progress = min(1.0, step / total_steps)
        return 1 - progress if shape == "linear" else 0.5 * (1 + math.cos(math.pi * progress))

    return multiplier
