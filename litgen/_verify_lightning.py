"""Probe plugin, Lightning side of `litgen verify`: the Trainer settings a verify run forces, and its callback."""

# Imported by litgen/_verify_probe.py inside a probe child, after Lightning is imported. The
# callback tells the recorder which batch a step trained on (Lightning fetches one batch ahead),
# and, for the --devices check, saves or loads the weights each evaluation starts from and writes
# one JSON line per evaluation and process (metrics it logged, lines it printed).

from __future__ import annotations

import functools
import importlib
import io
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from litgen._probe_trainer import as_list, describe

if TYPE_CHECKING:
    from litgen._verify_record import Recorder

# CUDA mixed precision is inactive on a CPU-only machine: the original's autocast("cuda") and
# GradScaler("cuda") do nothing there, so full precision is what it computed.
_CPU_PRECISION = {"16-mixed": "32-true", "16": "32-true", "16-true": "32-true"}
_EVAL_STAGES = {"validating": "validate", "testing": "test"}


def verify_trainer_kwargs(
    kwargs: dict[str, Any], devices: int, limit_train_batches: int | None
) -> tuple[dict[str, Any], list[str]]:
    """Trainer kwargs for a verify run: the program's own settings on DEVICES CPU processes, quietly."""
    forced = dict(kwargs)
    notes: list[str] = []
    accelerator = kwargs.get("accelerator", "auto")
    if not (isinstance(accelerator, str) and accelerator.lower() in ("auto", "cpu")):
        notes.append(f"accelerator {describe(accelerator)} was verified as 'cpu'")
    if kwargs.get("devices", "auto") not in ("auto", 1, "1", -1, "-1", devices, str(devices)):
        notes.append(f"devices={kwargs['devices']!r} was verified as devices={devices}")
    strategy = kwargs.get("strategy", "auto")
    # ddp_fork: the processes inherit the recording probe (a `ddp` launch would start bare
    # interpreters)
    wanted = "ddp_fork" if devices > 1 else "auto"
    same_kind = isinstance(strategy, str) and (
        strategy == "auto" or (devices > 1 and strategy.startswith("ddp"))
    )
    if not same_kind:
        notes.append(f"strategy {describe(strategy)} was verified as {wanted!r}")
    precision = kwargs.get("precision")
    if precision is not None and str(precision) in _CPU_PRECISION:
        forced["precision"] = _CPU_PRECISION[str(precision)]
        notes.append(
            f"precision {precision!r} was verified as '32-true' (CUDA mixed precision is inactive on CPU)"
        )
    callbacks = as_list(kwargs.get("callbacks"))
    if not any("ProgressBar" in type(callback).__name__ for callback in callbacks):
        forced["enable_progress_bar"] = (
            False  # its redrawn lines would be recorded as printed output
        )
    if limit_train_batches is not None:
        forced["limit_train_batches"] = limit_train_batches
    forced.update(
        accelerator="cpu", devices=devices, num_nodes=1, strategy=wanted, callbacks=callbacks
    )
    return forced, notes


def make_trainer_policy(
    recorder: Recorder,
) -> Callable[[dict[str, Any], str], tuple[dict[str, Any], list[str]]]:
    """The probe's Trainer policy for this run: verify settings plus the recording callback."""
    devices = int(recorder.options.get("devices", 1))
    limit = recorder.options.get("limit_train_batches")

    def policy(kwargs: dict[str, Any], package: str) -> tuple[dict[str, Any], list[str]]:
        _count_entries(sys.modules[package].Trainer, recorder)
        if devices > 1:
            _carry_rank_zero_state(package)
        forced, notes = verify_trainer_kwargs(kwargs, devices, limit)
        forced["callbacks"].append(_callback_class(package)(recorder))
        recorder.notes.extend(note for note in notes if note not in recorder.notes)
        return forced, notes

    return policy


def _count_entries(trainer_class: type, recorder: Recorder) -> None:
    """Count fit/validate/test calls in the main process, so evaluations get the same keys in every run."""
    for name in ("fit", "validate", "test"):
        method = getattr(trainer_class, name)
        if getattr(method, "_litgen_verify", False):
            continue

        def counted(self: Any, *args: Any, _method: Any = method, **kwargs: Any) -> Any:
            recorder.entry += 1
            return _method(self, *args, **kwargs)

        counted = functools.wraps(method)(counted)
        counted._litgen_verify = True  # type: ignore[attr-defined]
        setattr(trainer_class, name, counted)


_PLAIN = (int, float, str, bool, type(None))


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    return isinstance(value, _PLAIN)


