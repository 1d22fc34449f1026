"""The LightningDataModule: scikit-learn's bundled diabetes data, split by a seed, features and target standardised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_diabetes
from sklearn.preprocessing import StandardScaler
from torch.utils.data import TensorDataset

from {{ package_name }}.inmemory import SplitDataModule


@dataclass(frozen=True)
class _Splits:
    """The standardised splits, and the training target's mean and standard deviation (original units)."""

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    target_mean: float
    target_std: float


class DiabetesDataModule(SplitDataModule):
    """442 patients, 10 baseline measurements each; the target is disease progression one year later.

    The features are age, sex, body-mass index, mean blood pressure and six blood serum measurements,
    in their original units; the target ranges from 25 to 346. Both are standardised with statistics
    of the training split only. The model learns the standardised target, and ``target_mean`` and
    ``target_std`` (linked to the model by the CLI) turn its outputs back into original units.

    The data ships inside scikit-learn, so there is nothing to download and no ``prepare_data``:
    every process (one per device under DDP) derives the identical split from ``split_seed``, which
    is independent of the training seed so runs stay comparable. The split is stratified on target
    quintiles, so that the small validation and test splits (66 and 67 rows) span the whole range.
    """

    num_features = 10
    _splits: _Splits | None = None  # built on first use

    @property
    def target_mean(self) -> float:
        return self._load().target_mean

    @property
    def target_std(self) -> float:
        return self._load().target_std

    def build_splits(self) -> None:
        splits = self._load()
        self.train_set, self.val_set, self.test_set = splits.train, splits.val, splits.test
        # Predict on the held-out test rows, features only: the target is what we predict.
        self.predict_set = TensorDataset(splits.test.tensors[0])

    def _load(self) -> _Splits:
        # Loaded on first use (the CLI reads target_mean while building the model, before setup),
        # then cached: a few milliseconds, and fit followed by test splits and scales only once.
        if self._splits is None:
            self._splits = self._split_and_standardise()
        return self._splits

    def _split_and_standardise(self) -> _Splits:
        features, target = load_diabetes(return_X_y=True, scaled=False)
        quintiles = np.digitize(target, np.quantile(target, [0.2, 0.4, 0.6, 0.8]))
        x_train, x_val, x_test, y_train, y_val, y_test = self.split(features, target, strata=quintiles)
        # Statistics from the training split only, so nothing leaks from validation or test.
        scaler = StandardScaler().fit(x_train)
        mean, std = float(y_train.mean()), float(y_train.std())
        return _Splits(
            train=_tensor_dataset(scaler.transform(x_train), (y_train - mean) / std),
            val=_tensor_dataset(scaler.transform(x_val), (y_val - mean) / std),
            test=_tensor_dataset(scaler.transform(x_test), (y_test - mean) / std),
            target_mean=mean,
            target_std=std,
        )


def _tensor_dataset(features: np.ndarray, target: np.ndarray) -> TensorDataset:
    return TensorDataset(
        torch.as_tensor(features, dtype=torch.float32),
        torch.as_tensor(target, dtype=torch.float32),
    )
