"""Gradient clipping: `clip_grad_norm_` / `clip_grad_value_` become Trainer settings when Lightning can express them."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.names import call_name, root_name

_NORM = (
    "torch.nn.utils.clip_grad_norm_",
    "torch.nn.utils.clip_grad_norm",
    "torch.nn.utils.clip_grad.clip_grad_norm_",
)
_VALUE = ("torch.nn.utils.clip_grad_value_", "torch.nn.utils.clip_grad.clip_grad_value_")


@dataclass
class Clip:
    algorithm: str  # "norm" | "value"
    value: cst.BaseExpression
    standard: bool  # all parameters of the trained model, default norm type: a Trainer setting fits
    line: int | None


def _argument(call: cst.Call, position: int, keyword: str) -> cst.BaseExpression | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    positional = [a for a in call.args if a.keyword is None]
    return positional[position].value if len(positional) > position else None


def clip_of(ctx: Ctx, node: cst.CSTNode) -> Clip | None:
    if not isinstance(node, cst.Call):
        return None
    qualified = ctx.imports.qualify(node.func)
    if qualified in _NORM:
        algorithm, keyword = "norm", "max_norm"
    elif qualified in _VALUE:
        algorithm, keyword = "value", "clip_value"
    else:
        return None
    value = _argument(node, 1, keyword)
    if value is None:
        return None
    params = _argument(node, 0, "parameters")
    whole_model = (
        isinstance(params, cst.Call)
        and call_name(params) == "parameters"
        and isinstance(params.func, cst.Attribute)
        and isinstance(params.func.value, cst.Name)
        and ctx.is_model(params.func.value.value)
        and not params.args
    )
    norm_type = _argument(node, 2, "norm_type")
    default_norm = norm_type is None or (
        isinstance(norm_type, (cst.Integer, cst.Float)) and float(norm_type.value) == 2.0
    )
    extra = [
        a for a in node.args if a.keyword and a.keyword.value in ("error_if_nonfinite", "foreach")
    ]
    trains_everything = ctx.facts.models == [
        root_name(params)
    ]  # Lightning clips all optimizer parameters
    standard = whole_model and default_norm and not extra and trains_everything
    return Clip(algorithm, value, standard, ctx.line(node))


def record_clip(ctx: Ctx, clip: Clip) -> None:
    ctx.option("gradient_clip_val", clip.value, clip.line)
    if clip.algorithm == "value":
        ctx.option("gradient_clip_algorithm", cst.SimpleString('"value"'), clip.line)
    ctx.mapped(
        f"gradient clipping by {clip.algorithm}", clip.line, "Trainer(gradient_clip_val=...)"
    )
