"""Probe plugin of `litgen check --deep`: after the program's fast_dev_run fit, run the deep sub-checks on it."""

# Runs inside a probe child (litgen/_probe.py): install(options) before the program,
# finish(exit_code) after. install() wraps Trainer.fit. The program's first fit runs as `litgen
# check` forces it (fast_dev_run); right after it returns, still inside the program (its __main__
# module, argv and cwd in place, so its classes pickle by reference, as in a real run), the
# sub-checks of litgen/_probe_deep_steps.py run on the module and data that fit got, with fresh
# Trainers built from the program's own Trainer arguments. Then the program goes on as it would,
# from the weights and RNG state it had. The results are written to a JSON file after each
# sub-check, so a child the timeout kills still says which sub-check was running. Importable without
# torch: Lightning is imported by the program, and torch inside the sub-checks.

from __future__ import annotations

import functools
import inspect
import json
import os
import random
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import ModuleType
from typing import Any

from litgen import _probe_trainer
from litgen._probe_deep_util import DeepFailure, DeepSkip, error_line, module_attributes
from litgen._probe_trainer import STATE

SUBCHECKS = ("fast_dev_run", "fit", "load", "resume", "determinism", "ddp")
_DEADLINE_MARGIN_S = (
    3.0  # leave the probe time to record a DDP timeout before it kills the whole child
)


class DeepReport:
    """The sub-check results of one program, rewritten atomically after each change."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.subchecks: list[dict[str, Any]] = []
        self.running: str | None = None
        self.notes: list[str] = []

    def start(self, name: str) -> None:
        self.running = name
        self.write()

    def record(self, name: str, status: str, reason: str, elapsed_s: float) -> None:
        self.subchecks.append(
            {"name": name, "status": status, "reason": reason, "elapsed_s": round(elapsed_s, 3)}
        )
        self.running = None
        self.write()

    def failed(self) -> bool:
        return any(entry["status"] == "fail" for entry in self.subchecks)

    def write(self) -> None:
        data = {
            "version": 1,
            "subchecks": self.subchecks,
            "running": self.running,
            "notes": self.notes,
        }
        temporary = f"{self.path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(temporary, self.path)


class _Run:
    """This child's deep run: its options, and whether the first fit was seen."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.report = DeepReport(options["report"])
        self.pid = os.getpid()
        self.seen_fit = False
        self.unseeded: list[
            str
        ] = []  # `file:line (what)` of random generators the program made unseeded


RUN: _Run | None = None


def install(options: dict[str, Any]) -> None:
    """Wrap Trainer.fit (now for lightning.pytorch, on import for pytorch_lightning) and watch for
    unseeded generators.
    """
    global RUN
    RUN = _Run(
        {**options, "deadline": STATE.started + float(options["timeout"]) - _DEADLINE_MARGIN_S}
    )
    RUN.report.write()
    for name in ("lightning.pytorch", "pytorch_lightning"):
        if name in sys.modules:
            _wrap_fit(sys.modules[name])
    _probe_trainer.PATCH_HOOKS.append(_wrap_fit)
    _watch_unseeded_generators(RUN.unseeded)


def finish(exit_code: int) -> None:
    """After the program: say so if it never called fit (nothing was deep-checked)."""
    if RUN is not None and not RUN.seen_fit and exit_code == 0:
        RUN.report.notes.append(
            "the program never called Trainer.fit, so there was nothing to check deeply"
        )
        RUN.report.write()


def _wrap_fit(package: ModuleType) -> None:
    trainer_class = package.Trainer
    original_fit = trainer_class.fit
    if getattr(original_fit, "_litgen_deep", False):
        return

    @functools.wraps(original_fit)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        run = RUN
        # only the program's first fit, in the program's own process (not in a DDP rank or a deep
        # fit)
        if run is None or run.seen_fit or STATE.passthrough or os.getpid() != run.pid:
            return original_fit(self, *args, **kwargs)
        run.seen_fit = True
        arguments = inspect.signature(original_fit).bind(self, *args, **kwargs).arguments
        program_kwargs = dict(getattr(self, "_litgen_program_kwargs", {}))
        from litgen._probe_deep_steps import program_callbacks

        callbacks = program_callbacks(program_kwargs)
        started = time.monotonic()
        run.report.start("fast_dev_run")
        # an exception here fails the fast_dev_run pass itself
        result = original_fit(self, *args, **kwargs)
        batches = STATE.train_batches
        run.report.record(
            "fast_dev_run",
            "pass" if batches else "fail",
            f"{batches} training step{'s' if batches != 1 else ''}"
            if batches
            else "no training step ran",
            time.monotonic() - started,
        )
        if batches:
            try:
                _run_deep(run, package, self, program_kwargs, arguments, callbacks)
            except Exception as error:  # noqa: BLE001 - litgen's own failure must not become the program's
                name = run.report.running or "fit"
                run.report.record(
                    name, "fail", f"litgen's {name} check crashed: {error_line(error)}", 0.0
                )
        return result

    fit._litgen_deep = True  # type: ignore[attr-defined]
    trainer_class.fit = fit


