"""Custom callbacks: a best-score tracker that survives checkpoint resume, and a JSON-lines writer for generation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.trainer.states import TrainerFn


class BestScoreTracker(Callback):
    """Remembers the best value of a logged metric and its epoch, and prints them when fit ends.

    The summary line reads ``best val_ppl=4.8125 at epoch 3`` (epochs count from 0, as in checkpoint names).

    Its state is saved in every checkpoint (``state_dict``/``load_state_dict``), so a resumed run
    still reports the best epoch of the run it continues. ``state_key`` includes the monitored
    metric, so several trackers can coexist in one Trainer without overwriting each other's state.
    """

    def __init__(self, monitor: str = "val_ppl", mode: Literal["min", "max"] = "min") -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.monitor = monitor
        self.mode = mode
        self.best_score: float | None = None
        self.best_epoch: int | None = None

    @property
    def state_key(self) -> str:
        return self._generate_state_key(monitor=self.monitor, mode=self.mode)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # Sanity checks and stand-alone `validate` runs are not epochs of the fit being tracked.
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        metric = trainer.callback_metrics.get(self.monitor)
        if metric is not None and self._is_better(float(metric)):
            self.best_score, self.best_epoch = float(metric), trainer.current_epoch

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero and self.best_score is not None:
            print(f"best {self.monitor}={self.best_score:.4f} at epoch {self.best_epoch}")

    def _is_better(self, score: float) -> bool:
        if self.best_score is None:
            return True
        return score > self.best_score if self.mode == "max" else score < self.best_score

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = state_dict["best_score"]
        self.best_epoch = state_dict["best_epoch"]


class JsonLinesPredictionWriter(BasePredictionWriter):
    """Writes ``predict`` results, one JSON object per line, to ``<output_dir>/samples-rank<N>.jsonl``.

    Each object is ``{"index": ..., "prompt": ..., "text": ...}`` where ``text`` starts with the prompt.
    One file per process: under DDP each rank continues its own share of the prompts, and ``index``
    (the prompt's position in the predict dataset) lets the shards be merged.
    """

    def __init__(self, output_dir: str = "predictions") -> None:
        super().__init__(write_interval="batch")
        self.output_dir = Path(output_dir)

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._path(trainer).write_text("")

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        prediction: list[dict[str, Any]],
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        with self._path(trainer).open("a") as file:
            file.writelines(json.dumps(sample) + "\n" for sample in prediction)

    def _path(self, trainer: Trainer) -> Path:
        return self.output_dir / f"samples-rank{trainer.global_rank}.jsonl"