def _carry_rank_zero_state(package: str) -> None:
    """Make `ddp_fork` leave the main process's module as `ddp` leaves it: holding rank zero's attributes.

    Under `strategy="ddp"` (what a user runs) the main process is rank zero, so code after `fit`/`test`
    reads the attributes rank zero's hooks set. `ddp_fork` sends back only weights and metrics; this
    sends the module's plain attributes (numbers, strings, tensors) as well.
    """
    launchers = importlib.import_module(f"{package}.strategies.launchers.multiprocessing")
    launcher = launchers._MultiProcessingLauncher
    if getattr(launcher.get_extra_results, "_litgen_verify", False):
        return
    import torch

    get_extra, update_main = launcher.get_extra_results, launcher.update_main_process_results

    def get_extra_results(self: Any, trainer: Any) -> dict[str, Any]:
        extra: dict[str, Any] = get_extra(self, trainer)
        module = trainer.lightning_module
        skipped = {*module._parameters, *module._buffers, *module._modules}
        state = {
            name: value.detach().cpu() if isinstance(value, torch.Tensor) else value
            for name, value in vars(module).items()
            if not name.startswith("_")
            and name not in skipped
            and (isinstance(value, torch.Tensor) or _plain(value))
        }
        buffer = io.BytesIO()
        # as bytes, as Lightning sends its metrics: shared tensor memory dies with the child
        torch.save(state, buffer)
        extra["litgen_module_state"] = buffer.getvalue()
        return extra

    def update_main_process_results(self: Any, trainer: Any, extra: dict[str, Any]) -> None:
        update_main(self, trainer, extra)
        module = trainer.lightning_module
        state = (
            torch.load(io.BytesIO(extra.get("litgen_module_state", b"")), weights_only=True)
            if extra.get("litgen_module_state")
            else {}
        )
        for name, value in state.items():
            module.__dict__[name] = value

    get_extra_results._litgen_verify = True  # type: ignore[attr-defined]
    launcher.get_extra_results, launcher.update_main_process_results = (
        get_extra_results,
        update_main_process_results,
    )


@functools.cache
def _callback_class(package: str) -> type:
    base = importlib.import_module(f"{package}.callbacks").Callback

    class LitgenVerifyCallback(base):  # type: ignore[misc, valid-type]
        def __init__(self, recorder: Recorder) -> None:
            self.recorder = recorder
            self.evaluations = 0
            self.eval_key: str | None = None
            self.eval_first_line = 0

        def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
            self.evaluations = 0
            # a DDP process forked for this run: report its own lines
            if os.getpid() != self.recorder.pid:
                self.recorder.lines.clear()

        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            self.recorder.phase = "train"

        def on_train_batch_start(
            self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
        ) -> None:
            self.recorder.set_batch(batch)

        def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
            self._start_evaluation(trainer, pl_module)

        def on_test_start(self, trainer: Any, pl_module: Any) -> None:
            self._start_evaluation(trainer, pl_module)

        def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
            self._end_evaluation(trainer)

        def on_test_end(self, trainer: Any, pl_module: Any) -> None:
            self._end_evaluation(trainer)

        def _start_evaluation(self, trainer: Any, pl_module: Any) -> None:
            if trainer.sanity_checking:
                self.recorder.phase = "sanity"
                self.eval_key = None
                return
            stage = next(
                (label for flag, label in _EVAL_STAGES.items() if getattr(trainer, flag, False)),
                "eval",
            )
            self.eval_key = f"{self.recorder.entry}.{stage}.{self.evaluations}"
            self.evaluations += 1
            self.recorder.phase = stage
            self.eval_first_line = len(self.recorder.lines)
            _exchange_weights(self.recorder, self.eval_key, trainer, pl_module)

        def _end_evaluation(self, trainer: Any) -> None:
            if self.eval_key is None:
                self.recorder.phase = "train" if trainer.state.fn == "fit" else "main"
                return
            event = {
                "key": self.eval_key,
                "rank": int(trainer.global_rank),
                "world_size": int(trainer.world_size),
                "metrics": _evaluation_metrics(trainer),
                "lines": [line["text"] for line in self.recorder.lines[self.eval_first_line :]],
                "dataset_sizes": _dataset_sizes(trainer),
            }
            _append_event(self.recorder, event)
            self.recorder.phase = "train" if trainer.state.fn == "fit" else "main"
            self.eval_key = None

    return LitgenVerifyCallback


def _exchange_weights(recorder: Recorder, key: str, trainer: Any, pl_module: Any) -> None:
    """DDP run: rank 0 saves the weights this evaluation starts from; reference run: load them."""
    import torch

    folder = recorder.options.get("weights_dir")
    if not folder:
        return
    path = os.path.join(folder, f"{key}.pt")
    if recorder.role == "ddp" and trainer.global_rank == 0:
        state = {
            name: value.detach().cpu().clone() for name, value in pl_module.state_dict().items()
        }
        torch.save(state, f"{path}.tmp")
        os.replace(f"{path}.tmp", path)
    elif recorder.role == "reference" and os.path.exists(path):
        pl_module.load_state_dict(torch.load(path, weights_only=True))


def _evaluation_metrics(trainer: Any) -> dict[str, float]:
    """The metrics this evaluation logged, as Lightning reduced them (across processes if asked to)."""
    results = getattr(trainer, "_results", None)
    names = {metric.meta.name for metric in results.values()} if results is not None else None
    metrics: dict[str, float] = {}
    for key, value in trainer.callback_metrics.items():
        base = key.split("/dataloader_idx_")[0].removesuffix("_epoch").removesuffix("_step")
        if names is not None and base not in names and key not in names:
            continue
        try:
            metrics[key] = float(value)
        except (TypeError, ValueError):
            continue
    return metrics


def _dataset_sizes(trainer: Any) -> list[int | None]:
    loaders = (
        trainer.val_dataloaders
        if trainer.validating or trainer.sanity_checking
        else trainer.test_dataloaders
    )
    sizes: list[int | None] = []
    for loader in as_list(loaders):
        try:
            sizes.append(len(loader.dataset))
        except (TypeError, AttributeError):
            sizes.append(None)
    return sizes


def _append_event(recorder: Recorder, event: dict[str, Any]) -> None:
    folder = recorder.options.get("events_dir")
    if not folder:
        return
    with open(os.path.join(folder, f"evals-{os.getpid()}.jsonl"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps(event) + "\n")
