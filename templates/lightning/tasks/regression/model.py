"""The LightningModule: an MLP regressor on standardised data; loss, optimizer and LR schedule chosen by name."""

from __future__ import annotations

from typing import Literal

from lightning.pytorch import LightningModule
from lightning.pytorch.utilities.types import OptimizerLRScheduler
from torch import Tensor, nn
from torch.nn import functional as F
from torchmetrics import MetricCollection
from torchmetrics.regression import MeanSquaredError, R2Score

from {{ package_name }}.optim import OptimizerName, SchedulerName, optimizers_by_name

LossName = Literal["mse", "huber"]
Batch = tuple[Tensor, Tensor]


class DiabetesRegressor(LightningModule):
    """An MLP regressor; logs ``*_loss`` (on the standardised target), ``*_rmse`` and ``*_r2`` (original units).

    The network learns the standardised target, and the loss is computed there (``huber_delta`` = 1
    means one standard deviation). ``target_mean`` and ``target_std`` (linked from the data module
    by the CLI, saved with the checkpoint) undo the standardisation: RMSE and R2 are computed in
    the target's original units, and ``forward`` and ``predict`` return original units too.

    The schedulers ``cosine`` and ``step`` span the whole run and step every batch, so they work for
    any number of epochs, devices or nodes; ``plateau`` watches ``val_loss`` once per epoch.
    """

    def __init__(
        self,
        num_features: int = 10,
        target_mean: float = 0.0,
        target_std: float = 1.0,
        hidden_dim: int = 32,
        num_hidden_layers: int = 2,
        dropout: float = 0.2,
        loss: LossName = "mse",
        huber_delta: float = 1.0,
        optimizer: OptimizerName = "adamw",
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        scheduler: SchedulerName = "none",
    ) -> None:
        super().__init__()
        if not target_std > 0:
            raise ValueError(f"target_std must be > 0, got {target_std}")
        if num_hidden_layers < 1:
            raise ValueError(f"num_hidden_layers must be >= 1, got {num_hidden_layers}")
        self.save_hyperparameters()
        layers: list[nn.Module] = []
        width = num_features
        for _ in range(num_hidden_layers):
            layers += [nn.Linear(width, hidden_dim), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden_dim
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        # One metric collection per split: torchmetrics accumulates over the epoch and syncs across processes.
        metrics = MetricCollection({"rmse": MeanSquaredError(squared=False), "r2": R2Score()})
        self.val_metrics = metrics.clone(prefix="val_")
        self.test_metrics = metrics.clone(prefix="test_")

    def forward(self, features: Tensor) -> Tensor:
        """The prediction in the target's original units, one value per row (what predict and an export return)."""
        return self.to_original_units(self.standardised_prediction(features))

    def standardised_prediction(self, features: Tensor) -> Tensor:
        """The network's output: the prediction of the standardised target, on which the loss is computed."""
        return self.net(features).squeeze(-1)

    def to_original_units(self, standardised: Tensor) -> Tensor:
        # float(): under mixed precision the network's output is float16/bfloat16, too coarse for metrics.
        return standardised.float() * self.hparams.target_std + self.hparams.target_mean

    def loss_fn(self, prediction: Tensor, target: Tensor) -> Tensor:
        if self.hparams.loss == "huber":
            return F.huber_loss(prediction, target, delta=self.hparams.huber_delta)
        return F.mse_loss(prediction, target)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        features, target = batch
        loss = self.loss_fn(self.standardised_prediction(features), target)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_metrics)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_metrics)

    def _evaluate(self, batch: Batch, split: str, metrics: MetricCollection) -> None:
        features, target = batch
        prediction = self.standardised_prediction(features)
        self.log(f"{split}_loss", self.loss_fn(prediction, target), sync_dist=True)
        metrics.update(self.to_original_units(prediction), self.to_original_units(target))
        self.log_dict(metrics, prog_bar=split == "val")

    def predict_step(self, batch: tuple[Tensor], batch_idx: int) -> Tensor:
        (features,) = batch
        return self(features)

    def configure_optimizers(self) -> OptimizerLRScheduler:
        hparams = self.hparams
        return optimizers_by_name(
            self.parameters(), self.trainer, hparams.optimizer, hparams.lr, hparams.weight_decay, hparams.scheduler, plateau_patience=3
        )
