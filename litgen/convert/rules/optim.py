"""The optimization protocol of a loop: `backward()`, `optimizer.step()`, `zero_grad()`, GradScaler calls."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NoReturn

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.facts import Binding
from litgen.convert.names import call_name, dotted, root_name, target_names, usage
from litgen.cst_walk import find

NEVER_STEPS = (
    "the {loop} calls backward() but never steps an optimizer: litgen follows `optimizer.step()`, "
    "or a plain SGD update of every parameter (`p -= lr * p.grad` under `torch.no_grad()`, "
    "`p.data.add_(-lr * p.grad)`)"
)


def refuse_never_steps(ctx: Ctx, loop: str) -> NoReturn:
    backward = ctx.script.backward
    ctx.refuse(NEVER_STEPS.format(loop=loop), backward[0] if backward else None)


@dataclass
class Backward:
    loss: cst.BaseExpression
    scaled: bool
    extra_args: list[cst.Arg]


@dataclass
class Step:
    optimizer: str
    scaled: bool
    closure: cst.BaseExpression | None


def backward_of(ctx: Ctx, node: cst.CSTNode) -> Backward | None:
    if not isinstance(node, cst.Call):
        return None
    if ctx.imports.is_(node.func, "torch.autograd.backward"):
        # checked first: `torch.autograd.backward(loss)` is also a method-style call on `torch.autograd`
        return _autograd_backward(node)
    if call_name(node) == "backward" and isinstance(node.func, cst.Attribute):
        receiver = node.func.value
        if isinstance(receiver, cst.Call) and call_name(receiver) == "scale" and receiver.args:
            if isinstance(receiver.func, cst.Attribute) and ctx.is_scaler(
                dotted(receiver.func.value)
            ):
                return Backward(receiver.args[0].value, True, list(node.args))
        return Backward(receiver, False, list(node.args))
    return None


def _autograd_backward(node: cst.Call) -> Backward | None:
    """`torch.autograd.backward(tensors, ...)`: the loss is the tensor, or the sum of a list of them."""
    tensors = next((a for a in node.args if a.keyword and a.keyword.value == "tensors"), None)
    if tensors is None:
        tensors = node.args[0] if node.args and node.args[0].keyword is None else None
    if tensors is None:
        return None
    rest = [a for a in node.args if a is not tensors]
    loss = tensors.value
    if isinstance(loss, (cst.List, cst.Tuple)):
        parts = [element.value for element in loss.elements]
        if not parts or any(isinstance(part, cst.StarredElement) for part in parts):
            return None
        # gradients of several tensors add up: they are the gradients of their sum
        loss = parts[0] if len(parts) == 1 else _sum(parts)
    return Backward(loss, False, rest)


def _sum(parts: list[cst.BaseExpression]) -> cst.BaseExpression:
    total = parts[0]
    for part in parts[1:]:
        total = cst.BinaryOperation(total, cst.Add(), part)
    return total


def step_of(ctx: Ctx, node: cst.CSTNode) -> Step | None:
    if (
        not isinstance(node, cst.Call)
        or call_name(node) != "step"
        or not isinstance(node.func, cst.Attribute)
    ):
        return None
    receiver = dotted(node.func.value)
    if ctx.is_scaler(receiver) and node.args:
        optimizer = dotted(node.args[0].value)
        return Step(optimizer, True, None) if optimizer is not None else None
    if ctx.is_optimizer(receiver):
        assert receiver is not None
        closure = node.args[0].value if node.args else None
        return Step(receiver, False, closure)
    return None


def zero_grad_of(ctx: Ctx, node: cst.CSTNode) -> str | None:
    """`optimizer.zero_grad()` or `model.zero_grad()`: the name it is called on."""
    if (
        isinstance(node, cst.Call)
        and call_name(node) == "zero_grad"
        and isinstance(node.func, cst.Attribute)
    ):
        receiver = dotted(node.func.value) or root_name(node.func.value)
        if receiver is not None and (
            ctx.is_optimizer(receiver) or ctx.is_model(root_name(node.func.value) or "")
        ):
            return receiver
    return None


def scaler_call(ctx: Ctx, node: cst.CSTNode) -> str | None:
    """`scaler.update()` / `scaler.unscale_(opt)`: GradScaler bookkeeping that Lightning's precision does."""
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and ctx.is_scaler(dotted(node.func.value))
    ):
        if node.func.attr.value in ("update", "unscale_"):
            return node.func.attr.value
    return None


