"""The LightningDataModule: scikit-learn's bundled 8x8 digits, split by a seed and standardised."""

from __future__ import annotations

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch.utils.data import DataLoader, TensorDataset


class DigitsDataModule(LightningDataModule):
    """1,797 grey-scale 8x8 digit images as 64 features, 10 classes; stratified train/val/test split.

    The data ships inside scikit-learn, so there is nothing to download and no ``prepare_data``:
    every process (one per device under DDP) loads it in ``setup`` and derives the identical split
    from ``split_seed``, which is independent of the training seed so runs stay comparable.
    """

    num_features = 64
    num_classes = 10

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
        features, labels = load_digits(return_X_y=True)
        held_out = self.hparams.val_fraction + self.hparams.test_fraction
        x_train, x_rest, y_train, y_rest = train_test_split(
            features, labels, test_size=held_out, stratify=labels, random_state=self.hparams.split_seed
        )
        x_val, x_test, y_val, y_test = train_test_split(
            x_rest,
            y_rest,
            test_size=self.hparams.test_fraction / held_out,
            stratify=y_rest,
            random_state=self.hparams.split_seed,
        )
        # Statistics from the training split only, so nothing leaks from validation or test.
        scaler = StandardScaler().fit(x_train)
        self.train_set = _tensor_dataset(scaler.transform(x_train), y_train)
        self.val_set = _tensor_dataset(scaler.transform(x_val), y_val)
        self.test_set = _tensor_dataset(scaler.transform(x_test), y_test)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)

    def predict_dataloader(self) -> DataLoader:
        # Predict on the held-out test images, features only: labels are what we predict.
        return self._loader(TensorDataset(self.test_set.tensors[0]))

    def _loader(self, dataset: TensorDataset | None, shuffle: bool = False) -> DataLoader:
        if dataset is None:
            raise RuntimeError("DigitsDataModule.setup() must run before its dataloaders are requested")
        # Under DDP, Lightning swaps in a DistributedSampler that shards (and shuffles) per process.
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            num_workers=self.hparams.num_workers,
            persistent_workers=self.hparams.num_workers > 0,
        )


def _tensor_dataset(features: np.ndarray, labels: np.ndarray) -> TensorDataset:
    return TensorDataset(
        torch.as_tensor(features, dtype=torch.float32),
        torch.as_tensor(labels, dtype=torch.long),
    )
