"""The LightningDataModule: scikit-learn's bundled 8x8 digits, split by a seed and standardised."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler
from torch.utils.data import TensorDataset

from {{ package_name }}.inmemory import SplitDataModule


class DigitsDataModule(SplitDataModule):
    """1,797 grey-scale 8x8 digit images as 64 features, 10 classes; stratified train/val/test split.

    The data ships inside scikit-learn, so there is nothing to download and no ``prepare_data``:
    every process (one per device under DDP) loads it in ``setup`` and derives the identical split
    from ``split_seed``, which is independent of the training seed so runs stay comparable.
    """

    num_features = 64
    num_classes = 10

    def build_splits(self) -> None:
        features, labels = load_digits(return_X_y=True)
        x_train, x_val, x_test, y_train, y_val, y_test = self.split(features, labels, strata=labels)
        # Statistics from the training split only, so nothing leaks from validation or test.
        scaler = StandardScaler().fit(x_train)
        self.train_set = _tensor_dataset(scaler.transform(x_train), y_train)
        self.val_set = _tensor_dataset(scaler.transform(x_val), y_val)
        self.test_set = _tensor_dataset(scaler.transform(x_test), y_test)
        # Predict on the held-out test images, features only: labels are what we predict.
        self.predict_set = TensorDataset(self.test_set.tensors[0])


def _tensor_dataset(features: np.ndarray, labels: np.ndarray) -> TensorDataset:
    return TensorDataset(
        torch.as_tensor(features, dtype=torch.float32),
        torch.as_tensor(labels, dtype=torch.long),
    )
