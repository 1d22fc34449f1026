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


def _children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    for name in _field_names(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, (tuple, list)):
            yield from (item for item in value if isinstance(item, cst.CSTNode))


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


def find(
    root: cst.CSTNode, node_type: type[NodeT], enter: Callable[[cst.CSTNode], bool] | None = None
) -> Iterator[NodeT]:
    """The nodes of NODE_TYPE at or below ROOT, in source order."""
    return (node for node in walk(root, enter) if isinstance(node, node_type))
