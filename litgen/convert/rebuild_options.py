"""Which options of an argparse namespace the script's objects and hooks read, for the rebuild:
`args.lr` becomes the hyper-parameter `lr`; a bare `args` cannot be split into options."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst


class NotRebuilt(Exception):
    """This object cannot be rebuilt faithfully; the message says why (it becomes a review note)."""


def options_read(bodies: Sequence[cst.BaseStatement], namespace: str) -> list[str] | None:
    """The options hooks read from an argparse namespace; None when they use it whole or assign to it."""
    try:
        wrapper = cst.Module(
            body=[
                s
                for s in bodies
                if isinstance(s, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
            ]
        )
        options = attributes_of(wrapper, namespace, namespace) if bodies else []
    except NotRebuilt:
        return None
    for statement in bodies:
        for node in assignment_targets(statement):
            if (
                isinstance(node, cst.Attribute)
                and isinstance(node.value, cst.Name)
                and node.value.value == namespace
            ):
                return None
    return options


def assignment_targets(statement: cst.CSTNode) -> list[cst.BaseExpression]:
    targets: list[cst.BaseExpression] = []

    class Visitor(cst.CSTVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            targets.append(node.target)

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            targets.append(node.target)

    statement.visit(Visitor())
    return targets


def attributes_of(value: cst.CSTNode, namespace: str, owner: str) -> list[str]:
    """`args.lr` -> "lr" for every use of the namespace; a bare `args` cannot be split into options."""
    found: list[str] = []
    bare = [False]

    class Visitor(cst.CSTVisitor):
        def visit_Attribute(self, node: cst.Attribute) -> bool:
            if isinstance(node.value, cst.Name) and node.value.value == namespace:
                if node.attr.value not in found:
                    found.append(node.attr.value)
                return False
            return True

        def visit_Name(self, node: cst.Name) -> None:
            if node.value == namespace:
                bare[0] = True

    value.visit(Visitor())
    if bare[0]:
        raise NotRebuilt(
            f"`{owner}` is built from the whole `{namespace}` namespace, not from its options"
        )
    return found
