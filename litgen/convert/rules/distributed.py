"""Distributed plumbing (process groups, samplers, DDP wrappers, spawn, rank checks) -> strategy="ddp"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import libcst as cst

from litgen.convert.names import HasImports

if TYPE_CHECKING:
    from litgen.convert.script import Script

DDP_WRAPPERS = (
    "torch.nn.parallel.DistributedDataParallel",
    "torch.nn.parallel.distributed.DistributedDataParallel",
)
# one process driving several GPUs: not distributed, and nothing in Lightning replaces it one to one
DATA_PARALLEL = (
    "torch.nn.DataParallel",
    "torch.nn.parallel.DataParallel",
    "torch.nn.parallel.data_parallel.DataParallel",
)
PARALLEL_WRAPPERS = DDP_WRAPPERS + DATA_PARALLEL
DATA_PARALLEL_NOTE = (
    "removed nn.DataParallel (one process driving every GPU): Lightning places the model itself. With "
    "Trainer(devices=N) on N GPUs it runs DDP, one process per device, each loading its own batches, so the "
    "batch per optimizer step is N times batch_size (divide batch_size by N to keep the script's)"
)


def unwrap_parallel(ctx: HasImports, expression: cst.BaseExpression) -> cst.BaseExpression:
    """`DDP(model, device_ids=[rank])` -> `model`: Lightning wraps the model itself."""
    while (
        isinstance(expression, cst.Call)
        and ctx.imports.qualify(expression.func) in PARALLEL_WRAPPERS
    ):
        if not expression.args:
            break
        expression = expression.args[0].value
    return expression


PLUMBING_CALLS = (
    "torch.distributed.init_process_group",
    "torch.distributed.destroy_process_group",
    "torch.distributed.barrier",
    "torch.cuda.set_device",
    "torch.distributed.distributed_c10d.init_process_group",
)
SPAWNS = (
    "torch.multiprocessing.spawn",
    "torch.multiprocessing.spawn.spawn",
    "torch.multiprocessing.start_processes",
)
SAMPLERS = (
    "torch.utils.data.distributed.DistributedSampler",
    "torch.utils.data.DistributedSampler",
)
RANK_SOURCES = ("torch.distributed.get_rank",)


def is_plumbing_call(ctx: HasImports, node: cst.CSTNode) -> bool:
    """`dist.init_process_group(...)`, `dist.barrier()`, `torch.cuda.set_device(rank)`, ..."""
    return isinstance(node, cst.Call) and ctx.imports.qualify(node.func) in PLUMBING_CALLS


def is_environment_setting(node: cst.CSTNode) -> bool:
    """`os.environ["MASTER_PORT"] = "12355"` (or MASTER_ADDR, WORLD_SIZE, RANK)."""
    if not isinstance(node, cst.Assign) or len(node.targets) != 1:
        return False
    target = node.targets[0].target
    return (
        isinstance(target, cst.Subscript)
        and cst.Module([]).code_for_node(target.value) == "os.environ"
    )


def is_plumbing_statement(
    ctx: HasImports, statement: cst.CSTNode, plumbing_functions: set[str]
) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if isinstance(small, cst.Expr) and is_plumbing_call(ctx, small.value):
            continue
        if (
            isinstance(small, cst.Expr)
            and isinstance(small.value, cst.Call)
            and isinstance(small.value.func, cst.Name)
        ):
            if small.value.func.value in plumbing_functions:
                continue
        return False
    return True


def plumbing_functions(script: Script) -> set[str]:
    """User functions that only set up or tear down the process group (`setup(rank, world)`, `cleanup()`)."""
    found: set[str] = set()
    ctx = script
    for name, function in script.functions.items():
        body = [s for s in function.body.body if not _is_docstring(s)]
        if not body:
            continue
        plumbing = any(is_plumbing_statement(ctx, s, set()) for s in body)
        if plumbing and all(
            is_plumbing_statement(ctx, s, set())
            or (
                isinstance(s, cst.SimpleStatementLine)
                and all(is_environment_setting(x) for x in s.body)
            )
            for s in body
        ):
            found.add(name)
    return found


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def spawned(ctx: HasImports, call: cst.CSTNode) -> tuple[str, list[cst.BaseExpression]] | None:
    """`mp.spawn(train, args=(a, b), nprocs=n)` -> ("train", [a, b])."""
    if (
        not isinstance(call, cst.Call)
        or ctx.imports.qualify(call.func) not in SPAWNS
        or not call.args
    ):
        return None
    function = call.args[0].value
    if not isinstance(function, cst.Name):
        return None
    arguments: list[cst.BaseExpression] = []
    for arg in call.args[1:]:
        if (
            arg.keyword is not None
            and arg.keyword.value == "args"
            and isinstance(arg.value, (cst.Tuple, cst.List))
        ):
            arguments = [element.value for element in arg.value.elements]
    return function.value, arguments


def sampler_shuffle(ctx: HasImports, value: cst.BaseExpression) -> cst.BaseExpression | None:
    """For `DistributedSampler(dataset, shuffle=...)` the shuffle it used (True by default); None otherwise."""
    if not isinstance(value, cst.Call) or ctx.imports.qualify(value.func) not in SAMPLERS:
        return None
    for arg in value.args:
        if arg.keyword is not None and arg.keyword.value == "shuffle":
            return arg.value
    return cst.Name("True")


def rank_kind(value: cst.BaseExpression) -> str:
    """The LightningModule/Trainer attribute that replaces a rank variable read from `value`."""
    return "local_rank" if "LOCAL_RANK" in cst.Module([]).code_for_node(value) else "global_rank"


def is_rank_source(ctx: HasImports, value: cst.BaseExpression) -> bool:
    """`dist.get_rank()`, `int(os.environ["LOCAL_RANK"])`, `int(os.environ.get("RANK", 0))`."""
    text = cst.Module([]).code_for_node(value)
    if isinstance(value, cst.Call) and ctx.imports.qualify(value.func) in RANK_SOURCES:
        return True
    return "os.environ" in text and "RANK" in text


def spawn_replacement(
    ctx: HasImports, statement: cst.SimpleStatementLine
) -> cst.SimpleStatementLine | None:
    """`mp.spawn(train, args=(a, b), nprocs=n)` -> `train(0, a, b)`: Lightning starts the other processes."""
    small = statement.body[0]
    target = spawned(ctx, small.value) if isinstance(small, cst.Expr) else None
    if target is None:
        return None
    function, arguments = target
    args = ", ".join(["0", *[cst.Module([]).code_for_node(a) for a in arguments]])
    return statement.with_changes(body=[cst.Expr(cst.parse_expression(f"{function}({args})"))])


def without_sampler(
    ctx: HasImports, call: cst.Call, samplers: Mapping[str, cst.BaseExpression]
) -> cst.Call | None:
    """`DataLoader(ds, sampler=sampler)` -> `DataLoader(ds, shuffle=True)` when the sampler was distributed."""
    args = list(call.args)
    for index, arg in enumerate(args):
        if arg.keyword is None or arg.keyword.value != "sampler":
            continue
        value = arg.value
        shuffle = (
            samplers.get(value.value)
            if isinstance(value, cst.Name)
            else sampler_shuffle(ctx, value)
        )
        if shuffle is None:
            return None
        kept = [
            a
            for i, a in enumerate(args)
            if i != index and not (a.keyword and a.keyword.value == "shuffle")
        ]
        shuffle_arg = cst.Arg(
            keyword=cst.Name("shuffle"),
            value=shuffle,
            equal=cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""),
                whitespace_after=cst.SimpleWhitespace(""),
            ),
        )
        kept.append(shuffle_arg)
        kept = [
            *[
                a.with_changes(
                    comma=a.comma
                    if a.comma != cst.MaybeSentinel.DEFAULT
                    else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                )
                for a in kept[:-1]
            ],
            kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT),
        ]
        return call.with_changes(args=kept)
    return None


class ModuleAttributeStripper(cst.CSTTransformer):
    """`model.module` -> `model` for models that were wrapped in DDP/DataParallel (the wrapper is gone)."""

    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        if updated_node.attr.value == "module" and isinstance(updated_node.value, cst.Name):
            if updated_node.value.value in self.names:
                return updated_node.value
        return updated_node


def strip_module_attribute(node: cst.CSTNode, names: set[str]) -> cst.CSTNode:
    if not names or "module" not in cst.Module([]).code_for_node(node):
        return node
    stripped = node.visit(ModuleAttributeStripper(names))
    assert isinstance(stripped, cst.CSTNode)
    return stripped
