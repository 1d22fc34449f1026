"""The hand-written anchor: the minimal LightningModule a user would write, on the default Trainer."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities.types import OptimizerLRScheduler
from torch import Tensor, nn
from torch.nn import functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR


class HandWrittenClassifier(LightningModule):
    """The generated model's network, trained on its loss alone, logged each step with ``self.log``.

    It keeps what decides the cost of a step in the generated project (the network, the data, Adam
    and the per-batch cosine schedule) and drops the rest: no metrics, no validation, no extra callbacks.
    """

    def __init__(self, net: nn.Module, lr: float, weight_decay: float) -> None:
        super().__init__()
        self.net = copy.deepcopy(net)
        self.lr = lr
        self.weight_decay = weight_decay

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        features, labels = batch
        loss = F.cross_entropy(self.net(features), labels)
        self.log("loss", loss)
        return loss

    def configure_optimizers(self) -> OptimizerLRScheduler:
        optimizer = torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        schedule = CosineAnnealingLR(optimizer, T_max=int(self.trainer.estimated_stepping_batches))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def default_trainer(epochs: int, root: Path, timer: Callback) -> Trainer:
    """``Trainer(max_epochs=...)`` as a user writes it: default logger, checkpointing and progress bar.

    Only the device is pinned (the generated project's CPU run) and the step timer added.
    """
    return Trainer(
        max_epochs=epochs, accelerator="cpu", devices=1, default_root_dir=root, callbacks=[timer]
    )
