"""Custom callbacks: a best-score tracker that survives checkpoint resume, and a CSV writer for latent codes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.trainer.states import TrainerFn


class BestScoreTracker(Callback):
    """Remembers the best value of a logged metric, its epoch and companion metrics, and prints them when fit ends.

    The summary line reads ``best val_mse=0.1234 at epoch 29`` (epochs count from 0, as in checkpoint
    names); ``also`` names metrics reported alongside, taken from the same epoch, e.g. a VAE's
    ``(val_kl=0.0456)``.

    Its state is saved in every checkpoint (``state_dict``/``load_state_dict``), so a resumed run
    still reports the best epoch of the run it continues. ``state_key`` includes the monitored
    metric, so several trackers can coexist in one Trainer without overwriting each other's state.
    """

    def __init__(
        self, monitor: str = "val_mse", mode: Literal["min", "max"] = "min", also: Sequence[str] = ()
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.mode = mode
        self.also = list(also)
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.companions: dict[str, float] = {}

    @property
    def state_key(self) -> str:
        return self._generate_state_key(monitor=self.monitor, mode=self.mode)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # Sanity checks and stand-alone `validate` runs are not epochs of the fit being tracked.
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        metrics = trainer.callback_metrics
        score = metrics.get(self.monitor)
        if score is not None and self._is_better(float(score)):
            self.best_score, self.best_epoch = float(score), trainer.current_epoch
            self.companions = {name: float(metrics[name]) for name in self.also if name in metrics}

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero and self.best_score is not None:
            companions = ", ".join(f"{name}={value:.4f}" for name, value in self.companions.items())
            suffix = f" ({companions})" if companions else ""
            print(f"best {self.monitor}={self.best_score:.4f} at epoch {self.best_epoch}{suffix}")

    def _is_better(self, score: float) -> bool:
        if self.best_score is None:
            return True
        return score > self.best_score if self.mode == "max" else score < self.best_score

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch, "companions": dict(self.companions)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = state_dict["best_score"]
        self.best_epoch = state_dict["best_epoch"]
        self.companions = dict(state_dict.get("companions", {}))


class CsvEmbeddingWriter(BasePredictionWriter):
    """Writes ``predict`` results as ``index,label,z0,z1,...`` rows to ``<output_dir>/embeddings-rank<N>.csv``.

    Each row is one image's latent code (``z0`` to ``z<latent_dim - 1>``) with the image's digit
    label, ready to plot or to train a probe on. One file per process: under DDP each rank embeds
    its own shard of the dataset, and the ``index`` column (the image's position in the predict
    dataset) lets the shards be merged.
    """

    def __init__(self, output_dir: str = "predictions") -> None:
        super().__init__(write_interval="batch")
        self.output_dir = Path(output_dir)

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        columns = ",".join(f"z{dim}" for dim in range(pl_module.hparams.latent_dim))
        self._path(trainer).write_text(f"index,label,{columns}\n")

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        prediction: torch.Tensor,
        batch_indices: Sequence[int],
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        _, labels = batch
        # repr() of a Python float round-trips exactly, so the file holds the codes the model computed.
        rows = (
            f"{index},{label}," + ",".join(repr(value) for value in code) + "\n"
            for index, label, code in zip(batch_indices, labels.tolist(), prediction.tolist())
        )
        with self._path(trainer).open("a") as file:
            file.writelines(rows)

    def _path(self, trainer: Trainer) -> Path:
        return self.output_dir / f"embeddings-rank{trainer.global_rank}.csv"