class _Calls(cst.CSTVisitor):
    def __init__(self) -> None:
        self.calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return True


def calls_in(nodes: Iterable[cst.CSTNode]) -> list[cst.Call]:
    collector = _Calls()
    for node in nodes:
        node.visit(collector)
    return collector.calls


def discover_optimizers(ctx: Ctx, statements: list[cst.BaseStatement]) -> None:
    """Objects stepped in the loop that were not built by `torch.optim.X(...)` (custom or factory-made)."""
    calls = calls_in(statements)
    zeroed = {
        dotted(c.func.value)
        for c in calls
        if call_name(c) == "zero_grad" and isinstance(c.func, cst.Attribute)
    }
    scaled = {
        dotted(c.args[0].value)
        for c in calls
        if call_name(c) == "step"
        and c.args
        and isinstance(c.func, cst.Attribute)
        and ctx.is_scaler(dotted(c.func.value))
    }
    for call in calls:
        if call_name(call) != "step" or not isinstance(call.func, cst.Attribute):
            continue
        name = dotted(call.func.value)
        if name is None or ctx.is_optimizer(name) or ctx.is_scheduler(name) or ctx.is_scaler(name):
            continue
        if name in zeroed or name in scaled or "optim" in name.lower():
            binding = ctx.facts.last(name)
            if binding is None:
                ctx.refuse(f"cannot find where the optimizer `{name}` is created", call)
            ctx.facts.optimizers[name] = binding
            _learn_models(ctx, binding)
    for name in scaled:
        last = ctx.facts.last(name) if name is not None else None
        if name is not None and name not in ctx.facts.optimizers and last is not None:
            ctx.facts.optimizers[name] = last


def _learn_models(ctx: Ctx, binding: Binding) -> None:
    from litgen.convert.facts import _learn_models as learn

    learn(ctx.script, ctx.facts, binding)


def discover_schedulers(ctx: Ctx, statements: list[cst.BaseStatement]) -> None:
    """Schedulers built by other libraries (e.g. warmup helpers): stepped, and built around an optimizer."""
    for call in calls_in(statements):
        if call_name(call) != "step" or not isinstance(call.func, cst.Attribute):
            continue
        name = dotted(call.func.value)
        if name is None or ctx.is_optimizer(name) or ctx.is_scheduler(name) or ctx.is_scaler(name):
            continue
        binding = ctx.facts.last(name)
        if binding is not None and isinstance(binding.value, cst.Call) and binding.value.args:
            if ctx.is_optimizer(dotted(binding.value.args[0].value)):
                ctx.facts.schedulers[name] = binding


def refuse_rebuilt_optimizers(ctx: Ctx, statements: Iterable[cst.CSTNode]) -> None:
    """Refuse an optimizer built again inside the epoch loop: Lightning builds each one once."""
    for statement in statements:
        rebuilt = sorted(set(usage([statement]).assigned) & set(ctx.facts.optimizers))
        if rebuilt:
            where = next(
                (
                    assign
                    for assign in find(statement, cst.Assign)
                    if any(rebuilt[0] in target_names(t.target) for t in assign.targets)
                ),
                statement,
            )
            ctx.refuse(
                f"`{rebuilt[0]}` is built again inside the epoch loop (a new optimizer with fresh "
                "state); Lightning builds optimizers once, in configure_optimizers: change the "
                "learning rate with a scheduler (for example MultiStepLR or LambdaLR) instead",
                where,
            )


def refuse_without_a_model(ctx: Ctx) -> None:
    """Refuse a loop whose optimizer trains no model litgen found."""
    if ctx.facts.models:
        return
    built = next(iter(ctx.facts.optimizers.values()), None)
    ctx.refuse(
        "cannot tell which nn.Module the optimizer trains: litgen follows an optimizer built from "
        "`model.parameters()` in the function that trains, or passed to it by its caller, not one "
        "returned by another function",
        built.statement if built is not None else None,
    )
