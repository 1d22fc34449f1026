"""Hand-written parameter updates that equal an optimizer are rewritten to that optimizer before analysis.

The "nn from scratch" shape updates every parameter of a model by hand after `backward()`:

    with torch.no_grad():
        for p in model.parameters():
            p -= lr * p.grad
        model.zero_grad()

That is exactly one step of `torch.optim.SGD(model.parameters(), lr=lr)` (no momentum, no weight
decay), so the script is rewritten to create that optimizer before its training loop and call
`optimizer.step()` where it updated the parameters; the converter then handles it like any other
optimizer loop. Anything else (a learning rate the loop changes, updates of only some tensors,
other arithmetic) is left alone, and the converter refuses it as before.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.metadata import MetadataWrapper, PositionProvider

from litgen.convert.names import ImportTable, block_statements, code, fresh_name, usage
from litgen.convert.substitute import StatementResult

_LOOP_OVER_PARAMETERS = re.compile(r"for\s+\w+\s+in\s+[\w.]+\.parameters\(\)\s*:")


@dataclass(frozen=True)
class Desugared:
    """The rewritten source, what was rewritten (for the report), and new line -> original line."""

    source: str
    module: cst.Module
    notes: tuple[tuple[int, str, str], ...]  # (line, construct, what it became) for the report
    original_line: dict[int, int]


@dataclass(frozen=True)
class _Update:
    block: cst.With | cst.For  # the statement that updates the parameters
    model: cst.BaseExpression  # what `.parameters()` is called on
    lr: cst.BaseExpression
    zeroes_grads: bool  # the update loop also zeroes each parameter's gradient


def desugar(source: str, module: cst.Module, imports: ImportTable) -> Desugared | None:
    """The script with hand-written SGD updates replaced by an optimizer, or None when there are none."""
    torch = next((local for local, full in imports.aliases.items() if full == "torch"), None)
    if torch is None or not _LOOP_OVER_PARAMETERS.search(source):
        return None  # the common case, decided without walking the tree
    finder = _UpdateFinder(imports)
    module.visit(finder)
    # several update sites: leave the script alone (it is refused later)
    if len(finder.updates) != 1:
        return None
    update = finder.updates[0]
    loop = finder.outer_loops[id(update.block)]
    if loop is None or set(usage([update.lr]).read) & usage([loop]).assigned:
        return None  # outside any loop, or a learning rate the loop changes: not one optimizer
    taken = {n.value for n in m.findall(module, m.Name()) if isinstance(n, cst.Name)}
    name = fresh_name("optimizer", taken)
    create = cst.parse_statement(
        f"{name} = {torch}.optim.SGD({code(update.model)}.parameters(), lr={code(update.lr)})\n"
    )
    rewritten = module.visit(_Rewriter(update, loop, create, name))
    assert isinstance(rewritten, cst.Module)
    new_source = rewritten.code
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    line = positions[update.block].start.line
    note = f"hand-written update of `{code(update.model)}`'s parameters"
    target = f"{torch}.optim.SGD(..., lr={code(update.lr)}) built in configure_optimizers"
    return Desugared(new_source, rewritten, ((line, note, target),), line_map(source, new_source))


def line_map(old: str, new: str) -> dict[int, int]:
    """Each line of the rewritten source -> the original line it comes from (or the one it replaces)."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    mapping: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for offset, new_index in enumerate(range(j1, j2)):
            # a new line belongs to the line before it (it runs before what follows)
            if tag == "insert":
                mapping[new_index + 1] = max(i1, 1)
            else:
                old_index = i1 + offset if tag == "equal" else min(i1 + offset, max(i2 - 1, i1))
                mapping[new_index + 1] = min(old_index, len(old_lines) - 1) + 1
    return mapping


def _grad_of(node: cst.BaseExpression, param: str) -> bool:
    """`p.grad` or `p.grad.data`."""
    return m.matches(node, m.Attribute(value=m.Name(param), attr=m.Name("grad"))) or m.matches(
        node,
        m.Attribute(
            value=m.Attribute(value=m.Name(param), attr=m.Name("grad")), attr=m.Name("data")
        ),
    )


