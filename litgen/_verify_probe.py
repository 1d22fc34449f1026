"""Probe plugin for `litgen verify`: record each optimizer step, printed line and seed; stop after N steps."""

# Runs inside a probe child (litgen/_probe.py) before the program starts. torch is imported inside
# install() only, so this module stays importable (and its pure helpers testable) without torch.
# What one optimisation step is: every backward() between two optimizer steps belongs to the step
# that follows, whether the program is a raw loop (backward, then step) or Lightning (step runs a
# closure that calls backward). A program that never creates an optimizer (hand-written updates)
# counts each backward() as a step. The record format is read by litgen/verify/records.py.

from __future__ import annotations

import json
import os
import random
import sys
from collections.abc import Callable
from typing import Any, TextIO

RECORD_VERSION = 1
MAX_LINES = 5000  # printed lines kept per program; more is noted, not stored
MAX_LINE_CHARS = 500


class VerifyStop(SystemExit):
    """Raised after the requested number of steps: the program ends as if it had called sys.exit(0)."""

    def __init__(self) -> None:
        super().__init__(0)


class Recorder:
    """What one program did, step by step; written as JSON to the options' record path."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.role: str = options.get("role", "original")
        self.max_steps: int | None = options.get("steps")
        self.pid = os.getpid()
        self.steps: list[dict[str, Any]] = []
        self.pending_losses: list[float] = []
        self.pending_batches: list[str | None] = []
        self.pending_lrs: list[float | None] | None = None
        self.optimizers: list[Any] = []
        self.optimizer_created = False
        self.backward_count = 0
        self.batch: Any = None
        self.batch_digest: str | None = None
        self.lines: list[dict[str, Any]] = []
        self.lines_dropped = 0
        self.phase = "main"
        self.seeds: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.modules: dict[int, Any] = {}
        self.graph_leaves: list[Any] = []  # what a program without an optimizer trains
        self.snapshot: list[Any] | None = None  # parameter copies after the last step (--steps all)
        self.params: list[dict[str, Any]] | None = None
        self.stopped = False
        self.entry = 0  # Trainer.fit/validate/test calls so far (a DDP fork inherits the count)

    # -- events from the patched torch functions --------------------------------------------------

    def on_backward(self, tensor: Any) -> None:
        if not self.optimizer_created:  # hand-written updates: a backward ends the previous step
            if not self.graph_leaves:
                self.graph_leaves = autograd_leaves(tensor)
            if self.pending_losses:
                self.close_step(None)
            if self.max_steps is not None and len(self.steps) >= self.max_steps:
                self.stop()
        self.backward_count += 1
        self.pending_losses.append(loss_value(tensor))
        self.pending_batches.append(self.current_batch_digest())

    def on_optimizer_step(self, optimizer: Any) -> None:
        # Read after the update: Lightning runs training_step (which may set the lr) inside step().
        self.pending_lrs = [_float_or_none(group.get("lr")) for group in optimizer.param_groups]
        if not any(optimizer is known for known in self.optimizers):
            self.optimizers.append(optimizer)
        index = next(i for i, known in enumerate(self.optimizers) if known is optimizer)
        self.close_step(index)
        if self.options.get("snapshot_every_step"):
            self.take_snapshot()
        if self.max_steps is not None and len(self.steps) >= self.max_steps:
            self.stop()

    def close_step(self, optimizer_index: int | None) -> None:
        self.steps.append(
            {
                "optimizer": optimizer_index,
                "losses": self.pending_losses,
                "lrs": self.pending_lrs or [],
                "batches": self.pending_batches,
            }
        )
        self.pending_losses, self.pending_batches, self.pending_lrs = [], [], None

    def set_batch(self, batch: Any) -> None:
        self.batch, self.batch_digest = batch, None

    def current_batch_digest(self) -> str | None:
        if self.batch is not None and self.batch_digest is None:
            self.batch_digest = batch_digest(self.batch)
        return self.batch_digest

    def on_seed(self, generator: str, seed: Any) -> None:
        self.seeds.append({"generator": generator, "seed": _jsonable_seed(seed)})

    def on_line(self, text: str) -> None:
        if len(self.lines) >= MAX_LINES:
            self.lines_dropped += 1
            return
        self.lines.append({"text": text[:MAX_LINE_CHARS], "phase": self.phase})

    # -- the end ------------------------------------------------------------------------------------

    def parameters(self) -> list[Any]:
        """The trained parameters: every optimizer's, in step order; else those of the modules called."""
        seen: dict[int, Any] = {}
        for optimizer in self.optimizers:
            for group in optimizer.param_groups:
                for param in group["params"]:
                    seen.setdefault(id(param), param)
        for leaf in self.graph_leaves if not seen else ():
            seen.setdefault(id(leaf), leaf)
        if not seen:
            for module in self._root_modules():
                for param in module.parameters():
                    if param.requires_grad:
                        seen.setdefault(id(param), param)
        return list(seen.values())

    def take_snapshot(self) -> None:
        params = self.parameters()
        if self.snapshot is None or len(self.snapshot) != len(params):
            self.snapshot = [param.detach().clone() for param in params]
        else:
            for copy, param in zip(self.snapshot, params):
                copy.copy_(param.detach())

    def compute_params(self) -> None:
        if self.params is not None:
            return
        params = self.parameters()
        values = self.snapshot if self.snapshot is not None and len(self.snapshot) == len(params) else params
        names = self._parameter_names()
        self.params = [
            {"name": names.get(id(param), f"#{index}"), **param_checksum(value)}
            for index, (param, value) in enumerate(zip(params, values))
        ]

    def _root_modules(self) -> list[Any]:
        """Modules the program called, biggest first, leaving out Lightning's wrappers around them."""
        modules = [m for m in self.modules.values() if not _is_wrapper(m)]
        return sorted(modules, key=lambda m: -sum(1 for _ in m.parameters()))

    def _parameter_names(self) -> dict[int, str]:
        names: dict[int, str] = {}
        for module in self._root_modules():
            prefix = type(module).__name__
            for name, param in module.named_parameters():
                names.setdefault(id(param), f"{prefix}.{name}")
        return names

    def stop(self) -> None:
        self.stopped = True
        self.compute_params()
        self.write()
        raise VerifyStop()

    def as_json(self) -> dict[str, Any]:
        return {
            "version": RECORD_VERSION,
            "role": self.role,
            "step_unit": "optimizer" if self.optimizer_created else "backward",
            "steps": self.steps,
            "stopped": self.stopped,
            "params": self.params or [],
            "lines": self.lines,
            "lines_dropped": self.lines_dropped,
            "seeds": self.seeds,
            # seed_everything(workers=True) makes Lightning give DataLoader workers its own init function
            "seed_workers": os.environ.get("PL_SEED_WORKERS") == "1",
            "notes": self.notes,
        }

    def write(self) -> None:
        path = self.options.get("record")
        if not path or os.getpid() != self.pid:  # a DDP fork reports through eval events only
            return
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(self.as_json(), handle)
        os.replace(temporary, path)


