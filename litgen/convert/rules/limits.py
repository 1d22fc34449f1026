"""`if i >= N: break` at the start or end of a batch loop -> Trainer(limit_train_batches=N / limit_val_batches=N)."""

from __future__ import annotations

import libcst as cst

from litgen.convert.context import Ctx
from litgen.convert.names import code
from litgen.convert.rules.flags import only_breaks

_KEYS = {
    "train": "limit_train_batches",
    "validation": "limit_val_batches",
    "test": "limit_test_batches",
}


def _bound(
    test: cst.BaseExpression, index_names: set[str]
) -> tuple[cst.BaseExpression, int] | None:
    """(N, k) for `i >= N` / `i == N` (k=0) and `i + 1 >= N` / `i + 1 == N` (k=1)."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    comparison = test.comparisons[0]
    if not isinstance(comparison.operator, (cst.GreaterThanEqual, cst.Equal)):
        return None
    left = test.left
    if isinstance(left, cst.Name) and left.value in index_names:
        return comparison.comparator, 0
    if (
        isinstance(left, cst.BinaryOperation)
        and isinstance(left.operator, cst.Add)
        and isinstance(left.left, cst.Name)
        and left.left.value in index_names
        and isinstance(left.right, cst.Integer)
        and left.right.value == "1"
    ):
        return comparison.comparator, 1
    return None


def batch_limit(
    ctx: Ctx, statements: list[cst.BaseStatement], index_names: set[str], stage: str
) -> list[cst.BaseStatement]:
    """Drop a batch-count `break` and record the matching limit_*_batches; other statements untouched."""
    if not statements or not index_names:
        return statements
    for position in (0, len(statements) - 1):
        statement = statements[position]
        if (
            not isinstance(statement, cst.If)
            or statement.orelse is not None
            or not only_breaks(statement.body)
        ):
            continue
        found = _bound(statement.test, index_names)
        if found is None:
            continue
        limit, offset = found
        # at the top the break stops before batch N runs; at the bottom batch N has already run
        extra = (1 if position == len(statements) - 1 else 0) - offset
        if extra == 0:
            value: cst.BaseExpression = limit
        elif isinstance(limit, cst.Integer):
            value = cst.Integer(str(int(limit.value) + extra))
        else:
            value = cst.parse_expression(
                f"{code(limit)} + 1" if extra > 0 else f"{code(limit)} - 1"
            )
        ctx.option(_KEYS[stage], value, ctx.line(statement))
        ctx.mapped(
            "batch-count `break`", ctx.line(statement), f"Trainer({_KEYS[stage]}={code(value)})"
        )
        return [s for i, s in enumerate(statements) if i != position]
    return statements
