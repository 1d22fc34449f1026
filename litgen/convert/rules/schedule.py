"""Learning-rate schedulers: stepped per batch, per epoch, or on a metric -> configure_optimizers settings."""

from __future__ import annotations

import re
from collections.abc import Sequence

import libcst as cst

from litgen.convert.context import Ctx, Schedule
from litgen.convert.facts import PLATEAU
from litgen.convert.names import call_name, dotted
from litgen.convert.rules.optim import calls_in


def scheduler_step(ctx: Ctx, small: cst.BaseSmallStatement) -> tuple[str, cst.Call] | None:
    """`scheduler.step()` / `scheduler.step(metric)` written as a statement of its own."""
    if (
        isinstance(small, cst.Expr)
        and isinstance(small.value, cst.Call)
        and call_name(small.value) == "step"
    ):
        func = small.value.func
        if isinstance(func, cst.Attribute) and ctx.is_scheduler(dotted(func.value)):
            return dotted(func.value) or "", small.value
    return None


def direct_steps(ctx: Ctx, statements: Sequence[cst.BaseStatement]) -> list[tuple[str, cst.Call]]:
    """Scheduler steps at the top level of a block (not under an `if` or a loop)."""
    found = []
    for statement in statements:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                step = scheduler_step(ctx, small)
                if step is not None:
                    found.append(step)
    return found


def count_steps(ctx: Ctx, statements: Sequence[cst.CSTNode]) -> None:
    for call in calls_in(statements):
        if call_name(call) == "step" and isinstance(call.func, cst.Attribute):
            name = dotted(call.func.value)
            if ctx.is_scheduler(name):
                assert name is not None
                ctx.scheduler_step_counts[name] = ctx.scheduler_step_counts.get(name, 0) + 1


def is_plateau(ctx: Ctx, name: str) -> bool:
    return ctx.facts.is_scheduler_class(ctx.script, name) in PLATEAU


def register(
    ctx: Ctx, name: str, call: cst.Call, interval: str, monitor: str | None = None
) -> bool:
    """Let Lightning step `name`; False when the script steps it in a way Lightning cannot (kept as code)."""
    if ctx.scheduler_step_counts.get(name, 0) != 1 or any(s.name == name for s in ctx.schedules):
        return False
    if bool(call.args) != (monitor is not None) or (
        monitor is not None and not is_plateau(ctx, name)
    ):
        return False
    line = ctx.line(call)
    ctx.schedules.append(Schedule(name, interval, monitor, line))
    where = f'interval="{interval}"' + (f', monitor="{monitor}"' if monitor else "")
    ctx.mapped(f"{name}.step()", line, f"configure_optimizers ({where})")
    return True


def metric_key(expression: cst.BaseExpression, taken: set[str]) -> str:
    """A metric name for what a plateau scheduler watches: `val_loss` -> "val_loss"."""
    text = dotted(expression) or "monitored"
    base = re.sub(r"[^0-9A-Za-z_]+", "_", text.split(".")[-1]).strip("_") or "monitored"
    key = base
    while key in taken:
        key = f"plateau_{key}"
    return key


def kept_note(ctx: Ctx, name: str, line: int | None) -> None:
    ctx.mapped(f"{name}.step()", line, "kept where the script calls it")
    ctx.keep_unconverted(
        f"`{name}.step()` is stepped in a way configure_optimizers cannot express; it stays a call in the hook",
        line,
    )
