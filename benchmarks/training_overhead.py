"""Training-step cost of a generated project vs a raw PyTorch loop vs Lightning's barebones floor."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from timing import Figure

EPOCHS = 10


def _load_cli(project: Path, work: Path) -> Any:
    """Import the project's package and return its CLI entry; runs from WORK so logs land there."""
    import tomllib

    module = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["litgen"]["module"]
    sys.path.insert(0, str(project / "src"))
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)
    return importlib.import_module(f"{module}.__main__")


def _build(entry: Any, project: Path, *overrides: str) -> Any:
    """The model, data module and trainer exactly as `python -m PKG fit --config configs/default.yaml` builds them."""
    config = project / "configs" / "default.yaml"
    return entry.main(
        ["--config", str(config), f"--trainer.max_epochs={EPOCHS}", *overrides], run=False
    )


def _step_timer() -> Any:
    """A callback summing, per epoch, the time from epoch start to the end of its last training batch."""
    from lightning.pytorch import Callback

    class TrainingSpanTimer(Callback):
        def __init__(self) -> None:
            self.seconds = 0.0
            self.steps = 0
            self._epoch_start = 0.0

        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            self._epoch_start = time.perf_counter()

        def on_train_batch_end(
            self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            self.steps += 1
            if batch_idx == trainer.num_training_batches - 1:
                self.seconds += time.perf_counter() - self._epoch_start

    return TrainingSpanTimer()


def _time_generated(entry: Any, project: Path) -> float:
    cli = _build(entry, project)
    timer = _step_timer()
    cli.trainer.callbacks.append(timer)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        cli.trainer.fit(cli.model, cli.datamodule)
    return timer.seconds / timer.steps


def _time_barebones(entry: Any, project: Path) -> float:
    import lightning.pytorch as pl

    cli = _build(entry, project, "--trainer.logger=false", "--trainer.callbacks=[]")
    model = cli.model
    # self.log is refused in barebones mode; the metric updates stay
    model.log = lambda *args, **kwargs: None
    timer = _step_timer()
    trainer = pl.Trainer(
        barebones=True,
        max_epochs=EPOCHS,
        accelerator="cpu",
        devices=1,
        deterministic=True,
        callbacks=[timer],
    )
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        trainer.fit(model, cli.datamodule)
    return timer.seconds / timer.steps


def _time_raw(entry: Any, project: Path) -> float:
    """The same network, data, optimizer and per-batch cosine schedule as a hand-written loop."""
    import torch
    from torch.nn import functional as F

    cli = _build(entry, project, "--trainer.logger=false", "--trainer.callbacks=[]")
    model, data = cli.model, cli.datamodule
    data.setup("fit")
    loader = data.train_dataloader()
    hparams = model.hparams
    optimizer = torch.optim.Adam(
        model.parameters(), lr=hparams.lr, weight_decay=hparams.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS * len(loader))
    torch.use_deterministic_algorithms(True)
    seconds, steps = 0.0, 0
    for _ in range(EPOCHS):
        model.train()
        start = time.perf_counter()
        for features, labels in loader:
            loss = F.cross_entropy(model(features), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            steps += 1
        seconds += time.perf_counter() - start
    return seconds / steps


def bench_training(project: Path, work: Path, runs: int) -> list[Figure]:
    entry = _load_cli(project, work)
    hparams = _build(entry, project).model.hparams
    if hparams.optimizer != "adam" or hparams.scheduler != "cosine":
        raise SystemExit(
            "the raw baseline mirrors the default answers (adam + cosine); render with --defaults"
        )
    timings: dict[str, list[float]] = {"raw": [], "barebones": [], "generated": []}
    measure = {"raw": _time_raw, "barebones": _time_barebones, "generated": _time_generated}
    for name in timings:  # warm-up: first-touch costs (allocator, thread pools, lazy imports)
        measure[name](entry, project)
    for _ in range(runs):  # interleaved, so machine noise hits the three variants alike
        for name, samples in timings.items():
            samples.append(measure[name](entry, project))
    raw, bare, generated = (
        statistics.median(timings[name]) * 1000 for name in ("raw", "barebones", "generated")
    )
    overhead = (generated - raw) / (bare - raw) if bare > raw else float("inf")
    figures = [
        Figure("train: raw PyTorch loop", raw, "ms/step"),
        Figure("train: barebones Trainer", bare, "ms/step", "raw loop", raw, bare / raw),
        Figure("train: generated project", generated, "ms/step", "raw loop", raw, generated / raw),
        Figure(
            "train: overhead (gen-raw)/(bare-raw)",
            overhead,
            "x",
            goal="<= 1.5",
            met=overhead <= 1.5,
        ),
    ]
    return figures