RECORDER: Recorder | None = None


def loss_value(tensor: Any) -> float:
    """The number a backward() started from (a non-scalar's sum)."""
    detached = tensor.detach()
    return float(detached.double().sum()) if detached.numel() != 1 else float(detached.double().reshape(()))


def autograd_leaves(tensor: Any) -> list[Any]:
    """The leaf tensors a backward() from TENSOR accumulates gradients into, in graph order."""
    leaves: dict[int, Any] = {}
    seen: set[int] = set()
    pending = [tensor.grad_fn]
    while pending:
        node = pending.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)
        if variable is not None:
            leaves.setdefault(id(variable), variable)
        pending.extend(next_node for next_node, _ in reversed(node.next_functions))
    return list(leaves.values())


def batch_digest(batch: Any) -> str:
    """A short exact fingerprint of a batch's tensors (dtype, shape and bytes), in structure order."""
    import hashlib

    digest = hashlib.sha1()
    _feed(digest, batch, depth=0)
    return digest.hexdigest()[:12]


def _feed(digest: Any, value: Any, depth: int) -> None:
    import torch

    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"T{tensor.dtype}{tuple(tensor.shape)}".encode())
        if tensor.layout == torch.strided and tensor.numel():
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif depth > 6:
        digest.update(b"...")
    elif isinstance(value, dict):
        for key in value:
            digest.update(f"K{key!r}".encode())
            _feed(digest, value[key], depth + 1)
    elif isinstance(value, (list, tuple)):
        digest.update(f"L{len(value)}".encode())
        for item in value:
            _feed(digest, item, depth + 1)
    elif isinstance(value, (int, float, str, bool, type(None))):
        digest.update(f"V{value!r}".encode())
    else:
        digest.update(f"O{type(value).__name__}".encode())


def param_checksum(value: Any) -> dict[str, Any]:
    """Shape, L2 norm, L1 norm and a position-weighted sum: equal values give equal numbers, within rounding."""
    import torch

    flat = value.detach().cpu().double().reshape(-1)
    weights = torch.sin(torch.arange(flat.numel(), dtype=torch.float64) * 0.7071 + 0.25)
    return {
        "shape": list(value.shape),
        "norm": float(flat.norm()),
        "abs_sum": float(flat.abs().sum()),
        "probe": float((flat * weights).sum()),
    }


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _jsonable_seed(seed: Any) -> Any:
    try:
        return int(seed)
    except (TypeError, ValueError):
        return repr(seed)


def _is_wrapper(module: Any) -> bool:
    """Lightning modules and DDP-style wrappers hold the user's model; names come from the model."""
    return any(cls.__name__ in ("LightningModule", "DistributedDataParallel", "DataParallel") for cls in type(module).__mro__)


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
                self._on_line(line.rsplit("\r", 1)[-1].rstrip())  # a \r-redrawn line keeps its last state
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
    sys.stdout = LineTee(sys.stdout, recorder.on_line)  # type: ignore[assignment]
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

    Optimizer.__init__ = optimizer_init  # type: ignore[method-assign]
    register_optimizer_step_post_hook(lambda optimizer, args, kwargs: recorder.on_optimizer_step(optimizer))

    original_next = _BaseDataLoaderIter.__next__

    def next_batch(self: Any) -> Any:
        batch = original_next(self)
        recorder.set_batch(batch)
        return batch

    _BaseDataLoaderIter.__next__ = next_batch  # type: ignore[method-assign]

    def remember_module(module: Any, args: Any) -> None:  # returns None: the call's inputs stay as they are
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
            plan.append(sorted(name for name, value in companions.items() if value == event.get("seed")))
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
            note = "gave the original's DataLoader workers Lightning's worker seeding, as seed_everything(workers=True) does"
            if note not in recorder.notes:
                recorder.notes.append(note)
        return original_iter(self)

    DataLoader.__iter__ = iterate  # type: ignore[method-assign]


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

    random.seed = recording("random")  # type: ignore[assignment]
    torch.manual_seed = recording("torch")  # type: ignore[assignment]
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
