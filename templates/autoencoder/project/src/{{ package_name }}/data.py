"""The LightningDataModule: scikit-learn's bundled 8x8 digits as standardised 1x8x8 images, split by a seed."""

from __future__ import annotations

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset


class DigitsImagesDataModule(LightningDataModule):
    """1,797 grey-scale 8x8 digit images; batches are ``(images, labels)`` with images shaped ``(N, 1, 8, 8)``.

    Pixels (0 to 16) are standardised with one mean and one standard deviation over all pixels of
    the training split, so an image keeps its contrast and the training pixels have variance 1:
    a reconstruction MSE reads as the fraction of that variance left unexplained. The labels are
    not used for training; they are carried along so that ``predict`` can write them next to the
    latent codes, for plotting or probing the embedding.

    The data ships inside scikit-learn, so there is nothing to download and no ``prepare_data``:
    every process (one per device under DDP) loads it in ``setup`` and derives the identical
    stratified split from ``split_seed``, which is independent of the training seed.
    """

    image_size = 8

    def __init__(
        self,
        batch_size: int = 64,
        num_workers: int = 0,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        split_seed: int = 42,
    ) -> None:
        super().__init__()
        if not (0 < val_fraction and 0 < test_fraction and val_fraction + test_fraction < 1):
            raise ValueError(
                "val_fraction and test_fraction must be > 0 and sum to less than 1, "
                f"got {val_fraction} and {test_fraction}"
            )
        self.save_hyperparameters()
        self.train_set: TensorDataset | None = None
        self.val_set: TensorDataset | None = None
        self.test_set: TensorDataset | None = None

    def setup(self, stage: str) -> None:
        if self.train_set is not None:  # fit then test in one process: split and scale only once
            return
        pixels, labels = load_digits(return_X_y=True)
        held_out = self.hparams.val_fraction + self.hparams.test_fraction
        x_train, x_rest, y_train, y_rest = train_test_split(
            pixels, labels, test_size=held_out, stratify=labels, random_state=self.hparams.split_seed
        )
        x_val, x_test, y_val, y_test = train_test_split(
            x_rest,
            y_rest,
            test_size=self.hparams.test_fraction / held_out,
            stratify=y_rest,
            random_state=self.hparams.split_seed,
        )
        # Statistics from the training split only, so nothing leaks from validation or test.
        mean, std = float(x_train.mean()), float(x_train.std())
        self.train_set = _image_dataset((x_train - mean) / std, y_train, self.image_size)
        self.val_set = _image_dataset((x_val - mean) / std, y_val, self.image_size)
        self.test_set = _image_dataset((x_test - mean) / std, y_test, self.image_size)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)

    def predict_dataloader(self) -> DataLoader:
        # Embed the held-out test images; their labels ride along into the predictions file.
        return self._loader(self.test_set)

    def _loader(self, dataset: TensorDataset | None, shuffle: bool = False) -> DataLoader:
        if dataset is None:
            raise RuntimeError("DigitsImagesDataModule.setup() must run before its dataloaders are requested")
        # Under DDP, Lightning swaps in a DistributedSampler that shards (and shuffles) per process.
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            num_workers=self.hparams.num_workers,
            persistent_workers=self.hparams.num_workers > 0,
        )


def _image_dataset(pixels: np.ndarray, labels: np.ndarray, image_size: int) -> TensorDataset:
    images = torch.as_tensor(pixels, dtype=torch.float32).reshape(-1, 1, image_size, image_size)
    return TensorDataset(images, torch.as_tensor(labels, dtype=torch.long))