def _run_deep(
    run: _Run,
    package: ModuleType,
    trainer: Any,
    program_kwargs: dict[str, Any],
    arguments: dict[str, Any],
    callbacks: list[Any],
) -> None:
    from litgen._probe_deep_steps import DeepSteps

    model = arguments["model"]
    data = {
        key: arguments.get(key) for key in ("train_dataloaders", "val_dataloaders", "datamodule")
    }
    one_shot = [key for key, value in data.items() if value is not None and _is_iterator(value)]
    report = run.report
    if one_shot:
        reason = (
            f"the program's fit got a one-shot iterator as {one_shot[0]}; a deep check fits "
            "again (pass a DataLoader)"
        )
        report.record("fit", "fail", reason, 0.0)
        for name in SUBCHECKS[2:]:
            report.record(name, "skipped", "needs the short fit, which failed", 0.0)
        return
    with _kept_program_state(model, trainer):
        steps = DeepSteps(
            package,
            program_kwargs,
            model,
            data,
            callbacks,
            {**run.options, "unseeded": run.unseeded},
        )
        sub_checks: list[tuple[str, Callable[[], tuple[str, str]]]] = [
            ("fit", steps.fit),
            ("load", steps.load),
            ("resume", steps.resume),
            ("determinism", steps.determinism),
            ("ddp", steps.ddp),
        ]
        for name, sub_check in sub_checks:
            if report.failed() and not run.options.get("keep_going"):
                report.record(
                    name,
                    "skipped",
                    "an earlier sub-check failed (--keep-going runs the rest anyway)",
                    0.0,
                )
                continue
            report.start(name)
            started = time.monotonic()
            try:
                status, reason = sub_check()
            except DeepFailure as failure:
                status, reason = "fail", str(failure)
            except DeepSkip as skip:
                status, reason = "skipped", str(skip)
            except Exception as error:  # noqa: BLE001 - a sub-check's own crash still fails only that sub-check
                status, reason = "fail", f"{name} check crashed: {error_line(error)}"
            report.record(name, status, reason, time.monotonic() - started)
            sys.stdout.flush()
        report.notes.extend(note for note in steps.notes if note not in report.notes)
        report.write()


def _is_iterator(value: Any) -> bool:
    try:
        return iter(value) is value
    except TypeError:
        return False


@contextmanager
def _kept_program_state(model: Any, trainer: Any) -> Iterator[None]:
    """Run the deep fits as given (passthrough), then give the program back its weights, RNGs, seed and Trainer."""
    import copy

    import torch

    weights = copy.deepcopy(model.state_dict())
    attributes = module_attributes(model)
    rng = (random.getstate(), torch.get_rng_state())
    numpy_state = _numpy_state()
    environment = {key: os.environ.get(key) for key in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS")}
    STATE.passthrough = True
    try:
        yield
    finally:
        STATE.passthrough = False
        model.load_state_dict(weights)
        model.__dict__.update(attributes)
        random.setstate(rng[0])
        torch.set_rng_state(rng[1])
        if numpy_state is not None:
            numpy_state[0].random.set_state(numpy_state[1])
        for key, value in environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        with suppress(Exception):  # a module that refuses it keeps the last deep Trainer
            model.trainer = trainer  # the program's code after fit reads self.trainer


def _numpy_state() -> tuple[ModuleType, Any] | None:
    numpy = sys.modules.get("numpy")
    return (numpy, numpy.random.get_state()) if numpy is not None else None


def _program_frame(depth: int = 2) -> str | None:
    """`file:line` of the caller DEPTH frames up, if it is the program's own code (not a library's)."""
    frame = sys._getframe(depth)
    filename = frame.f_code.co_filename
    libraries = tuple(sysconfig.get_paths()[key] for key in ("stdlib", "purelib", "platlib"))
    if filename.startswith(("<", os.path.dirname(os.path.abspath(__file__)), *libraries)):
        return None
    return f"{os.path.basename(filename)}:{frame.f_lineno}"


def _watch_unseeded_generators(found: list[str]) -> None:
    """Remember where the program makes random generators seed_everything cannot reach (named when
    determinism fails).
    """
    original_random_init = random.Random.__init__

    def random_init(self: random.Random, x: Any = None) -> None:
        where = _program_frame() if x is None else None
        if where is not None and type(self) is random.Random:
            found.append(f"random.Random() at {where}")
        original_random_init(self, x)

    random.Random.__init__ = random_init  # type: ignore[method-assign]
    try:
        import numpy
    except ImportError:
        return
    original_default_rng = numpy.random.default_rng

    def default_rng(seed: Any = None) -> Any:
        where = _program_frame() if seed is None else None
        if where is not None:
            found.append(f"numpy.random.default_rng() at {where}")
        return original_default_rng(seed)

    numpy.random.default_rng = default_rng
