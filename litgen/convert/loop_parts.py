"""The loop parts the epoch planner maps: how a batch loop binds `training_step`'s arguments, the
set-up and summary around an evaluation pass, and the epoch count of the epoch loop."""

from __future__ import annotations

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.facts import unwrap_iterable
from litgen.convert.inline import Flattener, LoopItem, Seg
from litgen.convert.names import code, fresh_name, target_names, usage
from litgen.convert.plan import ModulePlan
from litgen.convert.rules.device import mode_switch_of
from litgen.convert.rules.loaders import checked_loader
from litgen.convert.step import BatchBinding
from litgen.convert.structure import Shape


def bind_batch(
    ctx: Ctx, item: LoopItem | None, taken: set[str]
) -> tuple[BatchBinding, cst.BaseExpression]:
    """How the loop target maps onto `training_step(self, batch, batch_idx)`, and the loader it walks."""
    if item is None:
        return BatchBinding(
            fresh_name("batch", taken), fresh_name("batch_idx", taken)
        ), cst.parse_expression("range(1)")
    if not isinstance(item.node, cst.For) or item.target is None or item.iterable is None:
        ctx.refuse(
            "a `while` loop over batches cannot be converted; iterate over a DataLoader", item.node
        )
    loader, enumerate_call = unwrap_iterable(ctx.script, item.iterable)
    target: cst.BaseExpression = item.target
    binding = BatchBinding("", "")
    if enumerate_call is not None:
        if not isinstance(target, (cst.Tuple, cst.List)) or len(target.elements) != 2:
            ctx.refuse("cannot unpack the `enumerate(...)` loop target", item.node)
        index_target, target = target.elements[0].value, target.elements[1].value
        start = _enumerate_start(enumerate_call)
        if isinstance(index_target, cst.Name) and start is None:
            binding.index_param = index_target.value
        else:
            binding.index_param = fresh_name("batch_idx", taken)
            offset = f" + {code(start)}" if start is not None else ""
            binding.prologue.append(
                cst.parse_statement(f"{code(index_target)} = {binding.index_param}{offset}")
            )
        binding.index_names = set(target_names(index_target))
    else:
        binding.index_param = fresh_name("batch_idx", taken)
    if isinstance(target, cst.Name):
        binding.batch_param = target.value
    else:
        binding.batch_param = fresh_name("batch", taken)
        unpacked = code(
            target.with_changes(lpar=[], rpar=[]) if hasattr(target, "lpar") else target
        )
        binding.prologue.append(cst.parse_statement(f"{unpacked} = {binding.batch_param}"))
    binding.batch_names = set(target_names(target)) | {binding.batch_param}
    return binding, checked_loader(ctx, loader, item.line)


def _enumerate_start(call: cst.Call) -> cst.BaseExpression | None:
    for position, arg in enumerate(call.args):
        if (arg.keyword is not None and arg.keyword.value == "start") or (
            arg.keyword is None and position == 1
        ):
            if isinstance(arg.value, cst.Integer) and arg.value.value == "0":
                return None
            return arg.value
    return None


def log_call(statement: cst.CSTNode) -> tuple[str, str] | None:
    """(key, value code) of a `self.log("key", value)` statement."""
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if (
            isinstance(small, cst.Expr)
            and isinstance(small.value, cst.Call)
            and code(small.value.func) == "self.log"
        ):
            args = small.value.args
            if len(args) >= 2 and isinstance(args[0].value, cst.SimpleString):
                return str(args[0].value.evaluated_value), code(args[1].value)
    return None


def split_unit(
    before: list[Seg], rest: list[Seg], item: LoopItem, flattener: Flattener
) -> tuple[list[Seg], list[Seg]]:
    """The statements that belong to an evaluation pass: set-up before its loop and the summary after it."""
    if item.env.scope != 0:
        prelude: list[Seg] = []
        for seg in reversed(before):
            if seg.scope != item.env.scope:
                break
            prelude.insert(0, seg)
        epilogue = []
        for seg in rest:
            if seg.scope != item.env.scope:
                break
            epilogue.append(seg)
        return prelude, epilogue
    # what runs before the loop belongs to the pass when the loop or its summary reads it: Lightning
    # runs on_train_epoch_end after the validation epoch, too late for the summary
    summary_reads = {
        n for seg in _summary(rest, usage([item.node]).assigned) for n in usage([seg.node]).read
    }
    reads = set(usage([item.node]).free) | summary_reads
    prelude = []
    for seg in reversed(before):
        assigned = usage([seg.node]).assigned
        if not (assigned & reads) and not _switches_to_eval(seg.node):
            break
        prelude.insert(0, seg)
    produced = usage([item.node]).assigned | {n for s in prelude for n in usage([s.node]).assigned}
    return prelude, _summary(rest, produced)


