"""Device handling: `.to(device)`, `.cuda()`, device variables, and `model.train()` / `model.eval()`."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.names import call_name, code, root_name
from litgen.convert.substitute import LineCarrier
from litgen.cst_walk import find

_DEVICE_LIKE_NAME = re.compile(r"^(device|dev|local_rank|rank|gpu|gpu_id|device_id|cuda_device)$")
_MOVE_KEYWORDS = {"device", "non_blocking", "copy", "memory_format"}


def is_device_expression(ctx: Ctx, node: cst.BaseExpression) -> bool:
    """What `.to(...)` receives when it moves a tensor between devices (not when it casts a dtype)."""
    if isinstance(node, cst.Name):
        return (
            node.value in ctx.facts.devices
            or ctx.symbols.is_device(node.value)
            or bool(_DEVICE_LIKE_NAME.match(node.value))
        )
    if isinstance(node, cst.Attribute):
        return bool(_DEVICE_LIKE_NAME.match(node.attr.value))
    if isinstance(node, cst.SimpleString):
        return str(node.evaluated_value).split(":")[0] in ("cuda", "cpu", "mps", "xpu")
    if isinstance(node, cst.Call):
        return ctx.imports.starts(node.func, "torch.device", "torch.accelerator")
    return False


def move_parts(ctx: Ctx, call: cst.Call) -> tuple[cst.BaseExpression, list[cst.Arg]] | None:
    """For a device move, (the moved value, the arguments to keep); None if `call` is not a move."""
    if not isinstance(call.func, cst.Attribute):
        return None
    method = call.func.attr.value
    if method == "cuda":
        return call.func.value, []
    if method != "to" or not call.args:
        return None
    first = call.args[0]
    if first.keyword is None and is_device_expression(ctx, first.value):
        rest = [a for a in call.args[1:] if not (a.keyword and a.keyword.value in _MOVE_KEYWORDS)]
        return call.func.value, rest
    device_kw = [a for a in call.args if a.keyword and a.keyword.value == "device"]
    if device_kw and is_device_expression(ctx, device_kw[0].value):
        rest = [a for a in call.args if not (a.keyword and a.keyword.value in _MOVE_KEYWORDS)]
        return call.func.value, rest
    return None


def without_moves(ctx: Ctx, expression: cst.BaseExpression) -> cst.BaseExpression:
    """`Net().to(device)` -> `Net()`: the moves Lightning does by itself."""
    if isinstance(expression, cst.Call):
        parts = move_parts(ctx, expression)
        if parts is not None:
            receiver, rest = parts
            inner = without_moves(ctx, receiver)
            if rest:
                return expression.with_changes(
                    func=expression.func.with_changes(value=inner), args=_clean(rest)
                )
            return inner
    return expression


def _clean(args: list[cst.Arg]) -> list[cst.Arg]:
    if not args:
        return args
    return [*args[:-1], args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)]


def is_mode_switch(ctx: Ctx, node: cst.CSTNode) -> str | None:
    """`model.train()` / `model.eval()` / `model.train(False)` on a model: returns "train" or "eval"."""
    if not isinstance(node, cst.Call):
        return None
    switch = mode_switch_of(node)
    root = root_name(node.func.value) if isinstance(node.func, cst.Attribute) else None
    return switch if root is not None and ctx.is_model(root) else None


def back_to_training(ctx: Ctx, statements: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """`model.train()` after epoch-end code that leaves a model in eval mode.

    The script switched back at the start of its next epoch, a `model.train()` litgen drops
    because Lightning sets the mode around its own loops; Lightning does not undo a switch made in
    `on_train_epoch_end`, so without this the next epochs would train with dropout off. A helper
    the code calls is followed, its parameters standing for the arguments it gets.
    """
    if not any(mode_switch_of(call) == "train" for call in ctx.script.nodes_of(cst.Call)):
        return []  # the script itself never switched back: neither does its conversion
    helpers = {s.name.value: s for s in ctx.script.module.body if isinstance(s, cst.FunctionDef)}
    models: list[str] = []
    pending: list[tuple[cst.CSTNode, dict[str, str]]] = [(s, {}) for s in statements]
    seen: set[str] = set()
    while pending:
        node, bound = pending.pop()
        for call in find(node, cst.Call):
            if mode_switch_of(call) == "eval" and isinstance(call.func, cst.Attribute):
                model = bound.get(code(call.func.value), code(call.func.value))
                if ctx.is_model(model.split(".")[0]) and model not in models:
                    models.append(model)
            name = call.func.value if isinstance(call.func, cst.Name) else None
            if name in helpers and name not in seen:
                seen.add(name)
                params = [p.name.value for p in helpers[name].params.params]
                passed = {
                    params[index] if arg.keyword is None else arg.keyword.value: code(arg.value)
                    for index, arg in enumerate(call.args)
                    if not arg.star and (arg.keyword is not None or index < len(params))
                }
                pending.append((helpers[name], {k: bound.get(v, v) for k, v in passed.items()}))
    comment = "# litgen: the script's next epoch starts in training mode; Lightning does not switch back\n"
    return [cst.parse_statement(f"{comment}{model}.train()\n") for model in models]


def mode_switch_of(call: cst.Call) -> str | None:
    """`x.train()` / `x.eval()` / `x.train(False)` on anything: "train" or "eval"."""
    if not isinstance(call.func, cst.Attribute) or call.func.attr.value not in ("train", "eval"):
        return None
    if call.func.attr.value == "eval":
        return None if call.args else "eval"
    if not call.args:
        return "train"
    flag = code(call.args[0].value).strip()
    return {"True": "train", "False": "eval"}.get(flag) if len(call.args) == 1 else None


class MoveStripper(LineCarrier):
    """Drop device moves on batch values (Lightning moves batches); send any other move to `self.device`."""

    def __init__(self, ctx: Ctx, batch_names: Collection[str]) -> None:
        super().__init__(ctx.script.lines)
        self.ctx = ctx
        self.batch_names = set(batch_names)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        parts = move_parts(self.ctx, updated_node)
        if parts is None:
            return updated_node
        receiver, rest = parts
        if root_name(receiver) in self.batch_names:
            if rest:
                return updated_node.with_changes(args=_clean(rest))
            return receiver
        device = cst.Arg(cst.Name(self.ctx.symbols.device))
        return updated_node.with_changes(
            func=cst.Attribute(receiver, cst.Name("to")),
            args=_clean([device, *[a.with_changes() for a in rest]]),
        )

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        if updated_node.keyword is not None and updated_node.keyword.value == "device":
            if is_device_expression(self.ctx, updated_node.value) and not isinstance(
                updated_node.value, cst.SimpleString
            ):
                return updated_node.with_changes(value=cst.Name(self.ctx.symbols.device))
        return updated_node


def derived_batch_names(
    batch_names: Collection[str], statements: list[cst.BaseStatement]
) -> set[str]:
    """Batch names plus everything assigned straight from them (`x = batch["x"]`, `x, y = x.to(d), y`)."""
    names = set(batch_names)
    for statement in statements:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Assign):
                sources = (
                    small.value.elements if isinstance(small.value, cst.Tuple) else [small.value]
                )
                values = [s.value if isinstance(s, cst.BaseElement) else s for s in sources]
                if all(root_name(v) in names for v in values):
                    for target in small.targets:
                        names |= _names(target.target)
    return names


def _names(target: cst.BaseExpression) -> set[str]:
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return {n for e in target.elements for n in _names(e.value)}
    return set()


def is_self_assignment(statement: cst.CSTNode) -> bool:
    """`x = x` or `x, y = x, y`: what `x = x.to(device)` becomes once the move is gone."""
    if not isinstance(statement, cst.Assign) or len(statement.targets) != 1:
        return False
    target, value = statement.targets[0].target, statement.value
    if isinstance(target, cst.Name) and isinstance(value, cst.Name):
        return target.value == value.value
    if isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List)):
        if len(target.elements) != len(value.elements):
            return False
        return all(
            isinstance(t.value, cst.Name)
            and isinstance(v.value, cst.Name)
            and t.value.value == v.value.value
            for t, v in zip(target.elements, value.elements, strict=True)
        )
    return False


def is_move_statement(ctx: Ctx, small: cst.BaseSmallStatement) -> bool:
    """`model.to(device)` / `model.cuda()` as a statement of its own."""
    return (
        isinstance(small, cst.Expr)
        and isinstance(small.value, cst.Call)
        and move_parts(ctx, small.value) is not None
        and call_name(small.value) in ("to", "cuda")
    )


def moved_before_training(ctx: Ctx, device: str) -> set[str]:
    """Variables the script moves to `device` (`.to(device)`) or to a GPU (`.cuda()`) before its loop."""
    moved: set[str] = set()
    for call in ctx.script.nodes_of(cst.Call):
        if (ctx.line(call) or 0) >= ctx.facts.region_line:
            continue
        parts = move_parts(ctx, call)
        if parts is None:
            continue
        target = call.args[0].value if call.args else None
        if call_name(call) == "cuda" or (isinstance(target, cst.Name) and target.value == device):
            root = root_name(parts[0])
            if root is not None:
                moved.add(root)
    for name, bindings in ctx.facts.bindings.items():  # `model = Net().to(device)`
        for binding in bindings:
            value = binding.value
            if (ctx.line(binding.statement) or 0) < ctx.facts.region_line and isinstance(
                value, cst.Call
            ):
                parts = move_parts(ctx, value)
                target = value.args[0].value if value.args else None
                if parts is not None and (
                    call_name(value) == "cuda"
                    or (isinstance(target, cst.Name) and target.value == device)
                ):
                    moved.add(name)
    return moved
