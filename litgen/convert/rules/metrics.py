"""Evaluation metrics: the sums a script accumulates over a loader become `self.log(...)` calls."""

from __future__ import annotations

import re
from collections.abc import Sequence

import libcst as cst
import libcst.matchers as m

from litgen.convert.names import bound_values, call_name, usage
from litgen.convert.symbols import Symbols

_PREFIXES = re.compile(r"^(val|valid|validation|test|eval|avg|mean|total|sum|running|epoch)_")
_COUNT_METHODS = ("size", "numel", "__len__")
# what a printed mean of a sum is called when the sum's own name says what it counts
_MEAN_NAMES = {
    "correct": "acc",
    "n_correct": "acc",
    "num_correct": "acc",
    "hits": "acc",
    "num_hits": "acc",
}


class _AugAssigns(cst.CSTVisitor):
    def __init__(self) -> None:
        self.sums: dict[str, cst.AugAssign] = {}

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Name) and isinstance(node.operator, cst.AddAssign):
            self.sums.setdefault(node.target.value, node)


def _is_count(value: cst.BaseExpression) -> bool:
    """`total += y.size(0)`, `n += len(y)`, `batches += 1`: counters are not metrics."""
    if isinstance(value, cst.Integer):
        return True
    if isinstance(value, cst.Call) and (
        call_name(value) in _COUNT_METHODS or call_name(value) == "len"
    ):
        return True
    if (
        isinstance(value, cst.Subscript)
        and isinstance(value.value, cst.Attribute)
        and value.value.attr.value == "shape"
    ):
        return True
    return False


def _numeric_inits(statements: Sequence[cst.BaseStatement]) -> set[str]:
    names: set[str] = set()
    for statement in statements:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if not isinstance(small, cst.Assign):
                continue
            for target in small.targets:
                names |= {
                    name
                    for name, value in bound_values(target.target, small.value)
                    if isinstance(value, (cst.Integer, cst.Float))
                }
    return names


def metric_key(stage: str, name: str, taken: set[str]) -> str:
    base = _PREFIXES.sub("", name) or name
    key = f"{stage}_{base}"
    number = 1
    while key in taken:
        number += 1
        key = f"{stage}_{base}_{number}"
    taken.add(key)
    return key


def metric_logs(
    step: Sequence[cst.BaseStatement],
    start: Sequence[cst.BaseStatement],
    end: Sequence[cst.BaseStatement],
    stage: str,
    symbols: Symbols,
) -> list[cst.BaseStatement]:
    """`self.log(...)` for each summed metric and each value derived from them at the end of the pass."""
    sums = _AugAssigns()
    for statement in step:
        statement.visit(sums)
    initialised = _numeric_inits(start)
    accumulators = [
        n for n, node in sums.sums.items() if n in initialised and not _is_count(node.value)
    ]
    if not accumulators:
        return []
    derived: list[str] = []
    for statement in end:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                for name, value in bound_values(small.targets[0].target, small.value):
                    numeric = isinstance(
                        value, (cst.BinaryOperation, cst.UnaryOperation)
                    ) or call_name(value) in (
                        "float",
                        "round",
                        "int",
                    )
                    if (
                        numeric
                        and set(usage([value]).read) & set(accumulators)
                        and name not in accumulators
                    ):
                        derived.append(name)
    taken: set[str] = set()
    logs: list[cst.BaseStatement] = []
    for name in derived:
        logs.append(
            cst.parse_statement(
                f'self.log("{metric_key(stage, symbols.readable(name), taken)}", {name})'
            )
        )
    for name, mean in [] if derived else _printed_means(end, accumulators):
        # correct / total is an accuracy
        named = _MEAN_NAMES.get(symbols.readable(name), symbols.readable(name))
        logs.append(cst.parse_statement(f'self.log("{metric_key(stage, named, taken)}", {mean})'))
    if not logs:  # the sums themselves only when the pass derives and prints no mean from them
        divided = _divided_in_place(end)
        for name in accumulators:
            named = (
                _MEAN_NAMES.get(symbols.readable(name), symbols.readable(name))
                if name in divided
                else symbols.readable(name)
            )
            logs.append(
                cst.parse_statement(f'self.log("{metric_key(stage, named, taken)}", {name})')
            )
    return logs


def _divided_in_place(end: Sequence[cst.BaseStatement]) -> set[str]:
    """`correct /= size`: sums the end of the pass turns into means."""
    return {
        node.target.value
        for statement in end
        for node in m.findall(statement, m.AugAssign(target=m.Name(), operator=m.DivideAssign()))
        if isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name)
    }


def _printed_means(
    end: Sequence[cst.BaseStatement], accumulators: list[str]
) -> list[tuple[str, str]]:
    """`print(f"... {total_loss / batches:.4f}")`: the mean the script prints, named after its sum."""
    means: list[tuple[str, str]] = []
    for statement in end:
        for call in m.findall(statement, m.Call(func=m.Name("print"))):
            for division in m.findall(call, m.BinaryOperation(operator=m.Divide())):
                assert isinstance(division, cst.BinaryOperation)
                summed = [n for n in usage([division.left]).free if n in accumulators]
                text = cst.Module([]).code_for_node(division.with_changes(lpar=[], rpar=[]))
                if summed and all(text != known for _, known in means):
                    means.append((summed[0], text))
    return means


def insert_logs(
    end: Sequence[cst.BaseStatement], logs: list[cst.BaseStatement]
) -> list[cst.BaseStatement]:
    """Put the logs right after the last statement that computes a logged value (before any early stop)."""
    if not logs:
        return list(end)
    logged = {code_of_value(log) for log in logs}
    position = 0
    for index, statement in enumerate(end):
        if usage([statement]).assigned & logged:
            position = index + 1
    return [*end[:position], *logs, *end[position:]]


def code_of_value(log: cst.BaseStatement) -> str:
    small = log.body[0] if isinstance(log, cst.SimpleStatementLine) else None
    assert isinstance(small, cst.Expr) and isinstance(small.value, cst.Call), "not a self.log(...)"
    return cst.Module([]).code_for_node(small.value.args[1].value)