def _scaled_grad(node: cst.BaseExpression, param: str) -> cst.BaseExpression | None:
    """`lr * p.grad` or `p.grad * lr` -> lr."""
    if not isinstance(node, cst.BinaryOperation) or not isinstance(node.operator, cst.Multiply):
        return None
    if _grad_of(node.right, param) and param not in usage([node.left]).read:
        return node.left
    if _grad_of(node.left, param) and param not in usage([node.right]).read:
        return node.right
    return None


def _negated(node: cst.BaseExpression, param: str) -> cst.BaseExpression | None:
    """`-lr * p.grad`, `p.grad * -lr` or `-(lr * p.grad)` -> lr."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        return _scaled_grad(node.expression, param)
    rate = _scaled_grad(node, param)
    if isinstance(rate, cst.UnaryOperation) and isinstance(rate.operator, cst.Minus):
        return rate.expression
    return None


def _is_param(node: cst.BaseExpression, param: str) -> bool:
    """`p` or `p.data`."""
    return m.matches(node, m.Name(param) | m.Attribute(value=m.Name(param), attr=m.Name("data")))


def _update_rate(statement: cst.BaseSmallStatement, param: str) -> cst.BaseExpression | None:
    """The learning rate of `p -= lr * p.grad`, `p.sub_(lr * p.grad)`, `p.add_(-lr * p.grad)`,
    `p.add_(p.grad, alpha=-lr)`."""
    if isinstance(statement, cst.AugAssign) and isinstance(statement.operator, cst.SubtractAssign):
        return _scaled_grad(statement.value, param) if _is_param(statement.target, param) else None
    if not isinstance(statement, cst.Expr) or not isinstance(statement.value, cst.Call):
        return None
    call = statement.value
    if not isinstance(call.func, cst.Attribute) or not _is_param(call.func.value, param):
        return None
    method, args = call.func.attr.value, call.args
    if method == "sub_" and len(args) == 1 and args[0].keyword is None:
        return _scaled_grad(args[0].value, param)
    if method == "add_" and len(args) == 1 and args[0].keyword is None:
        return _negated(args[0].value, param)
    if method == "add_" and len(args) == 2 and _grad_of(args[0].value, param):
        alpha = args[1]
        if (
            alpha.keyword is not None
            and alpha.keyword.value == "alpha"
            and isinstance(alpha.value, cst.UnaryOperation)
        ):
            if isinstance(alpha.value.operator, cst.Minus):
                return alpha.value.expression
    return None


def _zeroes_grad(statement: cst.BaseSmallStatement, param: str) -> bool:
    """`p.grad.zero_()`, `p.grad.data.zero_()` or `p.grad = None`."""
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
        return _grad_of(statement.targets[0].target, param) and m.matches(
            statement.value, m.Name("None")
        )
    if isinstance(statement, cst.Expr) and m.matches(
        statement.value, m.Call(func=m.Attribute(attr=m.Name("zero_")), args=[])
    ):
        call = statement.value
        assert isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
        return _grad_of(call.func.value, param)
    return False


def _is_zero_grad_call(statement: cst.BaseStatement) -> bool:
    return m.matches(
        statement,
        m.SimpleStatementLine(
            body=[m.Expr(value=m.Call(func=m.Attribute(attr=m.Name("zero_grad"))))]
        ),
    )


class _UpdateFinder(cst.CSTVisitor):
    """`for p in model.parameters(): <one SGD update of p>` (under `torch.no_grad()` unless it uses `.data`)."""

    def __init__(self, imports: ImportTable) -> None:
        self.imports = imports
        self.updates: list[_Update] = []
        self.outer_loops: dict[int, cst.For | cst.While | None] = {}
        self._loops: list[cst.For | cst.While] = []
        self._no_grad: list[cst.With] = []

    def visit_With(self, node: cst.With) -> None:
        if any(
            isinstance(i.item, cst.Call) and self.imports.is_(i.item.func, "torch.no_grad")
            for i in node.items
        ):
            self._no_grad.append(node)

    def leave_With(self, original_node: cst.With) -> None:
        if self._no_grad and self._no_grad[-1] is original_node:
            self._no_grad.pop()

    def visit_While(self, node: cst.While) -> None:
        self._loops.append(node)

    def leave_While(self, original_node: cst.While) -> None:
        self._loops.pop()

    def visit_For(self, node: cst.For) -> None:
        update = self._update(node)
        if update is not None:
            self.updates.append(update)
            self.outer_loops[id(update.block)] = self._loops[0] if self._loops else None
        self._loops.append(node)

    def leave_For(self, original_node: cst.For) -> None:
        self._loops.pop()

    def _update(self, node: cst.For) -> _Update | None:
        call = node.iter
        if not isinstance(node.target, cst.Name) or not m.matches(
            call, m.Call(func=m.Attribute(attr=m.Name("parameters")), args=[])
        ):
            return None
        param = node.target.value
        smalls = [
            s
            for line in node.body.body
            if isinstance(line, cst.SimpleStatementLine)
            for s in line.body
        ]
        if len(smalls) != sum(
            len(line.body) for line in node.body.body if isinstance(line, cst.SimpleStatementLine)
        ):
            return None
        if len(smalls) != len(node.body.body) or not smalls:  # compound statements in the loop
            return None
        rates = [rate for rate in (_update_rate(s, param) for s in smalls) if rate is not None]
        zeroing = [s for s in smalls if _zeroes_grad(s, param)]
        if len(rates) != 1 or len(rates) + len(zeroing) != len(smalls):
            return None
        uses_data = "data" in code(node.body)
        if not self._no_grad and not uses_data:
            return None
        block: cst.With | cst.For = node
        if self._no_grad and node in self._no_grad[-1].body.body:
            others = [
                s
                for s in self._no_grad[-1].body.body
                if s is not node and isinstance(s, cst.BaseStatement)
            ]
            if all(_is_zero_grad_call(s) for s in others):  # nothing else needs the no_grad block
                block = self._no_grad[-1]
        assert isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute)
        return _Update(block, call.func.value, rates[0], bool(zeroing))


class _Rewriter(cst.CSTTransformer):
    def __init__(
        self, update: _Update, loop: cst.For | cst.While, create: cst.BaseStatement, name: str
    ) -> None:
        self.update = update
        self.loop = loop
        self.create = create
        self.name = name

    def _step(self) -> list[cst.BaseStatement]:
        statements: list[cst.BaseStatement] = [cst.parse_statement(f"{self.name}.step()\n")]
        if self.update.zeroes_grads:
            statements.append(cst.parse_statement(f"{self.name}.zero_grad()\n"))
        return statements

    def leave_For(self, original_node: cst.For, updated_node: cst.For) -> StatementResult:
        if original_node is self.update.block or (
            isinstance(self.update.block, cst.With) and original_node in self.update.block.body.body
        ):
            step = self._step()
            step[0] = step[0].with_changes(leading_lines=original_node.leading_lines)
            return cst.FlattenSentinel(step)
        return self._create_before_the_loop(original_node, updated_node)

    def leave_While(self, original_node: cst.While, updated_node: cst.While) -> StatementResult:
        return self._create_before_the_loop(original_node, updated_node)

    def _create_before_the_loop(
        self, original_node: cst.For | cst.While, updated_node: cst.For | cst.While
    ) -> StatementResult:
        """The training loop is preceded by the optimizer's creation, which takes its leading lines."""
        if original_node is self.loop:
            return cst.FlattenSentinel(
                [
                    self.create.with_changes(leading_lines=original_node.leading_lines),
                    updated_node.with_changes(leading_lines=[]),
                ]
            )
        return updated_node

    def leave_With(self, original_node: cst.With, updated_node: cst.With) -> StatementResult:
        if original_node is not self.update.block:
            return updated_node
        body = block_statements(updated_node.body)
        body[0] = body[0].with_changes(leading_lines=original_node.leading_lines)
        # `optimizer.step()` and the zero_grad call need no no_grad block
        return cst.FlattenSentinel(body)
