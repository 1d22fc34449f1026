"""Probe plugin for `litgen verify`: seed, patch torch to feed the recorder, and write the record at the end."""

# Runs inside a probe child (litgen/_probe.py) before the program starts: install(options) before,
# finish(exit_code) after. torch is imported inside install() only, so this module stays
# importable (and its pure helpers testable) without torch.

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from typing import Any, TextIO

from litgen._verify_record import Recorder

RECORDER: Recorder | None = None  # this child's recorder, once install() ran


class LineTee:
    """sys.stdout stand-in that passes text through and records each complete line."""

    def __init__(self, stream: TextIO, on_line: Callable[[str], None]) -> None:
        self._stream = stream
        self._on_line = on_line
        self._partial = ""

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        self._partial += text
        if "\n" in self._partial:
            *complete, self._partial = self._partial.split("\n")
            for line in complete:
                # a \r-redrawn line keeps its last state
                self._on_line(line.rsplit("\r", 1)[-1].rstrip())
        return written

    def flush_partial(self) -> None:
        if self._partial.strip():
            self._on_line(self._partial.rsplit("\r", 1)[-1].rstrip())
        self._partial = ""

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty, flush, buffer, ...
        return getattr(self._stream, name)


def install(options: dict[str, Any]) -> None:
    """Seed every generator, then patch torch so each step, batch, seed and printed line is recorded."""
    global RECORDER
    import torch

    from litgen import _probe_trainer, _verify_lightning

    recorder = RECORDER = Recorder(options)
    seed = int(options.get("seed", 0))
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy

        numpy.random.seed(seed)
    except ImportError:
        pass
    plan, seed_workers = _seed_plan(options.get("seed_plan_from"))
    _patch_seeding(recorder, plan)
    if seed_workers:
        _seed_workers_like_lightning(recorder)
    _patch_torch(recorder)
    sys.stdout = LineTee(sys.stdout, recorder.on_line)
    _probe_trainer.STATE.trainer_policy = _verify_lightning.make_trainer_policy(recorder)


def finish(exit_code: int) -> None:
    """After the program: the parameters after its last step, and the record."""
    recorder = RECORDER
    if recorder is None:
        return
    if isinstance(sys.stdout, LineTee):
        sys.stdout.flush_partial()
    if not recorder.stopped:
        if not recorder.optimizer_created and recorder.pending_losses:
            recorder.close_step(None)  # the last hand-written update
        recorder.compute_params()
    recorder.write()


def _patch_torch(recorder: Recorder) -> None:
    import torch
    from torch.optim.optimizer import Optimizer, register_optimizer_step_post_hook
    from torch.utils.data.dataloader import _BaseDataLoaderIter

    original_backward = torch.autograd.backward

    def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
        first = tensors[0] if isinstance(tensors, (list, tuple)) and tensors else tensors
        if isinstance(first, torch.Tensor):
            recorder.on_backward(first)
        return original_backward(tensors, *args, **kwargs)

    torch.autograd.backward = backward  # Tensor.backward looks it up here at each call

    original_init = Optimizer.__init__

    def optimizer_init(self: Any, *args: Any, **kwargs: Any) -> None:
        if recorder.backward_count == 0:
            recorder.optimizer_created = True
        original_init(self, *args, **kwargs)

    Optimizer.__init__ = optimizer_init
    register_optimizer_step_post_hook(
        lambda optimizer, args, kwargs: recorder.on_optimizer_step(optimizer)
    )

    original_next = _BaseDataLoaderIter.__next__

    def next_batch(self: Any) -> Any:
        batch = original_next(self)
        recorder.set_batch(batch)
        return batch

    _BaseDataLoaderIter.__next__ = next_batch

    def remember_module(
        module: Any, args: Any
    ) -> None:  # returns None: the call's inputs stay as they are
        recorder.modules.setdefault(id(module), module)

    torch.nn.modules.module.register_module_forward_pre_hook(remember_module)


def _seed_plan(path: str | None) -> tuple[list[list[str]], bool]:
    """For the original: which other generators the conversion seeded along with its k-th torch seed,
    and whether it seeded DataLoader workers (seed_everything(..., workers=True))."""
    if not path:
        return [], False
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return [], False
    seeds = record.get("seeds", [])
    plan: list[list[str]] = []
    companions: dict[str, Any] = {}
    for event in seeds:
        if event.get("generator") == "torch":
            plan.append(
                sorted(name for name, value in companions.items() if value == event.get("seed"))
            )
            companions = {}
        else:
            companions[str(event.get("generator"))] = event.get("seed")
    return plan, bool(record.get("seed_workers"))


def _seed_workers_like_lightning(recorder: Recorder) -> None:
    """Give the original's multi-process DataLoaders the worker init function Lightning gives the conversion's."""
    from functools import partial

    from lightning.fabric.utilities.seed import pl_worker_init_function
    from torch.utils.data import DataLoader

    original_iter = DataLoader.__iter__

    def iterate(self: Any) -> Any:
        if self.num_workers > 0 and self.worker_init_fn is None:
            self.worker_init_fn = partial(pl_worker_init_function, rank=0)
            note = (
                "gave the original's DataLoader workers Lightning's worker seeding, as "
                "seed_everything(workers=True) does"
            )
            if note not in recorder.notes:
                recorder.notes.append(note)
        return original_iter(self)

    DataLoader.__iter__ = iterate


def _patch_seeding(recorder: Recorder, plan: list[list[str]]) -> None:
    import torch

    try:
        import numpy
    except ImportError:
        numpy = None  # type: ignore[assignment]
    seeders: dict[str, Callable[[Any], Any]] = {"random": random.seed, "torch": torch.manual_seed}
    if numpy is not None:
        seeders["numpy"] = numpy.random.seed

    def recording(name: str) -> Callable[..., Any]:
        original = seeders[name]

        def seed(value: Any = None, *args: Any, **kwargs: Any) -> Any:
            recorder.on_seed(name, value)
            result = original(value, *args, **kwargs)
            if name == "torch":
                _seed_companions(recorder, plan, value, seeders)
            return result

        return seed

    random.seed = recording("random")
    torch.manual_seed = recording("torch")
    if numpy is not None:
        numpy.random.seed = recording("numpy")


def _seed_companions(
    recorder: Recorder, plan: list[list[str]], value: Any, seeders: dict[str, Callable[[Any], Any]]
) -> None:
    index = sum(1 for event in recorder.seeds if event["generator"] == "torch") - 1
    if index >= len(plan):
        return
    for name in plan[index]:
        if name in seeders:
            seeders[name](value)
    if plan[index]:
        recorder.notes.append(
            f"seeded {' and '.join(plan[index])} with {value} at the original's torch.manual_seed({value}), "
            "as the conversion's seed_everything does"
        )
