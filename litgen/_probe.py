"""The `litgen check` subprocess: import Lightning once, then run each program in a fork with fast_dev_run forced."""

# Protocol with litgen/check.py (the parent):
#   python -c BOOTSTRAP SPEC_JSON    SPEC = {"timeout": s, "targets": [...]}
#   Each target: index, kind ("script" | "module"), path, module, argv, sys_path, cwd, report, output.
#   On stdout, one JSON event per line: {"event": "ready"}, {"event": "import-failed", "error"},
#   {"event": "start", "index", "pgid"}, {"event": "end", "index", "exit_code", "signal",
#   "timed_out", "elapsed_s"}. Each child writes its own report file (see ProbeState.as_json).
#   A target may name a "plugin" module (with "plugin_options"): the child calls its install(options)
#   before the program runs and finish(exit_code) after; `litgen verify` records steps this way.
# This module must stay importable without torch: Lightning is imported inside main() only, so the
# pure helpers below (force_cpu_fast_dev_run, exception_line) are unit-testable cheaply.

from __future__ import annotations

import atexit
import faulthandler
import functools
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import runpy
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from types import ModuleType, TracebackType
from typing import Any, NoReturn

REPORT_VERSION = 1
_REPORT_INTERVAL_S = 0.5  # rewrite the report at most this often while batches run
_HALF_PRECISION = {"16-mixed": "bf16-mixed", "16": "bf16-mixed", "16-true": "bf16-true"}


