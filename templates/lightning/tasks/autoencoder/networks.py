"""Encoders and decoders for square one-channel images: a small convolutional pair and an MLP pair."""

from __future__ import annotations

from typing import Literal

from torch import nn

ArchitectureName = Literal["conv", "mlp"]


def build_encoder(
    architecture: ArchitectureName, image_size: int, out_features: int, conv_channels: int, mlp_hidden_dim: int
) -> nn.Sequential:
    """Image ``(N, 1, S, S)`` -> ``(N, out_features)``."""
    if architecture == "conv":
        _check_even(image_size)
        reduced = image_size // 2
        return nn.Sequential(
            nn.Conv2d(1, conv_channels, kernel_size=3, padding=1),
            nn.ReLU(),
            # Stride 2 halves the resolution (8x8 -> 4x4) while doubling the channels.
            nn.Conv2d(conv_channels, 2 * conv_channels, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(2 * conv_channels * reduced * reduced, out_features),
        )
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(image_size * image_size, mlp_hidden_dim),
        nn.ReLU(),
        nn.Linear(mlp_hidden_dim, mlp_hidden_dim // 2),
        nn.ReLU(),
        nn.Linear(mlp_hidden_dim // 2, out_features),
    )


def build_decoder(
    architecture: ArchitectureName, image_size: int, latent_dim: int, conv_channels: int, mlp_hidden_dim: int
) -> nn.Sequential:
    """Code ``(N, latent_dim)`` -> image ``(N, 1, S, S)``, unbounded (the pixels are standardised)."""
    if architecture == "conv":
        _check_even(image_size)
        reduced = image_size // 2
        return nn.Sequential(
            nn.Linear(latent_dim, 2 * conv_channels * reduced * reduced),
            nn.ReLU(),
            nn.Unflatten(1, (2 * conv_channels, reduced, reduced)),
            # A transposed convolution rather than nn.Upsample: its backward pass is deterministic on GPUs too.
            nn.ConvTranspose2d(2 * conv_channels, conv_channels, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(conv_channels, 1, kernel_size=3, padding=1),
        )
    return nn.Sequential(
        nn.Linear(latent_dim, mlp_hidden_dim // 2),
        nn.ReLU(),
        nn.Linear(mlp_hidden_dim // 2, mlp_hidden_dim),
        nn.ReLU(),
        nn.Linear(mlp_hidden_dim, image_size * image_size),
        nn.Unflatten(1, (1, image_size, image_size)),
    )


def _check_even(image_size: int) -> None:
    if image_size % 2:
        raise ValueError(f"the conv architecture halves the image, so image_size must be even, got {image_size}")
