"""The LightningModule: an MLP over the 64 digit pixels; optimizer and LR schedule are chosen by name."""

from __future__ import annotations

from lightning.pytorch import LightningModule
from lightning.pytorch.utilities.types import OptimizerLRScheduler
from torch import Tensor, nn
from torch.nn import functional as F
from torchmetrics.classification import MulticlassAccuracy

from {{ package_name }}.optim import OptimizerName, SchedulerName, optimizers_by_name

Batch = tuple[Tensor, Tensor]


class DigitsClassifier(LightningModule):
    """Two hidden layers with dropout; logs loss and accuracy as ``train_*``, ``val_*`` and ``test_*``.

    ``num_features`` and ``num_classes`` are linked from the data module by the CLI. The schedulers
    ``cosine`` and ``step`` span the whole run and step every batch, so they work for any number of
    epochs, devices or nodes; ``plateau`` watches ``val_loss`` once per epoch.
    """

    def __init__(
        self,
        num_features: int = 64,
        num_classes: int = 10,
        hidden_dim: int = 256,
        dropout: float = 0.2,
        optimizer: OptimizerName = "adam",
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        scheduler: SchedulerName = "none",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Linear(num_features, hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, num_classes),
        )
        # One metric per split: torchmetrics accumulates over the epoch and syncs across processes.
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")

    def forward(self, features: Tensor) -> Tensor:
        return self.net(features)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        features, labels = batch
        logits = self(features)
        loss = F.cross_entropy(logits, labels)
        # update() only accumulates; calling the metric would also compute a per-batch value nobody reads.
        self.train_acc.update(logits, labels)
        self.log("train_loss", loss)
        return loss

    def on_train_epoch_end(self) -> None:
        # The epoch's accuracy, computed (and synced across processes) once rather than at every step.
        self.log("train_acc", self.train_acc)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        features, labels = batch
        logits = self(features)
        self.val_acc(logits, labels)
        self.log("val_loss", F.cross_entropy(logits, labels), prog_bar=True, sync_dist=True)
        self.log("val_acc", self.val_acc, prog_bar=True)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        features, labels = batch
        logits = self(features)
        self.test_acc(logits, labels)
        self.log("test_loss", F.cross_entropy(logits, labels), sync_dist=True)
        self.log("test_acc", self.test_acc)

    def predict_step(self, batch: tuple[Tensor], batch_idx: int) -> Tensor:
        (features,) = batch
        return self(features).argmax(dim=-1)

    def configure_optimizers(self) -> OptimizerLRScheduler:
        hparams = self.hparams
        return optimizers_by_name(
            self.parameters(), self.trainer, hparams.optimizer, hparams.lr, hparams.weight_decay, hparams.scheduler
        )
