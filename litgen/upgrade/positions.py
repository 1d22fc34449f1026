"""Start lines of chosen nodes, and the module's text, from one code generation pass."""

# libcst's PositionProvider gives the same lines, but builds a range for every node of the file and
# then walks the whole tree once more to publish them: about two thirds of an upgrade's time went
# there, for the handful of nodes a rule records. This state records only the nodes asked for.

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import libcst as cst
from libcst._nodes.internal import CodegenState

_NEWLINE = re.compile(r"\r\n?|\n")  # what PositionProvider counts as a line break


@dataclass
class _LineRecordingState(CodegenState):
    wanted: set[cst.CSTNode] = field(default_factory=set)
    found: dict[cst.CSTNode, int] = field(default_factory=dict)
    _starts: dict[cst.CSTNode, int] = field(default_factory=dict)
    _line: int = 1
    _counted: int = 0  # tokens already counted into _line

    def line(self) -> int:
        """The current line; newlines are counted lazily, only when a wanted node asks."""
        if self._counted < len(self.tokens):
            self._line += len(_NEWLINE.findall("".join(self.tokens[self._counted :])))
            self._counted = len(self.tokens)
        return self._line

    def before_codegen(self, node: cst.CSTNode) -> None:
        if node in self.wanted:
            self._starts[node] = self.line()

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self._starts.pop(node, None)
        if start is not None:
            self.found.setdefault(node, start)  # a syntactic start, recorded inside, wins

    @contextmanager
    def record_syntactic_position(
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> Iterator[None]:
        if node not in self.wanted:
            yield
            return
        # PositionProvider's start skips a statement's leading blank lines and comments; where the
        # node hoists its start from a child (`start_node`), that child's start is the node's.
        start = self.line()
        borrowed = start_node is not None and start_node not in self.wanted
        if start_node is not None:
            self.wanted.add(start_node)
        try:
            yield
        finally:
            if start_node is not None:
                start = self.found.get(start_node, start)
                if borrowed:
                    self.wanted.discard(start_node)
                    self.found.pop(start_node, None)
            self.found[node] = start


def start_lines(
    module: cst.Module, nodes: Collection[cst.CSTNode]
) -> tuple[dict[cst.CSTNode, int], str]:
    """The 1-based line where each of NODES starts in MODULE (as PositionProvider gives it), and MODULE's code."""
    state = _LineRecordingState(
        default_indent=module.default_indent, default_newline=module.default_newline
    )
    state.wanted = set(nodes)
    module._codegen(state)
    return state.found, "".join(state.tokens)
