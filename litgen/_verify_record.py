"""What a `litgen verify` run records: the steps, batches, parameters and printed lines of one program."""

# Used inside a probe child by litgen/_verify_probe.py (which installs the patches that feed it).
# What one optimisation step is: every backward() between two optimizer steps belongs to the step
# that follows, whether the program is a raw loop (backward, then step) or Lightning (step runs a
# closure that calls backward). A program that never creates an optimizer (hand-written updates)
# counts each backward() as a step. The record format is read by litgen/verify/records.py.
# torch is imported inside the functions that need it, so this module imports without it.

from __future__ import annotations

import json
import os
from typing import Any

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

    # -- the end -----------------------------------------------------------------------------------

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
            for copy, param in zip(self.snapshot, params, strict=True):
                copy.copy_(param.detach())

    def compute_params(self) -> None:
        if self.params is not None:
            return
        params = self.parameters()
        values = (
            self.snapshot
            if self.snapshot is not None and len(self.snapshot) == len(params)
            else params
        )
        names = self._parameter_names()
        self.params = [
            {"name": names.get(id(param), f"#{index}"), **param_checksum(value)}
            for index, (param, value) in enumerate(zip(params, values, strict=True))
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
            # seed_everything(workers=True) makes Lightning give DataLoader workers its own init
            # function
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


def loss_value(tensor: Any) -> float:
    """The number a backward() started from (a non-scalar's sum)."""
    detached = tensor.detach()
    return (
        float(detached.double().sum())
        if detached.numel() != 1
        else float(detached.double().reshape(()))
    )


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
    return any(
        cls.__name__ in ("LightningModule", "DistributedDataParallel", "DataParallel")
        for cls in type(module).__mro__
    )
