"""Evaluation every N epochs: `if (epoch + 1) % N == 0: evaluate()` -> Trainer(check_val_every_n_epoch=N)."""

from __future__ import annotations

import libcst as cst

from litgen.convert.names import dotted


def _offset(node: cst.BaseExpression, epoch: str) -> int | None:
    """`epoch` -> 0, `epoch + 2` / `(epoch + 2)` -> 2; None for anything else."""
    if isinstance(node, cst.Name) and node.value == epoch:
        return 0
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        if (
            isinstance(node.left, cst.Name)
            and node.left.value == epoch
            and isinstance(node.right, cst.Integer)
        ):
            return int(node.right.value)
    return None


def every_n_epochs(
    test: cst.BaseExpression, epoch: str | None, start: int
) -> cst.BaseExpression | None:
    """N when the test holds exactly on the epochs where Lightning validates ((current_epoch + 1) % N == 0)."""
    if epoch is None or not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    comparison = test.comparisons[0]
    if not isinstance(comparison.operator, cst.Equal) or not isinstance(
        comparison.comparator, cst.Integer
    ):
        return None
    if comparison.comparator.value != "0" or not isinstance(test.left, cst.BinaryOperation):
        return None
    modulo = test.left
    if not isinstance(modulo.operator, cst.Modulo):
        return None
    offset = _offset(modulo.left, epoch)
    if offset is None:
        return None
    steps = modulo.right.with_changes(lpar=[], rpar=[])
    if isinstance(steps, cst.Integer):
        count = int(steps.value)
        return steps if count > 0 and (start + offset) % count == 1 % count else None
    if dotted(steps) is not None and start + offset == 1:
        return steps
    return None
