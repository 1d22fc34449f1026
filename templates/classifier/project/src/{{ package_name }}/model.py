"""The LightningModule: an MLP over the 64 digit pixels; optimizer and LR schedule are chosen by name."""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities.types import OptimizerLRScheduler
from torch import Tensor, nn
from torch.nn import functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau, StepLR
from torchmetrics.classification import MulticlassAccuracy

OptimizerName = Literal["adam", "adamw", "sgd"]
SchedulerName = Literal["none", "cosine", "step", "plateau"]
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
        if optimizer not in get_args(OptimizerName):
            raise ValueError(f"optimizer must be one of {get_args(OptimizerName)}, got {optimizer!r}")
        if scheduler not in get_args(SchedulerName):
            raise ValueError(f"scheduler must be one of {get_args(SchedulerName)}, got {scheduler!r}")
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
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def on_train_epoch_end(self) -> None:
        # Logged once per epoch, not from training_step: Lightning moves a logged Metric object to the
        # device on every self.log call, which costs ~0.5 ms per step on a model this small.
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
        if hparams.optimizer == "sgd":
            optimizer = torch.optim.SGD(
                self.parameters(),
                lr=hparams.lr,
                momentum=0.9,
                nesterov=True,
                weight_decay=hparams.weight_decay,
            )
        else:
            adam = torch.optim.AdamW if hparams.optimizer == "adamw" else torch.optim.Adam
            optimizer = adam(self.parameters(), lr=hparams.lr, weight_decay=hparams.weight_decay)

        if hparams.scheduler == "none":
            return optimizer
        if hparams.scheduler == "plateau":
            # val_loss is logged once per validation epoch, so the scheduler must step per epoch too.
            plateau = ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=2)
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": plateau, "monitor": "val_loss", "interval": "epoch"},
            }
        # Lightning counts the optimizer steps of the whole run (epochs, accumulation, devices, nodes).
        total_steps = self.trainer.estimated_stepping_batches
        if not math.isfinite(total_steps):
            raise ValueError(f"scheduler {hparams.scheduler!r} spans the run: set trainer.max_epochs or max_steps")
        total_steps = max(1, int(total_steps))
        if hparams.scheduler == "cosine":
            schedule = CosineAnnealingLR(optimizer, T_max=total_steps)
        else:  # "step": x0.1 after one third and after two thirds of the run
            schedule = StepLR(optimizer, step_size=max(1, math.ceil(total_steps / 3)), gamma=0.1)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
