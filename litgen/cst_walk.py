"""Read-only walks over a libcst tree that rebuild nothing (unlike `visit`, `children` and `m.findall`)."""

# libcst's visitors reconstruct every node they pass, even a read-only CSTVisitor (a TODO in
# libcst's own `CSTNode.visit`), and `m.findall` adds matcher dispatch on top: a scan for names or
# calls cost as much as a rewrite. Reading the dataclass fields directly is several times cheaper.

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from functools import cache
from typing import TypeVar

import libcst as cst

NodeT = TypeVar("NodeT", bound=cst.CSTNode)


@cache
def _field_names(node_type: type[cst.CSTNode]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(node_type))


_NODE_TYPES: dict[type, bool] = {}  # a field value's type -> whether it is a libcst node


def _is_node_type(kind: type) -> bool:
    known = _NODE_TYPES.get(kind)
    if known is None:
        known = _NODE_TYPES[kind] = issubclass(kind, cst.CSTNode)
    return known


@cache
def is_statement(kind: type) -> bool:
    """Whether KIND is a statement type (an exact-type lookup, cheaper than isinstance on libcst's ABCs)."""
    return issubclass(kind, cst.BaseStatement)


def _children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    for name in _field_names(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            yield from (item for item in value if _is_node_type(type(item)))
        elif _is_node_type(kind):
            yield value


def walk(
    root: cst.CSTNode, enter: Callable[[cst.CSTNode], bool] | None = None
) -> Iterator[cst.CSTNode]:
    """ROOT and every node below it, in source order; ENTER(node) False: not below that node."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        if enter is None or enter(node):
            stack.extend(reversed(list(_children(node))))


# The nodes whose children include statements (or a block, or an except/else/finally clause of one).
_STATEMENT_HOLDERS = frozenset(
    {
        cst.Module,
        cst.IndentedBlock,
        cst.SimpleStatementSuite,
        cst.SimpleStatementLine,
        cst.If,
        cst.Else,
        cst.For,
        cst.While,
        cst.Try,
        cst.TryStar,
        cst.ExceptHandler,
        cst.ExceptStarHandler,
        cst.Finally,
        cst.With,
        cst.FunctionDef,
        cst.ClassDef,
        cst.Match,
        cst.MatchCase,
    }
)


def holds_statements(node: cst.CSTNode) -> bool:
    """An ENTER for statement searches (imports, classes, defs): only nodes that hold statements are
    entered, not expressions (which can nest deeply) nor the whitespace around them."""
    return type(node) in _STATEMENT_HOLDERS


def find(
    root: cst.CSTNode, node_type: type[NodeT], enter: Callable[[cst.CSTNode], bool] | None = None
) -> Iterator[NodeT]:
    """The nodes of NODE_TYPE at or below ROOT, in source order."""
    return (node for node in walk(root, enter) if isinstance(node, node_type))
