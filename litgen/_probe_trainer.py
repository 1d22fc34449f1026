"""The probe's hold on Lightning's Trainer: what each child reports, and the patch that forces its settings."""

# Used inside the `litgen check` subprocess (litgen/_probe.py). Stays importable without torch:
# Lightning's classes are looked up when a Trainer package is patched, so the pure helpers
# (force_cpu_fast_dev_run, exception_line) are unit-testable cheaply.

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

REPORT_VERSION = 1
_REPORT_INTERVAL_S = 0.5  # rewrite the report at most this often while batches run
_HALF_PRECISION = {"16-mixed": "bf16-mixed", "16": "bf16-mixed", "16-true": "bf16-true"}


_GPU_ONLY_STRATEGIES = ("fsdp", "deepspeed", "xla")


def force_cpu_fast_dev_run(
    kwargs: dict[str, Any], *, cpu_map: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Return Trainer kwargs with fast_dev_run on one CPU device forced, plus notes on GPU-only settings we mapped.

    A program that targets the CPU itself (accelerator="cpu") keeps a GPU-only strategy, so that the
    check fails as its real run would; CPU_MAP (`--cpu-map`) maps it anyway.

    `logger` and `enable_checkpointing` are left as the program set them: fast_dev_run already
    turns loggers into a no-op DummyLogger and stops ModelCheckpoint from saving, while forcing
    them off breaks programs that train fine (LearningRateMonitor raises without a logger,
    `trainer.checkpoint_callback.best_model_path` fails without checkpointing).
    """
    forced = dict(kwargs)
    notes: list[str] = []
    accelerator = kwargs.get("accelerator", "auto")
    if not (isinstance(accelerator, str) and accelerator.lower() in ("auto", "cpu")):
        notes.append(f"accelerator {describe(accelerator)} was checked as 'cpu'")
    devices = kwargs.get("devices", "auto")
    if devices not in ("auto", 1, "1", -1, "-1"):
        notes.append(f"devices={devices!r} was checked as devices=1")
    if kwargs.get("num_nodes", 1) != 1:
        notes.append(f"num_nodes={kwargs['num_nodes']!r} was checked as num_nodes=1")
    strategy = kwargs.get("strategy", "auto")
    targets_cpu = isinstance(accelerator, str) and accelerator.lower() == "cpu"
    gpu_only = isinstance(strategy, str) and strategy.lower().startswith(_GPU_ONLY_STRATEGIES)
    if targets_cpu and gpu_only and not cpu_map:
        notes.append(
            f"strategy {strategy!r} was kept: the program itself targets accelerator='cpu', where it cannot run "
            "(--cpu-map checks it as 'auto')"
        )
    elif not (isinstance(strategy, str) and strategy == "auto"):
        # ddp*/fsdp*/deepspeed*/xla and strategy objects all assume several or special devices;
        # on the single CPU device we run on, Lightning's own choice is the faithful equivalent.
        forced["strategy"] = "auto"
        notes.append(f"strategy {describe(strategy)} was checked as 'auto' (one CPU device)")
    precision = kwargs.get("precision")
    cpu_precision = _HALF_PRECISION.get(str(precision)) if precision is not None else None
    if cpu_precision is not None:
        forced["precision"] = cpu_precision
        notes.append(f"precision {precision!r} was checked as {cpu_precision!r} on CPU")
    elif isinstance(precision, str) and precision.startswith("transformer-engine"):
        forced["precision"] = "bf16-mixed"
        notes.append(f"precision {precision!r} was checked as 'bf16-mixed' on CPU")
    if kwargs.get("barebones"):
        forced["barebones"] = False
        notes.append(
            "barebones=True was checked as barebones=False (it cannot be combined with fast_dev_run)"
        )
    forced.update(fast_dev_run=True, accelerator="cpu", devices=1, num_nodes=1)
    forced["callbacks"] = as_list(kwargs.get("callbacks"))  # a fresh list the probe can append to
    return forced, notes


def describe(value: Any) -> str:
    """A setting as a note shows it: literals as repr, objects by their class name."""
    return repr(value) if isinstance(value, (str, int, float, type(None))) else type(value).__name__


def as_list(value: Any) -> list[Any]:
    """A Trainer's `callbacks` argument (None, one callback, or a sequence) as a fresh list."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def exception_line(error: BaseException) -> str:
    """One line naming an exception: `ZeroDivisionError: division by zero`."""
    message = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    name = type(error).__name__
    return f"{name}: {message}"[:300] if message else name


class ProbeState:
    """What one child has seen so far; written atomically to its report file so a crash still leaves one."""

    def __init__(self) -> None:
        self.reset()

    def reset(
        self, report_path: str | None = None, target: str = "", scratch_dir: str | None = None
    ) -> None:
        self.report_path = report_path
        self.target = target
        self.scratch_dir = scratch_dir
        self.phase = "idle"
        self.trainers = 0
        self.train_batches = 0
        self.val_batches = 0
        self.notes: list[str] = []
        self.exception: str | None = None
        self.exit_code: int | None = None
        # (Trainer kwargs, package name) -> (forced kwargs, notes); a plugin may replace it for its
        # run
        self.cpu_map = False  # `litgen check --cpu-map`
        self.trainer_policy: Callable[[dict[str, Any], str], tuple[dict[str, Any], list[str]]] = (
            lambda kwargs, package: force_cpu_fast_dev_run(kwargs, cpu_map=self.cpu_map)
        )
        # `litgen check --deep` builds its own Trainers inside the program's run; while this is set,
        # they are built as asked (no fast_dev_run, no counter callback).
        self.passthrough = False
        self.started = time.monotonic()
        self._last_write = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "target": self.target,
            "phase": self.phase,
            "trainers": self.trainers,
            "train_batches": self.train_batches,
            "val_batches": self.val_batches,
            "notes": self.notes,
            "exception": self.exception,
            "exit_code": self.exit_code,
            "elapsed_s": round(time.monotonic() - self.started, 4),
        }

    def add_notes(self, notes: Sequence[str]) -> None:
        self.notes.extend(note for note in notes if note not in self.notes)

    def write(self, *, throttle: bool = False) -> None:
        now = time.monotonic()
        if self.report_path is None or (throttle and now - self._last_write < _REPORT_INTERVAL_S):
            return
        self._last_write = now
        temporary = f"{self.report_path}.{os.getpid()}.tmp"  # processes the program forks write too
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(self.as_json(), handle)
        os.replace(temporary, self.report_path)


