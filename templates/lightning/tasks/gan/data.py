"""The LightningDataModule: a seeded mixture of 2-D Gaussians on a ring, and fixed latent codes to evaluate with."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from {{ package_name }}.inmemory import InMemoryDataModule


def ring_centers(n_modes: int, radius: float) -> Tensor:
    """The N_MODES mode centres, evenly spaced on a circle of RADIUS around the origin, shape ``(n_modes, 2)``."""
    angles = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def sample_ring(count: int, n_modes: int, radius: float, std: float, generator: torch.Generator) -> Tensor:
    """COUNT points: a uniformly chosen mode centre plus isotropic Gaussian noise of standard deviation STD."""
    modes = torch.randint(n_modes, (count,), generator=generator)
    return ring_centers(n_modes, radius)[modes] + std * torch.randn(count, 2, generator=generator)


class RingDataModule(InMemoryDataModule):
    """Points from ``n_modes`` Gaussians on a circle; validation and test pair real points with fixed latent codes.

    Everything is drawn from ``split_seed`` in ``setup``, so every process (one per device under DDP)
    builds identical sets and nothing is downloaded. The latent codes of the validation, test and
    predict sets are fixed too, so the generator is scored on the same inputs every epoch.
    ``latent_dim`` comes from the model (linked by the CLI).
    """

    def __init__(
        self,
        n_modes: int = 8,
        radius: float = 2.0,
        std: float = 0.05,
        latent_dim: int = 8,
        train_samples: int = 16384,
        val_samples: int = 2048,
        test_samples: int = 2048,
        predict_samples: int = 1024,
        batch_size: int = 256,
        num_workers: int = 0,
        split_seed: int = 42,
    ) -> None:
        super().__init__()
        if n_modes < 1 or radius <= 0 or std <= 0:
            raise ValueError(f"need n_modes >= 1, radius > 0 and std > 0, got {n_modes}, {radius} and {std}")
        if min(train_samples, val_samples, test_samples, predict_samples) < 1:
            raise ValueError("train_samples, val_samples, test_samples and predict_samples must be >= 1")
        self.save_hyperparameters()

    def build_splits(self) -> None:
        hparams = self.hparams
        generator = torch.Generator().manual_seed(hparams.split_seed)

        def points(count: int) -> Tensor:
            return sample_ring(count, hparams.n_modes, hparams.radius, hparams.std, generator)

        def codes(count: int) -> Tensor:
            return torch.randn(count, hparams.latent_dim, generator=generator)

        self.train_set = TensorDataset(points(hparams.train_samples))
        self.val_set = TensorDataset(points(hparams.val_samples), codes(hparams.val_samples))
        self.test_set = TensorDataset(points(hparams.test_samples), codes(hparams.test_samples))
        self.predict_set = TensorDataset(codes(hparams.predict_samples))

    def train_dataloader(self) -> DataLoader:
        # drop_last: a tiny final batch would give the discriminator a noisy, oddly weighted step.
        drop_last = self.train_set is not None and len(self.train_set) > self.hparams.batch_size
        return self._loader(self.train_set, shuffle=True, drop_last=drop_last)
