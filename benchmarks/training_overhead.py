"""Training-step cost of a generated project vs a hand-written LightningModule, a raw loop and barebones."""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import statistics
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timing import Figure, now

GOAL_ANCHOR = 1.10  # generated ms/step over the hand-written LightningModule's
GOAL_HEAVY = 1.05  # generated ms/step over the raw loop's, where a raw step costs >= 20 ms
HEAVY_STEP_MS = 20.0


@dataclass(frozen=True)
class Workload:
    """The generated default project, trained for EPOCHS with OVERRIDES on its command line."""

    name: str
    epochs: int
    overrides: tuple[str, ...] = ()


DEFAULT = Workload("default", epochs=10)
# The same project with wider hidden layers: a step costs tens of milliseconds on CPU.
HEAVY = Workload("heavy", epochs=3, overrides=("--model.hidden_dim=2048",))

Timer = Callable[[Any, Path, Workload], list[float]]  # seconds per step, one value per epoch


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence Lightning's banners, warnings and progress bars; the timings are the output."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            with contextlib.redirect_stderr(io.StringIO()):
                yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _load_cli(project: Path, work: Path) -> Any:
    """Import the project's package and return its CLI entry; runs from WORK so logs land there."""
    import tomllib

    module = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["litgen"]["module"]
    sys.path.insert(0, str(project / "src"))
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)
    return importlib.import_module(f"{module}.__main__")


def _build(entry: Any, project: Path, workload: Workload, *extra: str) -> Any:
    """Model, data and trainer as `python -m PKG fit --config configs/default.yaml` builds them."""
    config = project / "configs" / "default.yaml"
    args = ["--config", str(config), f"--trainer.max_epochs={workload.epochs}"]
    argv, sys.argv = sys.argv, sys.argv[:1]  # LightningCLI warns when both args and argv are given
    try:
        return entry.main([*args, *workload.overrides, *extra], run=False)
    finally:
        sys.argv = argv