def _summary(rest: list[Seg], produced: set[str]) -> list[Seg]:
    """The statements after an evaluation loop that read what it (or its set-up) produced."""
    produced = set(produced)
    epilogue = []
    for seg in rest:
        names = usage([seg.node])
        if not (set(names.read) & produced):
            break
        epilogue.append(seg)
        produced |= names.assigned
    return epilogue


def _switches_to_eval(statement: cst.CSTNode) -> bool:
    """`model.eval()` or `model.train(False)` as a statement: it opens an evaluation pass."""
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            return mode_switch_of(small.value) == "eval"
    return False


def epoch_count(stop: cst.BaseExpression, start: cst.BaseExpression) -> cst.BaseExpression:
    """range(start, stop) has stop - start epochs; `range(1, E + 1)`, `range(s, s + E)` -> E."""
    if isinstance(stop, cst.BinaryOperation) and isinstance(stop.operator, cst.Add):
        if code(stop.right).strip() == code(start).strip():
            return stop.left
        if code(stop.left).strip() == code(start).strip():
            return stop.right
    if isinstance(stop, cst.Integer) and isinstance(start, cst.Integer):
        return cst.Integer(str(int(stop.value) - int(start.value)))
    return cst.parse_expression(f"{code(stop)} - {_wrap(start)}")


def _wrap(expression: cst.BaseExpression) -> str:
    text = code(expression)
    return (
        f"({text})"
        if isinstance(expression, (cst.BinaryOperation, cst.IfExp, cst.BooleanOperation))
        else text
    )


def plan_epochs(ctx: Ctx, plan: ModulePlan, shape: Shape, item: LoopItem | None) -> None:
    """Trainer(max_epochs=...) and the epoch variable from the epoch loop (None: one pass)."""
    if item is None:
        plan.max_epochs = cst.Integer("1")
        ctx.mapped(
            "one pass over the data (no epoch loop)",
            ctx.line(shape.region),
            "Trainer(max_epochs=1)",
        )
        return
    loop = item.node
    if isinstance(loop, cst.While):
        if not (isinstance(loop.test, cst.Name) and loop.test.value == "True"):
            ctx.refuse(
                "a `while <condition>:` epoch loop; write it as `for epoch in range(...)`", loop
            )
        plan.max_epochs = cst.parse_expression("-1")
        ctx.mapped(
            "while True epoch loop",
            ctx.line(loop),
            "Trainer(max_epochs=-1) until the loop's own stop",
        )
        return
    assert item.iterable is not None and item.target is not None  # a `for` loop
    iterable, _ = unwrap_iterable(ctx.script, item.iterable)
    assert isinstance(iterable, cst.Call)
    args = [a.value for a in iterable.args]
    if ctx.imports.qualify(iterable.func) == "itertools.count":
        plan.max_epochs = cst.parse_expression("-1")
        start = args[0] if args else None
    elif len(args) == 1:
        plan.max_epochs, start = args[0], None
    else:
        start, stop = args[0], args[1]
        plan.max_epochs = epoch_count(stop, start)
    if isinstance(start, cst.Integer) and start.value == "0":
        start = None
    plan.epoch_start = start
    names = target_names(item.target)
    plan.epoch_var = names[0] if len(names) == 1 and names[0] != "_" else None
    ctx.mapped("epoch loop", ctx.line(loop), f"Trainer(max_epochs={code(plan.max_epochs)})")


class _IndexAfterLoop(cst.CSTTransformer):
    """`i + 1` -> the batch count, any other `i` -> the count minus one (the loop's last index)."""

    def __init__(self, index: str, count: str) -> None:
        self.index, self.count = index, count

    def leave_BinaryOperation(
        self, original_node: cst.BinaryOperation, updated_node: cst.BinaryOperation
    ) -> cst.BaseExpression:
        if (
            isinstance(original_node.operator, cst.Add)
            and isinstance(original_node.left, cst.Name)
            and original_node.left.value == self.index
            and code(original_node.right).strip() == "1"
        ):
            return cst.Name(self.count)
        return updated_node

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        if original_node.value != self.index:
            return updated_node
        return cst.parse_expression(f"({self.count} - 1)")


def index_after_loop(
    index_names: set[str], epilogue: list[cst.BaseStatement], taken: set[str]
) -> tuple[str, list[cst.BaseStatement]] | None:
    """The script reads the loop's index after the loop (`total / (i + 1)`): a batch counter the step
    counts up instead, and the summary reading it; None when the summary does not read the index."""
    read = set(usage(epilogue).read) & index_names
    if len(read) != 1:
        return None
    count = fresh_name("batches", taken)
    rewriter = _IndexAfterLoop(read.pop(), count)
    rewritten = [statement.visit(rewriter) for statement in epilogue]
    return count, [s for s in rewritten if isinstance(s, cst.BaseStatement)]
