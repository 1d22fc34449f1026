"""The LightningDataModule: scikit-learn's bundled 8x8 digits as standardised 1x8x8 images, split by a seed."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch.utils.data import TensorDataset

from {{ package_name }}.inmemory import SplitDataModule


class DigitsImagesDataModule(SplitDataModule):
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

    def build_splits(self) -> None:
        pixels, labels = load_digits(return_X_y=True)
        x_train, x_val, x_test, y_train, y_val, y_test = self.split(pixels, labels, strata=labels)
        # Statistics from the training split only, so nothing leaks from validation or test.
        mean, std = float(x_train.mean()), float(x_train.std())
        self.train_set = _image_dataset((x_train - mean) / std, y_train, self.image_size)
        self.val_set = _image_dataset((x_val - mean) / std, y_val, self.image_size)
        self.test_set = _image_dataset((x_test - mean) / std, y_test, self.image_size)
        # Embed the held-out test images; their labels ride along into the predictions file.
        self.predict_set = self.test_set


def _image_dataset(pixels: np.ndarray, labels: np.ndarray, image_size: int) -> TensorDataset:
    images = torch.as_tensor(pixels, dtype=torch.float32).reshape(-1, 1, image_size, image_size)
    return TensorDataset(images, torch.as_tensor(labels, dtype=torch.long))
