"""Helpers of `litgen check --deep` in the probe: Trainer settings for a short real fit, and failure texts."""

# Imported inside a probe child only (litgen/_probe_deep.py, litgen/_probe_deep_steps.py). Stays
# importable without torch: torch and Lightning are looked up when a function needs them, so the
# pure helpers (deep_trainer_kwargs, same_state, weights_only_reason) are unit-testable cheaply.

from __future__ import annotations

import copy
import inspect
import json
import math
import os
import pickle
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Protocol

from litgen._probe_trainer import exception_line, force_cpu_fast_dev_run

LIGHTNING_PACKAGES = ("lightning", "pytorch_lightning", "lightning_fabric")


class DeepFailure(Exception):
    """A sub-check failed; the message is its one-line reason."""


class DeepSkip(Exception):
    """A sub-check cannot run (what it needs failed before it); the message is its one-line reason."""


def deep_trainer_kwargs(
    program: dict[str, Any], *, root: str, epochs: int, batches: int, cpu_map: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """The program's own Trainer arguments for a short real fit: EPOCHS epochs of BATCHES batches on one CPU.

    GPU-only settings are mapped as `litgen check` maps them. Checkpointing is on and goes, with the
    logs, under ROOT (a scratch folder); settings that would stop the fit early or make it long go.
    The caller adds the callbacks, the logger and, for DDP, devices and strategy.
    """
    kwargs, notes = force_cpu_fast_dev_run(program, cpu_map=cpu_map)
    val_batches = program.get("limit_val_batches")
    interval = program.get("val_check_interval")
    kwargs.update(
        fast_dev_run=False,
        max_epochs=epochs,
        min_epochs=None,
        max_steps=-1,
        min_steps=None,
        max_time=None,
        limit_train_batches=batches,
        # a program that turned validation off keeps it off; otherwise two batches show it works
        limit_val_batches=0 if val_batches in (0, 0.0) else 2,
        val_check_interval=1.0
        if isinstance(interval, int) and interval > batches
        else interval
        if interval is not None
        else 1.0,
        log_every_n_steps=1,
        enable_checkpointing=True,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
        profiler=None,
        barebones=False,
    )
    return kwargs, notes


def is_lightning_class(value: Any) -> bool:
    """Whether VALUE's class comes from Lightning itself (its callbacks are Lightning's to get right)."""
    return type(value).__module__.split(".")[0] in LIGHTNING_PACKAGES


def is_stateful(callback: Any, callback_base: type) -> bool:
    """A callback that saves a state in checkpoints (overrides state_dict), as Lightning decides it."""
    return getattr(type(callback), "state_dict", None) is not getattr(
        callback_base, "state_dict", None
    )


def plain(value: Any) -> Any:
    """VALUE with tensors as nested lists, so that two states compare with == and print readably."""
    if hasattr(value, "detach") and hasattr(value, "tolist"):
        return value.detach().cpu().tolist()
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return "nan"  # nan != nan, but a restored nan is restored
    return value if isinstance(value, (int, float, str, bool, type(None))) else repr(value)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def error_line(error: BaseException) -> str:
    """exception_line without terminal colour codes (torch puts some in its messages)."""
    return _ANSI.sub("", exception_line(error))


def _simple(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_simple(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _simple(item) for key, item in value.items())
    return isinstance(value, (int, float, str, bool, type(None))) or hasattr(value, "detach")


def module_attributes(module: Any) -> dict[str, Any]:
    """Copies of a module's plain attributes (numbers, strings, tensors), which its hooks may change during a fit.

    A rerun of the program starts with them as __init__ set them; a repeated fit in this process must
    too (a hand-written early stopping keeps its best loss in one), so they are put back before it.
    """
    skipped = {*module._parameters, *module._buffers, *module._modules}
    kept: dict[str, Any] = {}
    for name, value in vars(module).items():
        if not name.startswith("_") and name not in skipped and _simple(value):
            copied = _copy(value)
            if copied is not _UNCOPYABLE:
                kept[name] = copied
    return kept


_UNCOPYABLE = object()


def module_attributes_copy(attributes: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy of what module_attributes kept (each repeated fit gets its own)."""
    return {name: _copy(value) for name, value in attributes.items()}


def _copy(value: Any) -> Any:
    import copy

    if hasattr(value, "detach"):
        return value.detach().clone()  # a tensor still in the autograd graph cannot be deep-copied
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - e.g. a list holding a graph tensor: left as the fit leaves it
        return _UNCOPYABLE


def short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def loss_of(outputs: Any) -> float | None:
    """The loss a training step returned (a tensor, or a dict holding 'loss'), as a float."""
    if isinstance(outputs, dict):
        outputs = outputs.get("loss")
    if outputs is None or not hasattr(outputs, "detach"):
        return None
    try:
        return float(outputs.detach())
    except (TypeError, ValueError, RuntimeError):
        return None


def first_difference(first: list[float], second: list[float], rtol: float = 1e-6) -> int | None:
    """The first step whose losses differ (beyond RTOL), the shorter length if one ran fewer; None if equal."""
    for index, (a, b) in enumerate(zip(first, second, strict=False)):
        if not (a == b or abs(a - b) <= rtol * max(abs(a), abs(b))):
            return index
    return None if len(first) == len(second) else min(len(first), len(second))


def _frames(error: BaseException) -> Iterator[TracebackType]:
    seen: set[int] = set()
    current: BaseException | None = error
    # the cause chain too: Lightning re-raises
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frame = current.__traceback__
        while frame is not None:
            yield frame
            frame = frame.tb_next
        current = current.__cause__ or current.__context__


def raised_while_saving(error: BaseException) -> bool:
    """Whether ERROR came out of writing a checkpoint (Trainer.save_checkpoint or torch.save)."""
    for frame in _frames(error):
        code = frame.tb_frame.f_code
        if code.co_name in ("save_checkpoint", "_save_checkpoint", "dump_checkpoint") or (
            code.co_name in ("save", "_save")
            and code.co_filename.endswith(os.path.join("torch", "serialization.py"))
        ):
            return True
    return False


def unpicklable_hyperparameters(*owners: Any) -> list[str]:
    """`name (type)` for each hyper-parameter of the module or data module that pickle cannot save."""
    found: list[str] = []
    for owner in owners:
        hparams = getattr(owner, "hparams", None)
        for name, value in (dict(hparams) if hparams else {}).items():
            try:
                pickle.dumps(value)
            except Exception:  # noqa: BLE001 - whatever pickle raises, this value is what cannot be saved
                found.append(f"{name} ({type(value).__name__})")
    return found


def saving_reason(error: BaseException, model: Any, datamodule: Any) -> str:
    culprits = unpicklable_hyperparameters(model, datamodule)
    hint = (
        f"; hyper-parameter {', '.join(culprits)} cannot be pickled (pass it to save_hyperparameters(ignore=[...]) "
        "or save a plain value instead)"
        if culprits
        else ""
    )
    return f"a checkpoint could not be saved: {exception_line(error)}{hint}"


_UNSUPPORTED = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def find_object(data: Any, qualified: str, where: str = "checkpoint") -> str | None:
    """Where in a loaded checkpoint a value of class QUALIFIED (or that class itself) sits."""
    kind = type(data)
    if f"{kind.__module__}.{kind.__qualname__}" == qualified or (
        isinstance(data, type) and f"{data.__module__}.{data.__qualname__}" == qualified
    ):
        return where
    if isinstance(data, dict):
        items: Any = ((f"{where}[{key!r}]", value) for key, value in data.items())
    elif isinstance(data, (list, tuple)):
        items = ((f"{where}[{index}]", value) for index, value in enumerate(data))
    elif hasattr(data, "__dict__") and not isinstance(data, type) and not hasattr(data, "detach"):
        items = ((f"{where}.{key}", value) for key, value in vars(data).items())
    else:
        return None
    for path, value in items:
        found = find_object(value, qualified, path)
        if found is not None:
            return found
    return None


def weights_only_reason(error: BaseException, checkpoint: dict[str, Any] | None) -> str:
    """Why torch.load with its default weights_only=True refused a checkpoint, naming the object and where it is."""
    match = _UNSUPPORTED.search(str(error))
    if match is None:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = next(
            (line for line in lines if "WeightsUnpickler error" in line),
            lines[0] if lines else type(error).__name__,
        )
        return (
            f"torch.load refuses the checkpoint with its default weights_only=True: {detail[:200]}"
        )
    name = match.group(1)
    where = find_object(checkpoint, name) if checkpoint is not None else None
    at = f" at {where}" if where else ""
    return (
        f"torch.load refuses the checkpoint with its default weights_only=True (torch >= 2.6): it holds a {name}{at}; "
        "save plain values (numbers, strings, dicts) there, or allow the class with "
        "torch.serialization.add_safe_globals"
    )


def check_callback_states(states: list[tuple[str, str, Any, bool]], saved: dict[str, Any]) -> int:
    """Fail on stateful callbacks sharing a state_key, or one whose state after a resume is not what
    was saved; return how many were restored.
    """
    by_key: dict[str, list[str]] = {}
    for name, key, _, _ in states:
        by_key.setdefault(key, []).append(name)
    for key, names in by_key.items():
        if len(names) > 1:
            raise DeepFailure(
                f"callbacks {' and '.join(names)} share the state_key {key!r}: the checkpoint keeps one state for "
                "both, so a resume gives each the same state; give each a distinct state_key"
            )
    restored = 0
    for name, key, state, lightnings_own in states:
        if lightnings_own:
            continue  # Lightning's callbacks restore themselves (and some, like Timer, legitimately move on)
        if key not in saved:
            raise DeepFailure(
                f"callback {name} has a state_dict, but the checkpoint holds no state under its state_key {key!r}"
            )
        if plain(saved[key]) != state:
            raise DeepFailure(
                f"callback {name} lost its state on resume: the checkpoint holds {short(plain(saved[key]))}, "
                f"after resuming it has {short(state)} (its load_state_dict does not restore what state_dict saves)"
            )
        restored += 1
    return restored


def load_as_a_user(model: Any, path: Path, saved: dict[str, Any]) -> tuple[Any, list[str]]:
    """type(MODEL).load_from_checkpoint as a user calls it; arguments save_hyperparameters left out
    are passed as the program built them."""
    module_class = type(model)
    saved_names = set((saved.get("hyper_parameters") or {}).keys())
    parameters = inspect.signature(module_class).parameters.values()  # __init__'s, without self
    needed = [
        parameter.name
        for parameter in parameters
        if parameter.name != "self"
        and parameter.default is inspect.Parameter.empty
        and parameter.kind
        in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        and parameter.name not in saved_names
    ]
    missing = [name for name in needed if not hasattr(model, name)]
    if missing:
        raise DeepFailure(
            f"{module_class.__name__}.load_from_checkpoint cannot rebuild the module: __init__ needs "
            f"{', '.join(missing)}, which save_hyperparameters() did not record"
        )
    given = {name: copy.deepcopy(getattr(model, name)) for name in needed}
    try:
        return module_class.load_from_checkpoint(str(path), map_location="cpu", **given), needed
    except Exception as error:
        text = str(error)
        # the first line says only that; the next ones say what
        if "Error(s) in loading state_dict" in text:
            detail = " ".join(line.strip() for line in text.splitlines()[1:3] if line.strip())[:240]
            hint = (
                ""
                if saved_names
                else "; its __init__ saves no hyper-parameters (call self.save_hyperparameters())"
            )
            raise DeepFailure(
                f"{module_class.__name__}.load_from_checkpoint builds a module the "
                f"saved weights do not fit: {detail}{hint}"
            ) from error
        raise DeepFailure(
            f"{module_class.__name__}.load_from_checkpoint fails: {error_line(error)}"
        ) from error


Outcome = tuple[str, str]  # ("pass" | "skipped", reason); a failure raises DeepFailure


@dataclass(frozen=True)
class FitRecord:
    """What the short real fit did: where it ended, what it logged, and the checkpoint it left."""

    global_step: int
    epoch: int
    losses: tuple[float, ...]
    metrics: tuple[str, ...]
    checkpoint: Path  # saved when the fit ended
    interrupted: Path  # saved when its next-to-last epoch ended, as if the run had stopped there
    interrupted_step: int
    elapsed_s: float


class DeepProbe(Protocol):
    """What the DDP sub-check (`_probe_deep_ddp`) uses of the sub-checks' state (`DeepSteps`)."""

    devices: int
    epochs: int
    deadline: float
    program_kwargs: dict[str, Any]
    run_dir: Path
    fitted: FitRecord | None

    def trainer(
        self,
        name: str,
        *,
        epochs: int,
        share_checkpoints_with: str | None = None,
        devices: int = 1,
        strategy: Any = "auto",
        rank_dir: str | None = None,
        checkpoint_after: tuple[int, str] | None = None,
    ) -> tuple[Any, Any]: ...

    def run_fit(self, trainer: Any, **extra: Any) -> None: ...

    def lightning(self, submodule: str) -> ModuleType: ...

    def note(self, note: str) -> None: ...