def force_cpu_fast_dev_run(kwargs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return Trainer kwargs with fast_dev_run on one CPU device forced, plus notes on GPU-only settings we mapped.

    `logger` and `enable_checkpointing` are left as the program set them: fast_dev_run already
    turns loggers into a no-op DummyLogger and stops ModelCheckpoint from saving, while forcing
    them off breaks programs that train fine (LearningRateMonitor raises without a logger,
    `trainer.checkpoint_callback.best_model_path` fails without checkpointing).
    """
    forced = dict(kwargs)
    notes: list[str] = []
    accelerator = kwargs.get("accelerator", "auto")
    if not (isinstance(accelerator, str) and accelerator.lower() in ("auto", "cpu")):
        notes.append(f"accelerator {_describe(accelerator)} was checked as 'cpu'")
    devices = kwargs.get("devices", "auto")
    if devices not in ("auto", 1, "1", -1, "-1"):
        notes.append(f"devices={devices!r} was checked as devices=1")
    if kwargs.get("num_nodes", 1) != 1:
        notes.append(f"num_nodes={kwargs['num_nodes']!r} was checked as num_nodes=1")
    strategy = kwargs.get("strategy", "auto")
    if not (isinstance(strategy, str) and strategy == "auto"):
        # ddp*/fsdp*/deepspeed*/xla and strategy objects all assume several or special devices;
        # on the single CPU device we run on, Lightning's own choice is the faithful equivalent.
        forced["strategy"] = "auto"
        notes.append(f"strategy {_describe(strategy)} was checked as 'auto' (one CPU device)")
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
        notes.append("barebones=True was checked as barebones=False (it cannot be combined with fast_dev_run)")
    forced.update(fast_dev_run=True, accelerator="cpu", devices=1, num_nodes=1)
    forced["callbacks"] = _as_list(kwargs.get("callbacks"))  # a fresh list the probe can append to
    return forced, notes


def _describe(value: Any) -> str:
    return repr(value) if isinstance(value, (str, int, float, type(None))) else type(value).__name__


def _as_list(value: Any) -> list[Any]:
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

    def reset(self, report_path: str | None = None, target: str = "", scratch_dir: str | None = None) -> None:
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
        # (Trainer kwargs, package name) -> (forced kwargs, notes); a plugin may replace it for its run
        self.trainer_policy: Callable[[dict[str, Any], str], tuple[dict[str, Any], list[str]]] = (
            lambda kwargs, package: force_cpu_fast_dev_run(kwargs)
        )
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


def _make_counter_callback(callback_base: type) -> type:
    """A Callback subclass (of the right package) that counts the batches a Trainer really runs."""

    class LitgenProbeCallback(callback_base):  # type: ignore[misc, valid-type]
        def setup(self, trainer: Any, *args: Any, **kwargs: Any) -> None:
            # Lightning 2.6's ModelCheckpoint(save_last=True) writes last.ckpt in on_train_end even
            # under fast_dev_run; a check must not write checkpoints (possibly into the user's folders).
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

    class ScratchDummyLogger(dummy_base):  # type: ignore[misc, valid-type]
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
    counter_class = _make_counter_callback(importlib.import_module(f"{package.__name__}.callbacks").Callback)
    dummy_logger_class = importlib.import_module(f"{package.__name__}.loggers.logger").DummyLogger
    scratch_logger_class = _make_scratch_logger(dummy_logger_class)
    original_init = trainer_class.__init__

    @functools.wraps(original_init)
    def forced_init(self: Any, *args: Any, **kwargs: Any) -> None:
        forced, notes = STATE.trainer_policy(kwargs, package.__name__)
        forced["callbacks"] = [*_as_list(forced.get("callbacks")), counter_class()]
        STATE.trainers += 1
        STATE.add_notes(notes)
        STATE.write()
        original_init(self, *args, **forced)
        if self.loggers and all(isinstance(logger, dummy_logger_class) for logger in self.loggers):
            self.loggers = [scratch_logger_class(STATE.scratch_dir or os.getcwd())]

    forced_init._litgen_probe = True  # type: ignore[attr-defined]
    trainer_class.__init__ = forced_init


class _PatchPytorchLightningOnImport(importlib.abc.MetaPathFinder):
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
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        patch_trainer(module)


def _is_probe_frame(filename: str) -> bool:
    return filename in (__file__, "<frozen runpy>") or os.path.basename(filename) == "runpy.py"


def print_user_traceback(error: BaseException) -> None:
    """Print the traceback without the probe's and runpy's own frames, like `python script.py` would."""
    frames: TracebackType | None = error.__traceback__
    start, seen_runner = error.__traceback__, False
    while frames is not None:  # the program's frames begin right after the runner's (probe, runpy)
        if _is_probe_frame(frames.tb_frame.f_code.co_filename):
            seen_runner = True
        elif seen_runner:
            start = frames
            break
        frames = frames.tb_next
    traceback.print_exception(type(error), error, start)


def _exit_code_of(stop: SystemExit) -> int:
    if stop.code is None:
        return 0
    if isinstance(stop.code, int):
        return stop.code
    print(stop.code, file=sys.stderr)  # what the interpreter does with sys.exit("message")
    return 1


def _run_program(target: dict[str, Any]) -> int:
    """Run the target like `python script.py ARGS` / `python -m module ARGS` would; return its exit code."""
    os.chdir(target["cwd"])
    sys.argv = list(target["argv"])
    sys.path[:0] = target["sys_path"]
    try:
        if target["kind"] == "script":
            runpy.run_path(target["path"], run_name="__main__")
        else:
            runpy.run_module(target["module"], run_name="__main__", alter_sys=True)
        return 0
    except SystemExit as stop:
        return _exit_code_of(stop)
    except KeyboardInterrupt as error:
        STATE.exception = exception_line(error)
        print_user_traceback(error)
        return 130
    except BaseException as error:  # the program's own crash: report it, as the interpreter would
        STATE.exception = exception_line(error)
        print_user_traceback(error)
        return 1


def _finish_like_the_interpreter() -> None:
    # A normal exit waits for non-daemon threads and runs atexit handlers; we then leave with
    # os._exit, because tearing down an interpreter holding torch costs ~1 s per forked child.
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_functions is not None:
        run_exit_functions()


def _child(target: dict[str, Any], channel_fd: int) -> NoReturn:
    """Body of a forked child: own process group, own output file, own report; never returns."""
    exit_code = 70  # EX_SOFTWARE: only left if the probe itself fails below
    try:
        os.setpgid(0, 0)
        os.close(channel_fd)  # a lingering grandchild must not keep the parent's event pipe open
        output_fd = os.open(target["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        faulthandler.enable(file=sys.stderr)  # a segfault still leaves a Python traceback in the output
        STATE.reset(target["report"], target["path"], target["cwd"])
        STATE.phase = "running"
        STATE.write()
        plugin = importlib.import_module(target["plugin"]) if target.get("plugin") else None
        if plugin is not None:
            plugin.install(target.get("plugin_options") or {})
        exit_code = _run_program(target)
        STATE.exit_code = exit_code
        if plugin is not None:
            plugin.finish(exit_code)
        _finish_like_the_interpreter()
    except BaseException as error:  # noqa: BLE001 - whatever happens, a report must be left
        STATE.exception = STATE.exception or exception_line(error)
        traceback.print_exc()
    finally:
        STATE.phase = "finished"
        STATE.exit_code = exit_code
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        try:
            STATE.write()
        finally:
            os._exit(exit_code if 0 <= exit_code <= 255 else 1)  # 256 would wrap to 0


def kill_process_group(pgid: int) -> None:
    """SIGKILL every process of the group; a group that is already gone is fine."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _run_one(target: dict[str, Any], timeout: float, channel_fd: int, emit: Callable[..., None]) -> None:
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # otherwise the child would inherit and repeat buffered text
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(target, channel_fd)
    try:
        os.setpgid(pid, pid)  # also done in the child; whichever runs first wins the race
    except OSError:
        pass
    emit("start", index=target["index"], pgid=pid)
    deadline = started + timeout
    timed_out = False
    pause = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() >= deadline:
            kill_process_group(pid)
            _, status = os.waitpid(pid, 0)
            timed_out = True
            break
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    kill_process_group(pid)  # grandchildren the program left behind (dataloader workers, servers, ...)
    code = os.waitstatus_to_exitcode(status)
    emit(
        "end",
        index=target["index"],
        exit_code=code if code >= 0 else None,
        signal=signal.Signals(-code).name if code < 0 else None,
        timed_out=timed_out,
        elapsed_s=round(time.monotonic() - started, 4),
    )


def main(argv: Sequence[str]) -> int:
    """Import Lightning once, patch its Trainer, then run every target of the spec in its own fork."""
    with open(argv[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    # Our stdout is the event channel; anything else printing to fd 1 (import warnings) goes to
    # stderr instead, so that no stray text can corrupt an event line.
    channel_fd = os.dup(1)
    os.dup2(2, 1)
    channel = os.fdopen(channel_fd, "w", buffering=1, encoding="utf-8", closefd=False)

    def emit(event: str, **fields: Any) -> None:
        channel.write(json.dumps({"event": event, **fields}) + "\n")
        channel.flush()

    started = time.monotonic()
    try:
        import lightning.pytorch as lightning_pytorch
    except BaseException as error:  # noqa: BLE001 - reported as the reason every target failed
        emit("import-failed", error=exception_line(error))
        return 1
    patch_trainer(lightning_pytorch)
    if "pytorch_lightning" in sys.modules:
        patch_trainer(sys.modules["pytorch_lightning"])
    else:
        sys.meta_path.insert(0, _PatchPytorchLightningOnImport())
    emit("ready", import_s=round(time.monotonic() - started, 3))
    for target in spec["targets"]:
        _run_one(target, float(spec["timeout"]), channel_fd, emit)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