def _step_timer() -> Any:
    """A callback timing each epoch from its start to the end of its last training batch, per step."""
    from lightning.pytorch import Callback

    class TrainingSpanTimer(Callback):
        def __init__(self) -> None:
            self.per_step: list[float] = []  # one sample per epoch
            self._epoch_start = 0.0

        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            self._epoch_start = now()

        def on_train_batch_end(
            self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            if batch_idx == trainer.num_training_batches - 1:
                self.per_step.append((now() - self._epoch_start) / trainer.num_training_batches)

    return TrainingSpanTimer()


def _time_generated(entry: Any, project: Path, workload: Workload) -> list[float]:
    cli = _build(entry, project, workload)
    timer = _step_timer()
    # First, as in the anchor's Trainer(callbacks=[timer]): every variant's span covers the same hooks.
    cli.trainer.callbacks.insert(0, timer)
    cli.trainer.fit(cli.model, cli.datamodule)
    return list(timer.per_step)


def _time_anchor(entry: Any, project: Path, workload: Workload) -> list[float]:
    """The hand-written LightningModule (benchmarks/anchor.py) on the default Trainer, same net and data."""
    from anchor import HandWrittenClassifier, default_trainer

    cli = _build(entry, project, workload, "--trainer.logger=false", "--trainer.callbacks=[]")
    hparams = cli.model.hparams
    model = HandWrittenClassifier(cli.model.net, hparams.lr, hparams.weight_decay)
    timer = _step_timer()
    trainer = default_trainer(workload.epochs, Path.cwd() / "anchor", timer)
    trainer.fit(model, cli.datamodule)
    return list(timer.per_step)


def _time_barebones(entry: Any, project: Path, workload: Workload) -> list[float]:
    import lightning.pytorch as pl

    cli = _build(entry, project, workload, "--trainer.logger=false", "--trainer.callbacks=[]")
    model = cli.model
    # self.log is refused in barebones mode; the metric updates stay
    model.log = lambda *args, **kwargs: None
    timer = _step_timer()
    trainer = pl.Trainer(
        barebones=True,
        max_epochs=workload.epochs,
        accelerator="cpu",
        devices=1,
        deterministic=True,
        callbacks=[timer],
    )
    trainer.fit(model, cli.datamodule)
    return list(timer.per_step)


def _time_raw(entry: Any, project: Path, workload: Workload) -> list[float]:
    """The same network, data, optimizer and per-batch cosine schedule as a hand-written loop."""
    import torch
    from torch.nn import functional as F

    cli = _build(entry, project, workload, "--trainer.logger=false", "--trainer.callbacks=[]")
    model, data = cli.model, cli.datamodule
    data.setup("fit")
    loader = data.train_dataloader()
    hparams = model.hparams
    optimizer = torch.optim.Adam(
        model.parameters(), lr=hparams.lr, weight_decay=hparams.weight_decay
    )
    total = workload.epochs * len(loader)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    torch.use_deterministic_algorithms(True)
    per_step: list[float] = []
    for _ in range(workload.epochs):
        model.train()
        start = now()
        for features, labels in loader:
            loss = F.cross_entropy(model(features), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        per_step.append((now() - start) / len(loader))
    return per_step


@dataclass
class Timings:
    """Each variant's ms/step, one value per run (the median over that fit's epochs); runs are paired."""

    per_run: dict[str, list[float]]

    def ms(self, name: str) -> float:
        return statistics.median(self.per_run[name])

    def ratio(self, name: str, baseline: str) -> float:
        """The median of the per-run ratios: fits run side by side share the machine's load of the moment."""
        pairs = zip(self.per_run[name], self.per_run[baseline], strict=True)
        return statistics.median(value / base for value, base in pairs)


def _interleaved(
    entry: Any, project: Path, workload: Workload, timers: dict[str, Timer], runs: int, threads: int
) -> Timings:
    """One warm-up fit per variant, then RUNS rounds in which every variant fits once, in turn.

    On shared cores even CPU time swings by 10-20% from minute to minute (a busy sibling thread
    slows a core down), so ratios are taken between the fits of one round, then their median.
    """
    import torch

    per_run: dict[str, list[float]] = {name: [] for name in timers}
    default_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    with _quiet(), contextlib.ExitStack() as restore:
        restore.callback(torch.set_num_threads, default_threads)
        for timer in timers.values():  # first-touch costs: allocator, thread pools, lazy imports
            timer(entry, project, workload)
        for _ in range(runs):
            for name, timer in timers.items():
                per_run[name].append(statistics.median(timer(entry, project, workload)) * 1000)
    return Timings(per_run)


def _check_defaults(entry: Any, project: Path) -> None:
    with _quiet():
        hparams = _build(entry, project, DEFAULT).model.hparams
    if hparams.optimizer != "adam" or hparams.scheduler != "cosine":
        raise SystemExit(
            "the baselines mirror the default answers (adam + cosine); render with --defaults"
        )


def bench_training(project: Path, work: Path, runs: int, threads: int) -> list[Figure]:
    """The default project: generated vs the hand-written anchor (goal), the raw loop and barebones."""
    entry = _load_cli(project, work)
    _check_defaults(entry, project)
    timers: dict[str, Timer] = {
        "raw": _time_raw,
        "barebones": _time_barebones,
        "anchor": _time_anchor,
        "generated": _time_generated,
    }
    timings = _interleaved(entry, project, DEFAULT, timers, runs, threads)
    raw, bare, anchor, generated = (timings.ms(name) for name in timers)
    overhead = (generated - raw) / (bare - raw) if bare > raw else float("inf")
    to_anchor = timings.ratio("generated", "anchor")

    def versus_raw(name: str, label: str) -> Figure:
        return Figure(
            label, timings.ms(name), "ms/step", "raw loop", raw, timings.ratio(name, "raw")
        )

    return [
        Figure("train: raw PyTorch loop", raw, "ms/step"),
        versus_raw("barebones", "train: barebones Trainer"),
        versus_raw("anchor", "train: hand-written LightningModule"),
        versus_raw("generated", "train: generated project"),
        Figure(
            "train: generated vs hand-written",
            generated,
            "ms/step",
            "hand-written",
            anchor,
            to_anchor,
            f"ratio <= {GOAL_ANCHOR}",
            to_anchor <= GOAL_ANCHOR,
        ),
        Figure(
            "train: overhead (gen-raw)/(bare-raw)",
            overhead,
            "x",
            goal="<= 1.5",
            met=overhead <= 1.5,
        ),
    ]


def bench_training_heavy(project: Path, work: Path, runs: int, threads: int) -> list[Figure]:
    """The default project with wide layers (raw step >= 20 ms): generated within 5% of the raw loop."""
    entry = _load_cli(project, work)
    _check_defaults(entry, project)
    timers: dict[str, Timer] = {"raw": _time_raw, "generated": _time_generated}
    timings = _interleaved(entry, project, HEAVY, timers, runs, threads)
    raw, generated = timings.ms("raw"), timings.ms("generated")
    ratio = timings.ratio("generated", "raw")
    workload = " ".join(HEAVY.overrides)
    return [
        Figure(
            f"train (heavy, {workload}): raw step",
            raw,
            "ms/step",
            goal=f">= {HEAVY_STEP_MS:g} ms/step (workload check)",
            met=raw >= HEAVY_STEP_MS,
        ),
        Figure(
            "train (heavy): generated project",
            generated,
            "ms/step",
            "raw loop",
            raw,
            ratio,
            f"ratio <= {GOAL_HEAVY}",
            ratio <= GOAL_HEAVY,
        ),
    ]
