"""The LightningModule: a (variational, optionally denoising) autoencoder whose predict step returns latent codes."""

from __future__ import annotations

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities.types import OptimizerLRScheduler
from torch import Tensor
from torch.nn import functional as F
from torchmetrics.regression import MeanSquaredError

from {{ package_name }}.networks import ArchitectureName, build_encoder_decoder
from {{ package_name }}.optim import OptimizerName, SchedulerName, optimizers_by_name

Batch = tuple[Tensor, Tensor]  # (images, labels); the labels are only carried along for predict


class DigitsAutoencoder(LightningModule):
    """Encodes an image into ``latent_dim`` numbers and decodes it back; ``predict`` returns the codes.

    Logged: ``train_loss``, ``val_loss``, ``test_loss`` (what is optimised) and ``val_mse``,
    ``test_mse`` (reconstruction MSE of clean images in standardised pixel units; 1.0 is the
    pixels' variance). A plain autoencoder's loss is that MSE.

    ``variational=True`` makes it a VAE: the encoder outputs a Gaussian (mean and log-variance),
    training decodes a sample of it, and the loss adds ``kl_weight`` x the KL divergence from a
    standard normal, per pixel. With ``kl_weight=1`` the loss is the negative ELBO per pixel of a
    Gaussian decoder with variance 1/2 (up to a constant); smaller weights reconstruct more sharply.
    Evaluation and ``predict`` use the mean, so codes and metrics are deterministic. ``val_kl`` and
    ``test_kl`` are logged too.

    ``input_noise`` > 0 makes it a denoising autoencoder: training inputs get Gaussian noise of that
    standard deviation and the target is the clean image. Evaluation always feeds clean images.
    """

    def __init__(
        self,
        image_size: int = 8,
        architecture: ArchitectureName = "conv",
        latent_dim: int = 16,
        conv_channels: int = 32,
        mlp_hidden_dim: int = 256,
        variational: bool = False,
        kl_weight: float = 1.0,
        input_noise: float = 0.0,
        optimizer: OptimizerName = "adam",
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        scheduler: SchedulerName = "none",
    ) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        if input_noise < 0 or kl_weight < 0:
            raise ValueError(f"input_noise and kl_weight must be >= 0, got {input_noise} and {kl_weight}")
        self.save_hyperparameters()
        # A VAE's encoder outputs a mean and a log-variance per latent dimension.
        encoder_outputs = 2 * latent_dim if variational else latent_dim
        self.encoder, self.decoder = build_encoder_decoder(
            architecture, image_size, encoder_outputs, latent_dim, conv_channels, mlp_hidden_dim
        )
        # torchmetrics accumulates over the epoch and syncs across processes, so the MSE is exact under DDP.
        self.val_mse = MeanSquaredError()
        self.test_mse = MeanSquaredError()

    def encode(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """The code (a VAE's mean) and, for a VAE, the log-variance; float32 even under mixed precision."""
        output = self.encoder(images).float()
        if not self.hparams.variational:
            return output, None
        mean, log_variance = output.chunk(2, dim=-1)
        return mean, log_variance

    def decode(self, codes: Tensor) -> Tensor:
        return self.decoder(codes)

    def forward(self, images: Tensor) -> Tensor:
        """The deterministic reconstruction (a VAE decodes its mean)."""
        codes, _ = self.encode(images)
        return self.decode(codes)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        images, _ = batch
        inputs = images
        if self.hparams.input_noise > 0:
            inputs = images + self.hparams.input_noise * torch.randn_like(images)
        mean, log_variance = self.encode(inputs)
        if log_variance is None:
            loss = F.mse_loss(self.decode(mean).float(), images)
        else:
            # Reparameterisation: a sample of the posterior that gradients flow through.
            codes = mean + torch.randn_like(mean) * torch.exp(0.5 * log_variance)
            mse = F.mse_loss(self.decode(codes).float(), images)
            kl = self._kl_per_pixel(mean, log_variance, images)
            loss = mse + self.hparams.kl_weight * kl
            self.log_dict({"train_mse": mse, "train_kl": kl})
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_mse)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_mse)

    def _evaluate(self, batch: Batch, split: str, mse: MeanSquaredError) -> None:
        images, _ = batch
        mean, log_variance = self.encode(images)
        reconstruction = self.decode(mean).float()
        mse.update(reconstruction, images)
        loss = F.mse_loss(reconstruction, images)
        if log_variance is not None:
            kl = self._kl_per_pixel(mean, log_variance, images)
            loss = loss + self.hparams.kl_weight * kl
            self.log(f"{split}_kl", kl, sync_dist=True)
        self.log(f"{split}_loss", loss, sync_dist=True)
        self.log(f"{split}_mse", mse, prog_bar=split == "val")

    def predict_step(self, batch: Batch, batch_idx: int) -> Tensor:
        images, _ = batch
        codes, _ = self.encode(images)
        return codes

    @staticmethod
    def _kl_per_pixel(mean: Tensor, log_variance: Tensor, images: Tensor) -> Tensor:
        """KL(N(mean, exp(log_variance)) || N(0, 1)) summed over the code, averaged over the batch, per pixel."""
        kl_per_image = -0.5 * torch.sum(1 + log_variance - mean.pow(2) - log_variance.exp(), dim=-1)
        return kl_per_image.mean() / images[0].numel()

    def configure_optimizers(self) -> OptimizerLRScheduler:
        hparams = self.hparams
        return optimizers_by_name(
            self.parameters(), self.trainer, hparams.optimizer, hparams.lr, hparams.weight_decay, hparams.scheduler
        )
