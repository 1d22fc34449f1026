"""Line tracking across rewrites, and a scope-aware transformer that replaces variables by expressions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import libcst as cst
from libcst.metadata import CodeRange

from litgen.convert.names import _all_params, local_names, target_names

NodeT = TypeVar("NodeT", bound=cst.CSTNode)
LeaveResult = cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNode]
# what a transformer's leave_<Statement> may return in place of a statement
StatementResult = cst.BaseStatement | cst.RemovalSentinel | cst.FlattenSentinel[cst.BaseStatement]
Comprehension = cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp
Valued = TypeVar("Valued", cst.Assign, cst.AugAssign, cst.Element, cst.DictElement, cst.Index)
Comp = TypeVar("Comp", cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)

_NEEDS_PARENS = (
    cst.BinaryOperation,
    cst.BooleanOperation,
    cst.Comparison,
    cst.IfExp,
    cst.UnaryOperation,
    cst.Lambda,
    cst.NamedExpr,
)


class LineTable:
    """Original line numbers of nodes; rewritten copies inherit the line of the node they replace."""

    def __init__(self, positions: Mapping[cst.CSTNode, CodeRange] | None = None) -> None:
        self._lines: dict[cst.CSTNode, int] = {}
        for node, position in (positions or {}).items():
            self._lines[node] = position.start.line

    def get(self, node: cst.CSTNode | None) -> int | None:
        return self._lines.get(node) if node is not None else None

    def set(self, node: cst.CSTNode, line: int | None) -> None:
        if line is not None:
            self._lines[node] = line

    def renumber(self, original_line: Mapping[int, int]) -> None:
        """Report lines of a rewritten source as the lines of the source the user wrote."""
        self._lines = {node: original_line.get(line, line) for node, line in self._lines.items()}

    def carry(self, original: cst.CSTNode, updated: cst.CSTNode) -> None:
        if updated is not original and updated not in self._lines and original in self._lines:
            self._lines[updated] = self._lines[original]


class LineCarrier(cst.CSTTransformer):
    """Base transformer that keeps the original line number on every node it rewrites."""

    def __init__(self, lines: LineTable) -> None:
        super().__init__()
        self.lines = lines

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> LeaveResult:  # type: ignore[override]
        result = super().on_leave(original_node, updated_node)
        if isinstance(result, cst.CSTNode):
            self.lines.carry(original_node, result)
        return result


def parenthesize(expression: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(expression, _NEEDS_PARENS) and not expression.lpar:
        return expression.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return expression


def unparenthesize(expression: cst.BaseExpression) -> cst.BaseExpression:
    if (
        len(expression.lpar) == 1
        and isinstance(expression, _NEEDS_PARENS)
        and not isinstance(expression, cst.Lambda)
    ):
        return expression.with_changes(lpar=[], rpar=[])
    return expression


Replacement = cst.BaseExpression | Callable[[cst.Name], cst.BaseExpression]


class Substitute(LineCarrier):
    """Replace free occurrences of names (and `base.attr` pairs) by expressions, respecting inner scopes.

    Names bound inside comprehensions, lambdas and nested functions are left alone, and so are the
    spots where a Name is not a variable (attribute names, keyword names, parameter names).
    """

    def __init__(
        self,
        lines: LineTable,
        names: Mapping[str, Replacement],
        attributes: Mapping[tuple[str, str], cst.BaseExpression] | None = None,
    ) -> None:
        super().__init__(lines)
        self.names = names
        self.attributes = attributes or {}
        self._shadowed: list[set[str]] = []
        self._introduced: set[int] = set()
        self._keep_alive: list[cst.CSTNode] = []

    def _is_shadowed(self, name: str) -> bool:
        return any(name in scope for scope in self._shadowed)

    def _introduce(self, expression: cst.BaseExpression) -> cst.BaseExpression:
        wrapped = parenthesize(expression.deep_clone())
        self._introduced.add(id(wrapped))
        self._keep_alive.append(wrapped)
        return wrapped

    # --- inner scopes -------------------------------------------------------------------------
    def _push(self, names: set[str]) -> None:
        self._shadowed.append(names)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._push({p.name.value for p in _all_params(node.params)})

    def leave_Lambda(
        self, original_node: cst.Lambda, updated_node: cst.Lambda
    ) -> cst.BaseExpression:
        self._shadowed.pop()
        return updated_node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._push({p.name.value for p in _all_params(node.params)} | local_names(node))

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self._shadowed.pop()
        return updated_node.with_changes(name=original_node.name)

    def _comprehension_names(self, node: Comprehension) -> set[str]:
        names: set[str] = set()
        comp: cst.CompFor | None = node.for_in
        while comp is not None:
            names |= set(target_names(comp.target))
            comp = comp.inner_for_in
        return names

    def _enter_comprehension(self, node: Comprehension) -> None:
        self._push(self._comprehension_names(node))

    def _leave_comprehension(self, original_node: Comp, updated_node: Comp) -> Comp:
        self._shadowed.pop()
        return updated_node

    # A comprehension's targets shadow the names it would substitute, whatever its kind.
    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _enter_comprehension
    leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _leave_comprehension

    # --- the substitution itself --------------------------------------------------------------
    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        replacement = self.names.get(original_node.value)
        if replacement is None or self._is_shadowed(original_node.value):
            return updated_node
        expression = replacement(original_node) if callable(replacement) else replacement
        return self._introduce(expression)

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        if isinstance(original_node.value, cst.Name):
            key = (original_node.value.value, original_node.attr.value)
            if key in self.attributes and not self._is_shadowed(key[0]):
                return self._introduce(self.attributes[key])
        return updated_node.with_changes(attr=original_node.attr)

    # --- spots where a Name is not a variable: undo any replacement ---------------------------
    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        return updated_node.with_changes(
            keyword=original_node.keyword, value=self._bare(updated_node.value)
        )

    def leave_Param(self, original_node: cst.Param, updated_node: cst.Param) -> cst.Param:
        return updated_node.with_changes(name=original_node.name)

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        return updated_node.with_changes(name=original_node.name)

    def leave_ImportAlias(
        self, original_node: cst.ImportAlias, updated_node: cst.ImportAlias
    ) -> cst.ImportAlias:
        return original_node

    def leave_ImportFrom(
        self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom
    ) -> cst.ImportFrom:
        return original_node

    def leave_Global(self, original_node: cst.Global, updated_node: cst.Global) -> cst.Global:
        return original_node

    def leave_Nonlocal(
        self, original_node: cst.Nonlocal, updated_node: cst.Nonlocal
    ) -> cst.Nonlocal:
        return original_node

    # --- drop parentheses added around a replacement where the context does not need them -----
    def _bare(self, expression: cst.BaseExpression) -> cst.BaseExpression:
        return unparenthesize(expression) if id(expression) in self._introduced else expression

    def _leave_valued(self, original_node: Valued, updated_node: Valued) -> Valued:
        return updated_node.with_changes(value=self._bare(updated_node.value))

    # Each of these holds an expression in `value` where parentheses are never needed.
    leave_Assign = leave_AugAssign = leave_Element = leave_DictElement = leave_Index = _leave_valued

    def leave_Return(self, original_node: cst.Return, updated_node: cst.Return) -> cst.Return:
        if updated_node.value is None:
            return updated_node
        return updated_node.with_changes(value=self._bare(updated_node.value))

    def leave_FormattedStringExpression(
        self,
        original_node: cst.FormattedStringExpression,
        updated_node: cst.FormattedStringExpression,
    ) -> cst.FormattedStringExpression:
        return updated_node.with_changes(expression=self._bare(updated_node.expression))


def substitute(
    node: NodeT,
    lines: LineTable,
    names: Mapping[str, Replacement],
    attributes: Mapping[tuple[str, str], cst.BaseExpression] | None = None,
) -> NodeT:
    if not names and not attributes:
        return node
    result = node.visit(Substitute(lines, names, attributes))
    assert isinstance(result, cst.CSTNode)
    return result


def visit_statement(statement: cst.BaseStatement, visitor: cst.CSTTransformer) -> cst.BaseStatement:
    """A statement rewritten by a transformer that rewrites inside it (never removes or splits it)."""
    rewritten = statement.visit(visitor)
    assert isinstance(rewritten, cst.BaseStatement), type(rewritten).__name__
    return rewritten
