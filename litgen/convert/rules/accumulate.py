"""Gradient accumulation: a divided loss and `if (i + 1) % N == 0: optimizer.step()` -> accumulate_grad_batches."""

from __future__ import annotations

import libcst as cst

from litgen.convert.names import code


def _is_index(node: cst.BaseExpression, index_names: set[str]) -> bool:
    """`i + 1`, `(i + 1)`, `batch_idx + 1`, or the step counter itself."""
    if isinstance(node, cst.Name):
        return node.value in index_names
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return _is_index(node.left, index_names) and isinstance(node.right, cst.Integer)
    return False


def accumulation_steps(
    test: cst.BaseExpression, index_names: set[str]
) -> cst.BaseExpression | None:
    """N for `(i + 1) % N == 0` (optionally `or (i + 1) == len(loader)`), else None."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.Or):
        left = accumulation_steps(test.left, index_names)
        if left is not None and _is_last_batch(test.right, index_names):
            return left
        return None
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    comparison = test.comparisons[0]
    if not isinstance(comparison.operator, cst.Equal):
        return None
    if not (isinstance(comparison.comparator, cst.Integer) and comparison.comparator.value == "0"):
        return None
    left = test.left
    if isinstance(left, cst.BinaryOperation) and isinstance(left.operator, cst.Modulo):
        if _is_index(left.left, index_names):
            return left.right.with_changes(lpar=[], rpar=[])
    return None


def _is_last_batch(test: cst.BaseExpression, index_names: set[str]) -> bool:
    return (
        isinstance(test, cst.Comparison)
        and len(test.comparisons) == 1
        and isinstance(test.comparisons[0].operator, cst.Equal)
        and _is_index(test.left, index_names)
    )


def divided_by(
    expression: cst.BaseExpression, steps: cst.BaseExpression
) -> cst.BaseExpression | None:
    """`x / N` -> x when N is the accumulation count; None when the expression does not divide by it."""
    if isinstance(expression, cst.BinaryOperation) and isinstance(expression.operator, cst.Divide):
        if code(expression.right).strip("() ") == code(steps).strip("() "):
            return (
                expression.left.with_changes(lpar=[], rpar=[])
                if len(expression.left.lpar) == 1
                else expression.left
            )
    return None
