"""Mixed precision: `autocast` blocks and `GradScaler` calls become `Trainer(precision=...)`."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.names import code

AUTOCASTS = {
    "torch.autocast": None,
    "torch.amp.autocast": None,
    "torch.cuda.amp.autocast": "cuda",
    "torch.cpu.amp.autocast": "cpu",
    "torch.amp.autocast_mode.autocast": None,
}


@dataclass
class Autocast:
    device_type: cst.BaseExpression | None
    dtype: str | None  # "bfloat16" / "float16" / None (the device default)
    enabled: cst.BaseExpression | None
    line: int | None


def autocast_of(ctx: Ctx, item: cst.WithItem) -> Autocast | None:
    call = item.item
    if not isinstance(call, cst.Call) or item.asname is not None:
        return None
    qualified = ctx.imports.qualify(call.func)
    if qualified not in AUTOCASTS:
        return None
    fixed = AUTOCASTS[qualified]
    device: cst.BaseExpression | None = cst.SimpleString(f'"{fixed}"') if fixed else None
    dtype: str | None = None
    enabled: cst.BaseExpression | None = None
    positional = [a for a in call.args if a.keyword is None]
    if fixed is None and positional:
        device = positional[0].value
    for arg in call.args:
        keyword = arg.keyword.value if arg.keyword else None
        if keyword == "device_type":
            device = arg.value
        elif keyword == "dtype":
            dtype = code(arg.value).rsplit(".", 1)[-1]
        elif keyword == "enabled":
            enabled = arg.value
    return Autocast(device, dtype, enabled, ctx.line(call))


def _string(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        return str(node.evaluated_value)
    return None


def _mixed_for(autocast: Autocast) -> tuple[str, str | None]:
    """(Lightning precision when on, a note when the original meaning depends on the device)."""
    if autocast.dtype in ("bfloat16", "bf16"):
        return "bf16-mixed", None
    device = _string(autocast.device_type)
    if device == "cpu":
        return "bf16-mixed", None
    if device is None and autocast.dtype is None:
        return (
            "16-mixed",
            "autocast picks its dtype from the device at run time; check the precision",
        )
    return "16-mixed", None


def precision_option(ctx: Ctx, autocasts: list[Autocast], scaled: bool) -> None:
    """Record `Trainer(precision=...)` for what the script's autocast/GradScaler did."""
    if not autocasts:
        if scaled:
            ctx.warn(
                "GradScaler without autocast: the loss was scaled but nothing ran in half precision",
                None,
            )
        return
    first = autocasts[0]
    mixed, note = _mixed_for(first)
    on = cst.SimpleString(f'"{mixed}"')
    off = cst.SimpleString('"32-true"')
    condition = first.enabled
    if condition is None and mixed == "16-mixed" and _string(first.device_type) == "cuda":
        # CUDA autocast does nothing on CPU
        condition = cst.parse_expression("torch.cuda.is_available()")
    if condition is None:
        value: cst.BaseExpression = on
    else:
        value = cst.IfExp(test=condition, body=on, orelse=off)
    ctx.option("precision", value, first.line)
    ctx.mapped(
        "autocast/GradScaler mixed precision", first.line, f"Trainer(precision={code(value)})"
    )
    if note:
        ctx.warn(note, first.line)
