"""Encoder and decoder for square one-channel images: a small convolutional pair or an MLP pair."""

from __future__ import annotations

from typing import Literal

from torch import nn

ArchitectureName = Literal["conv", "mlp"]


def build_encoder_decoder(
    architecture: ArchitectureName,
    image_size: int,
    encoder_outputs: int,
    latent_dim: int,
    conv_channels: int,
    mlp_hidden_dim: int,
) -> tuple[nn.Sequential, nn.Sequential]:
    """The encoder, image ``(N, 1, S, S)`` -> ``(N, encoder_outputs)``, and the decoder that mirrors it,
    code ``(N, latent_dim)`` -> image ``(N, 1, S, S)``, unbounded (the pixels are standardised).
    """
    if architecture == "mlp":
        encoder = nn.Sequential(
            nn.Flatten(),
            nn.Linear(image_size * image_size, mlp_hidden_dim),
            nn.ReLU(),
            nn.Linear(mlp_hidden_dim, mlp_hidden_dim // 2),
            nn.ReLU(),
            nn.Linear(mlp_hidden_dim // 2, encoder_outputs),
        )
        decoder = nn.Sequential(
            nn.Linear(latent_dim, mlp_hidden_dim // 2),
            nn.ReLU(),
            nn.Linear(mlp_hidden_dim // 2, mlp_hidden_dim),
            nn.ReLU(),
            nn.Linear(mlp_hidden_dim, image_size * image_size),
            nn.Unflatten(1, (1, image_size, image_size)),
        )
        return encoder, decoder
    if image_size % 2:
        raise ValueError(f"the conv architecture halves the image, so image_size must be even, got {image_size}")
    # Stride 2 halves the resolution (8x8 -> 4x4) while doubling the channels; the decoder undoes both.
    channels, side = 2 * conv_channels, image_size // 2
    encoder = nn.Sequential(
        nn.Conv2d(1, conv_channels, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(conv_channels, channels, kernel_size=3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(channels * side * side, encoder_outputs),
    )
    decoder = nn.Sequential(
        nn.Linear(latent_dim, channels * side * side),
        nn.ReLU(),
        nn.Unflatten(1, (channels, side, side)),
        # A transposed convolution rather than nn.Upsample: its backward pass is deterministic on GPUs too.
        nn.ConvTranspose2d(channels, conv_channels, kernel_size=4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(conv_channels, 1, kernel_size=3, padding=1),
    )
    return encoder, decoder