STATE = ProbeState()
# Called with each Trainer package patch_trainer patches later (pytorch_lightning is patched when
# the program imports it); a probe plugin that wraps more of the Trainer registers itself here.
PATCH_HOOKS: list[Callable[[ModuleType], None]] = []


def _make_counter_callback(callback_base: type) -> type:
    """A Callback subclass (of the right package) that counts the batches a Trainer really runs."""

    class LitgenProbeCallback(callback_base):  # type: ignore[misc]
        def setup(self, trainer: Any, *args: Any, **kwargs: Any) -> None:
            # Lightning 2.6's ModelCheckpoint(save_last=True) writes last.ckpt in on_train_end even
            # under fast_dev_run; a check must not write checkpoints (possibly into the user's
            # folders).
            for checkpoint in trainer.checkpoint_callbacks:
                if getattr(checkpoint, "save_last", False):
                    checkpoint.save_last = False

        def on_train_batch_end(self, trainer: Any, *args: Any, **kwargs: Any) -> None:
            STATE.train_batches += 1
            STATE.write(throttle=STATE.train_batches > 1)

        def on_validation_batch_end(self, trainer: Any, *args: Any, **kwargs: Any) -> None:
            if not trainer.sanity_checking:
                STATE.val_batches += 1
                STATE.write(throttle=True)

    return LitgenProbeCallback


def _make_scratch_logger(dummy_base: type) -> type:
    """fast_dev_run's no-op logger, but with a save_dir: `trainer.log_dir` users (LightningCLI's
    SaveConfigCallback) then write into the scratch cwd instead of failing on None."""

    class ScratchDummyLogger(dummy_base):  # type: ignore[misc]
        def __init__(self, save_dir: str) -> None:
            super().__init__()
            self._scratch_dir = save_dir

        @property
        def save_dir(self) -> str:
            return self._scratch_dir

    return ScratchDummyLogger


def patch_trainer(package: ModuleType) -> None:
    """Wrap `<package>.Trainer.__init__` so explicit arguments cannot undo fast_dev_run on one CPU device."""
    trainer_class = package.Trainer
    if getattr(trainer_class.__init__, "_litgen_probe", False):
        return
    counter_class = _make_counter_callback(
        importlib.import_module(f"{package.__name__}.callbacks").Callback
    )
    dummy_logger_class = importlib.import_module(f"{package.__name__}.loggers.logger").DummyLogger
    scratch_logger_class = _make_scratch_logger(dummy_logger_class)
    original_init = trainer_class.__init__

    @functools.wraps(original_init)
    def forced_init(self: Any, *args: Any, **kwargs: Any) -> None:
        if STATE.passthrough:
            original_init(self, *args, **kwargs)
            return
        # what the program asked for, before forcing (check --deep)
        self._litgen_program_kwargs = dict(kwargs)
        forced, notes = STATE.trainer_policy(kwargs, package.__name__)
        forced["callbacks"] = [*as_list(forced.get("callbacks")), counter_class()]
        STATE.trainers += 1
        STATE.add_notes(notes)
        STATE.write()
        original_init(self, *args, **forced)
        if self.loggers and all(isinstance(logger, dummy_logger_class) for logger in self.loggers):
            self.loggers = [scratch_logger_class(STATE.scratch_dir or os.getcwd())]

    forced_init._litgen_probe = True  # type: ignore[attr-defined]
    trainer_class.__init__ = forced_init
    for hook in PATCH_HOOKS:
        hook(package)


class PatchPytorchLightningOnImport(importlib.abc.MetaPathFinder):
    """Patch `pytorch_lightning.Trainer` right after a program imports it, without importing it eagerly."""

    def find_spec(self, fullname: str, path: Any, target: ModuleType | None = None) -> Any:
        if fullname != "pytorch_lightning":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader)
        return spec


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec: Any) -> ModuleType | None:
        module: ModuleType | None = self._inner.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        patch_trainer(module)
