"""The `litgen check` subprocess: import Lightning once, then run each program in a fork with fast_dev_run forced."""

# Protocol with litgen/check.py (the parent):
#   python -c BOOTSTRAP SPEC_JSON    SPEC = {"timeout": s, "targets": [...]}
#   Each target: index, kind ("script" | "module"), path, module, argv, sys_path, cwd, report,
#   output. On stdout, one JSON event per line: {"event": "ready"}, {"event": "import-failed",
#   "error"}, {"event": "start", "index", "pgid"}, {"event": "end", "index", "exit_code", "signal",
#   "timed_out", "elapsed_s", "survivors"}. Each child writes its own report file (see
#   ProbeState.as_json). SPEC may name a "cleanup_dir": if litgen dies (kill -9), the probe kills
#   the program and removes it. A target may name a "plugin" module (with "plugin_options"): the
#   child calls its install(options) before the program runs and finish(exit_code) after; `litgen
#   verify` records steps this way.
# This module must stay importable without torch: Lightning is imported inside main() only. How the
# Trainer is patched, and the state each child reports, live in litgen/_probe_trainer.py.

from __future__ import annotations

import atexit
import faulthandler
import importlib
import json
import os
import runpy
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, NoReturn

from litgen import _offline
from litgen._probe_trainer import (
    STATE,
    PatchPytorchLightningOnImport,
    exception_line,
    patch_trainer,
)
from litgen._proctree import become_subreaper, kill_descendants


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
        # the probe's own handler is not the program's
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.close(channel_fd)  # a lingering grandchild must not keep the parent's event pipe open
        output_fd = os.open(target["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        # a segfault still leaves a Python traceback in the output
        faulthandler.enable(file=sys.stderr)
        STATE.reset(target["report"], target["path"], target["cwd"])
        STATE.cpu_map = bool(target.get("cpu_map"))
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


def _abandoned(parent: int, cleanup_dir: str | None, pid: int | None) -> None:
    """litgen itself is gone (kill -9): take the program down, remove the scratch folder, and leave."""
    if os.getppid() == parent:
        return
    if pid is not None:
        kill_process_group(pid)
    kill_descendants(os.getpid(), reap=True)
    if cleanup_dir:
        shutil.rmtree(cleanup_dir, ignore_errors=True)
    os._exit(1)


def _run_one(
    target: dict[str, Any],
    spec: dict[str, Any],
    parent: int,
    channel_fd: int,
    emit: Callable[..., None],
) -> None:
    _abandoned(parent, spec.get("cleanup_dir"), None)
    timeout = float(spec["timeout"])
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
        _abandoned(parent, spec.get("cleanup_dir"), pid)
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    # grandchildren the program left behind (dataloader workers, servers, ...)
    kill_process_group(pid)
    # those in new sessions too: we are their subreaper
    survivors = kill_descendants(os.getpid(), reap=True)
    code = os.waitstatus_to_exitcode(status)
    emit(
        "end",
        index=target["index"],
        exit_code=code if code >= 0 else None,
        signal=signal.Signals(-code).name if code < 0 else None,
        timed_out=timed_out,
        elapsed_s=round(time.monotonic() - started, 4),
        survivors=survivors,
    )


def main(argv: Sequence[str]) -> int:
    """Import Lightning once, patch its Trainer, then run every target of the spec in its own fork."""
    with open(argv[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    parent = os.getppid()
    _offline.install()  # `litgen check` promises an offline run: no program reaches beyond this machine
    become_subreaper()  # processes the programs start in new sessions stay ours to find and kill
    signal.signal(signal.SIGTERM, _terminate)
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
        sys.meta_path.insert(0, PatchPytorchLightningOnImport())
    emit("ready", import_s=round(time.monotonic() - started, 3))
    for target in spec["targets"]:
        _run_one(target, spec, parent, channel_fd, emit)
    return 0


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM from litgen (interrupted): kill every program process, then exit."""
    kill_descendants(os.getpid(), reap=True)
    os._exit(128 + signum)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
