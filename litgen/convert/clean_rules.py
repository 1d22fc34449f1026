"""The ordered rules that clean one call statement of moved code: what Lightning now does itself goes.

Every rule has the same shape: it gets the cleaner (its options, its record of what it removed),
the statement and its call, and returns the statements to keep instead, or None when the call is
not its construct. `CALL_RULES` is tried in order and the first rule that answers wins, so the
order is part of the meaning (a scaled backward is a backward before it is anything else).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.names import call_name, code, dotted
from litgen.convert.rules.amp import Autocast
from litgen.convert.rules.clipping import Clip, clip_of
from litgen.convert.rules.device import is_mode_switch, is_move_statement
from litgen.convert.rules.distributed import is_plumbing_call
from litgen.convert.rules.optim import (
    Backward,
    backward_of,
    scaler_call,
    step_of,
    zero_grad_of,
)

Mode = Literal["auto", "manual", "eval", "epoch"]
BackwardRewrite = Callable[[Backward, "int | None"], list[cst.BaseSmallStatement]]


@dataclass
class CleanOptions:
    mode: Mode
    batch_names: set[str] = field(default_factory=set)
    drop_scheduler_steps: set[str] = field(default_factory=set)
    drop_switches: frozenset[str] = frozenset({"train", "eval"})
    backward: BackwardRewrite | None = None
    continue_returns_none: bool = True
    stop_on_break: bool = False
    keep_zero_grad: bool = False


@dataclass
class CleanRecord:
    autocasts: list[Autocast] = field(default_factory=list)
    clips: list[Clip] = field(default_factory=list)
    custom_clips: list[cst.BaseStatement] = field(default_factory=list)
    scaled: bool = False
    zero_grads: int = 0
    removed_switches: list[str] = field(default_factory=list)
    kept_switches: list[str] = field(default_factory=list)


class Cleaner(Protocol):
    """What a rule sees of the cleaner: the conversion, its options, its record, the last optimizer seen."""

    ctx: Ctx
    options: CleanOptions
    record: CleanRecord
    last_optimizer: str | None


Kept = list[cst.BaseSmallStatement]
CallRule = Callable[[Cleaner, cst.Expr, cst.Call, "int | None"], "Kept | None"]


def backward(cleaner: Cleaner, small: cst.Expr, call: cst.Call, line: int | None) -> Kept | None:
    """`loss.backward()` (or `scaler.scale(loss).backward()`): Lightning's, or `manual_backward`."""
    found = backward_of(cleaner.ctx, call)
    options = cleaner.options
    if found is None or options.mode not in ("auto", "manual") or options.backward is None:
        return None
    cleaner.record.scaled |= found.scaled
    return options.backward(found, line)


def zero_grad(cleaner: Cleaner, small: cst.Expr, call: cst.Call, line: int | None) -> Kept | None:
    """`optimizer.zero_grad()` / `model.zero_grad()`: Lightning zeroes (kept under manual optimization)."""
    zeroed = zero_grad_of(cleaner.ctx, call)
    if zeroed is None:
        return None
    cleaner.record.zero_grads += 1
    if cleaner.ctx.is_optimizer(zeroed):
        cleaner.last_optimizer = zeroed
    return [small] if cleaner.options.mode == "manual" or cleaner.options.keep_zero_grad else []


def optimizer_step(
    cleaner: Cleaner, small: cst.Expr, call: cst.Call, line: int | None
) -> Kept | None:
    """`optimizer.step()` / `scaler.step(optimizer)`: Lightning steps (manual: the optimizer's own step)."""
    step = step_of(cleaner.ctx, call)
    if step is None:
        return None
    cleaner.record.scaled |= step.scaled
    mode = cleaner.options.mode
    if mode == "manual":
        return (
            [cst.Expr(cst.parse_expression(f"{step.optimizer}.step()"))] if step.scaled else [small]
        )
    return [] if mode == "auto" else [small]


def grad_scaler(cleaner: Cleaner, small: cst.Expr, call: cst.Call, line: int | None) -> Kept | None:
    """`scaler.update()`, `scaler.unscale_(optimizer)`: mixed precision is the Trainer's `precision`."""
    scaler = scaler_call(cleaner.ctx, call)
    if scaler is None:
        return None
    cleaner.record.scaled = True
    if scaler == "unscale_" and call.args:
        cleaner.last_optimizer = dotted(call.args[0].value) or cleaner.last_optimizer
    return []


def gradient_clipping(
    cleaner: Cleaner, small: cst.Expr, call: cst.Call, line: int | None
) -> Kept | None:
    """`clip_grad_norm_(model.parameters(), v)`: the Trainer's `gradient_clip_val` (or `clip_gradients`)."""
    clip = clip_of(cleaner.ctx, call)
    if clip is None:
        return None
    mode = cleaner.options.mode
    if mode == "auto":
        if clip.standard:
            cleaner.record.clips.append(clip)
        else:
            cleaner.record.custom_clips.append(cst.SimpleStatementLine(body=[small]))
        return []
    if mode == "manual" and clip.standard:
        optimizer = cleaner.last_optimizer or next(iter(cleaner.ctx.facts.optimizers))
        text = (
            f"self.clip_gradients({optimizer}, gradient_clip_val={code(clip.value)}, "
            f'gradient_clip_algorithm="{clip.algorithm}")'
        )
        return [cst.Expr(cst.parse_expression(text))]
    return [small]


def mode_switch(cleaner: Cleaner, small: cst.Expr, call: cst.Call, line: int | None) -> Kept | None:
    """`model.train()` / `model.eval()`: Lightning switches modes around each loop."""
    switch = is_mode_switch(cleaner.ctx, call)
    if switch is None:
        return None
    if switch in cleaner.options.drop_switches:
        cleaner.record.removed_switches.append(switch)
        return []
    cleaner.record.kept_switches.append(switch)
    return [small]


def scheduler_step(
    cleaner: Cleaner, small: cst.Expr, call: cst.Call, line: int | None
) -> Kept | None:
    """`scheduler.step()` of a scheduler Lightning now steps."""
    if call_name(call) == "step" and isinstance(call.func, cst.Attribute):
        if dotted(call.func.value) in cleaner.options.drop_scheduler_steps:
            return []
    return None


def device_move(cleaner: Cleaner, small: cst.Expr, call: cst.Call, line: int | None) -> Kept | None:
    """`model.to(device)` as a statement of its own: Lightning places the model."""
    return [] if is_move_statement(cleaner.ctx, small) else None


def distributed_plumbing(
    cleaner: Cleaner, small: cst.Expr, call: cst.Call, line: int | None
) -> Kept | None:
    """`sampler.set_epoch(epoch)`, `dist.barrier()`, `cleanup()`: Lightning's DDP strategy does these."""
    facts = cleaner.ctx.facts
    if call_name(call) == "set_epoch" and isinstance(call.func, cst.Attribute):
        owner = dotted(call.func.value) or ""
        if owner in facts.samplers or owner.endswith(".sampler"):
            return []
    if is_plumbing_call(cleaner.ctx, call):
        return []
    if isinstance(call.func, cst.Name) and call.func.value in facts.plumbing:
        return []
    return None


CALL_RULES: tuple[CallRule, ...] = (
    backward,
    zero_grad,
    optimizer_step,
    grad_scaler,
    gradient_clipping,
    mode_switch,
    scheduler_step,
    device_move,
    distributed_plumbing,
)
