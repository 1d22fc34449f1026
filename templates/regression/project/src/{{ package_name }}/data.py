"""The LightningDataModule: scikit-learn's bundled diabetes data, split by a seed, features and target standardised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch.utils.data import DataLoader, TensorDataset


@dataclass(frozen=True)
class _Splits:
    """The standardised splits, and the training target's mean and standard deviation (original units)."""

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    target_mean: float
    target_std: float


class DiabetesDataModule(LightningDataModule):
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

    def __init__(
        self,
        batch_size: int = 32,
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
        self._splits: _Splits | None = None

    @property
    def target_mean(self) -> float:
        return self._load().target_mean

    @property
    def target_std(self) -> float:
        return self._load().target_std

    @property
    def train_set(self) -> TensorDataset:
        return self._load().train

    @property
    def val_set(self) -> TensorDataset:
        return self._load().val

    @property
    def test_set(self) -> TensorDataset:
        return self._load().test

    def setup(self, stage: str) -> None:
        self._load()

    def _load(self) -> _Splits:
        # Loaded on first use (the CLI reads target_mean while building the model, before setup),
        # then cached: a few milliseconds, and fit followed by test splits and scales only once.
        if self._splits is None:
            self._splits = self._split_and_standardise()
        return self._splits

    def _split_and_standardise(self) -> _Splits:
        features, target = load_diabetes(return_X_y=True, scaled=False)
        quintiles = np.digitize(target, np.quantile(target, [0.2, 0.4, 0.6, 0.8]))
        held_out = self.hparams.val_fraction + self.hparams.test_fraction
        x_train, x_rest, y_train, y_rest, _, q_rest = train_test_split(
            features, target, quintiles, test_size=held_out, stratify=quintiles, random_state=self.hparams.split_seed
        )
        x_val, x_test, y_val, y_test = train_test_split(
            x_rest,
            y_rest,
            test_size=self.hparams.test_fraction / held_out,
            stratify=q_rest,
            random_state=self.hparams.split_seed,
        )
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

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)

    def predict_dataloader(self) -> DataLoader:
        # Predict on the held-out test rows, features only: the target is what we predict.
        return self._loader(TensorDataset(self.test_set.tensors[0]))

    def _loader(self, dataset: TensorDataset, shuffle: bool = False) -> DataLoader:
        # Under DDP, Lightning swaps in a DistributedSampler that shards (and shuffles) per process.
        return DataLoader(
            dataset,
            batch_size=self.hparams.batch_size,
            shuffle=shuffle,
            num_workers=self.hparams.num_workers,
            persistent_workers=self.hparams.num_workers > 0,
        )


def _tensor_dataset(features: np.ndarray, target: np.ndarray) -> TensorDataset:
    return TensorDataset(
        torch.as_tensor(features, dtype=torch.float32),
        torch.as_tensor(target, dtype=torch.float32),
    )
