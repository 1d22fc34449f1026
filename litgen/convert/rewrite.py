"""Apply the planned edits to the module once; every statement not named by an edit is kept byte for byte."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import libcst as cst

from litgen.convert.names import _all_params, leading_lines


@dataclass
class Edits:
    """Statement-level edits keyed by the original nodes."""

    replace: dict[cst.CSTNode, list[cst.BaseStatement]] = field(default_factory=dict)
    remove: set[cst.CSTNode] = field(default_factory=set)

    def drop(self, statement: cst.CSTNode) -> None:
        # already taken by a plan (`model.eval()` opening a test pass)
        if statement in self.replace:
            return
        self.remove.add(statement)

    def put(self, statement: cst.CSTNode, replacement: list[cst.BaseStatement]) -> None:
        self.replace[statement] = replacement

    def reserve(self, statement: cst.CSTNode) -> None:
        """Planning decides `statement` is replaced; emission writes what replaces it (see `copy`)."""
        self.replace[statement] = []

    def copy(self) -> Edits:
        return Edits(dict(self.replace), set(self.remove))


class _Carry:
    """The comment lines above statements that go, handed to the next statement that stays.

    They are the user's: a removed line takes only itself (and its same-line comment) with it.
    """

    def __init__(self) -> None:
        self.lines: list[cst.EmptyLine] = []

    def removed(self, node: cst.CSTNode) -> None:
        above = list(leading_lines(node))
        if any(line.comment is not None for line in above):
            self.lines += above

    def kept(self, nodes: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
        if not nodes or not self.lines:
            return list(nodes)
        first = nodes[0].with_changes(leading_lines=[*self.lines, *leading_lines(nodes[0])])
        self.lines = []
        return [first, *nodes[1:]]

    def closing(self, footer: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
        """A block's footer: comments whose statements were the block's last ones come first."""
        lines, self.lines = self.lines, []
        return [*lines, *footer]


class _CarryingTransformer(cst.CSTTransformer):
    """Removes statements without losing the comments above them (one _Carry per open block)."""

    def __init__(self) -> None:
        super().__init__()
        # one per open block; a module-level statement's own comments are its caller's (`_edited`)
        self._carries: list[_Carry] = []

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> bool:
        self._carries.append(_Carry())
        return True

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        footer = self._carries.pop().closing(updated_node.footer)
        return updated_node.with_changes(footer=footer)

    def removed(self, node: cst.CSTNode) -> cst.RemovalSentinel:
        if self._carries:
            self._carries[-1].removed(node)
        return cst.RemoveFromParent()

    def kept(
        self, node: cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNode]
    ) -> cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNode]:
        if isinstance(node, cst.BaseStatement) and self._carries:
            return self._carries[-1].kept([node])[0]
        return node


class _Editor(_CarryingTransformer):
    def __init__(self, edits: Edits) -> None:
        super().__init__()
        self.edits = edits

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):  # type: ignore[no-untyped-def]
        if original_node in self.edits.remove:
            return self.removed(original_node)
        if original_node in self.edits.replace:
            replacement = _keep_leading(original_node, self.edits.replace[original_node])
            if not replacement:
                return self.removed(original_node)
            kept = self._carries[-1].kept(replacement) if self._carries else replacement
            return cst.FlattenSentinel(kept)
        result = super().on_leave(original_node, updated_node)
        if (
            isinstance(result, (cst.If, cst.With))
            and isinstance(result.body, cst.IndentedBlock)
            and not result.body.body
        ):
            if isinstance(result, cst.With) or result.orelse is None:
                return self.removed(result)  # `if args.cuda: model.cuda()` once the move is gone
        if isinstance(result, (cst.If, cst.For, cst.While, cst.With, cst.FunctionDef, cst.Try)):
            body = result.body
            if isinstance(body, cst.IndentedBlock) and not body.body:
                result = result.with_changes(
                    body=body.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
                )
        if (
            isinstance(result, cst.Else)
            and isinstance(result.body, cst.IndentedBlock)
            and not result.body.body
        ):
            return result.with_changes(
                body=result.body.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
            )
        return self.kept(result)


def _edited(
    statement: cst.BaseStatement, editor: cst.CSTTransformer, carry: _Carry
) -> list[cst.BaseStatement]:
    """A module-level statement through EDITOR: what stays of it, or nothing (its comments carried)."""
    edited = statement.visit(editor)
    if isinstance(edited, cst.BaseStatement):
        return carry.kept([edited])
    if isinstance(edited, cst.FlattenSentinel):
        return carry.kept(list(edited.nodes))
    carry.removed(statement)
    return []


def _keep_leading(
    original: cst.CSTNode, replacement: list[cst.BaseStatement]
) -> list[cst.BaseStatement]:
    """The first new statement inherits the comments and blank lines above the one it replaces."""
    if not replacement or not hasattr(original, "leading_lines"):
        return replacement
    first = replacement[0]
    own = list(leading_lines(original))
    first_lines = leading_lines(first)
    if own and first_lines and first_lines[0] is own[0]:
        return replacement  # already built from the original statement
    leading = [*own, *first_lines]
    return [first.with_changes(leading_lines=leading), *replacement[1:]]


def apply(
    module: cst.Module,
    edits: Edits,
    insert_before: cst.CSTNode | None,
    class_node: cst.ClassDef,
    import_after: cst.CSTNode | None,
    import_line: cst.SimpleStatementLine,
    touched: set[int] | None = None,
) -> cst.Module:
    """Edit statements, add the import after `import_after`, and the class before `insert_before`."""
    body: list[cst.BaseStatement] = []
    placed_class = False
    leading = module.body[0] if module.body else None
    if import_after is None and not (leading is not None and _is_docstring(leading)):
        body.append(import_line)
        import_after = import_line  # placed
    elif import_after is None:
        import_after = leading  # after the module docstring, which must stay first
    carry = _Carry()
    for statement in module.body:
        if statement is insert_before and not placed_class:
            body.append(class_node)
            placed_class = True
        if statement in edits.remove:
            carry.removed(statement)
        elif statement in edits.replace:
            replacement = _keep_leading(statement, edits.replace[statement])
            if not replacement:
                carry.removed(statement)
            body.extend(carry.kept(replacement))
        elif touched is not None and id(statement) not in touched:
            body.extend(carry.kept([statement]))  # nothing inside it changes: the very same node
        else:
            body.extend(_edited(statement, _Editor(edits), carry))
        if statement is import_after:
            body.append(import_line)
    if not placed_class:
        body.append(class_node)
    for index, node in enumerate(body[:-1]):
        if node is class_node:
            following = body[index + 1]
            blank = 0
            for line in leading_lines(following):
                if line.comment is not None:
                    break
                blank += 1
            if blank < 2:  # two blank lines after a class, as in PEP 8
                padding = [cst.EmptyLine(indent=False)] * (2 - blank)
                body[index + 1] = following.with_changes(
                    leading_lines=[*padding, *leading_lines(following)]
                )
    return module.with_changes(body=body, footer=carry.closing(module.footer))


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _read_names(module: cst.Module, skipped_defs: set[str], entry: str | None = None) -> set[str]:
    """Every variable read anywhere outside the defs named in `skipped_defs`.

    A read inside another function of one of its own parameters is that function's variable, not
    the script's: it does not count. (The entry function's parameters are the script's set-up.)
    """
    skip: set[int] = set()
    reads: set[str] = set()
    stack: list[tuple[cst.CSTNode, frozenset[str]]] = [(module, frozenset())]
    while stack:
        node, shadowed = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node.name.value in skipped_defs:
            continue  # a helper that goes away does not keep anything alive
        if isinstance(node, cst.FunctionDef) and node.name.value != entry:
            shadowed = shadowed | {p.name.value for p in _all_params(node.params)}
        if isinstance(node, cst.AssignTarget) and isinstance(node.target, cst.Name):
            skip.add(id(node.target))
        elif isinstance(node, cst.Attribute):
            skip.add(id(node.attr))
        elif isinstance(node, cst.Arg) and node.keyword is not None:
            skip.add(id(node.keyword))
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Param)):
            skip.add(id(node.name))
        elif isinstance(node, cst.Name) and id(node) not in skip and node.value not in shadowed:
            reads.add(node.value)
        if not isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            stack.extend((child, shadowed) for child in node.children)
    return reads


def unused(
    module: cst.Module,
    functions: Iterable[str],
    names: Iterable[str],
    generated: str | None = None,
    entry: str | None = None,
) -> tuple[set[str], set[str]]:
    """(helper defs, variables) that nothing left in the module uses once those helpers are gone.

    The generated class (`generated`) never reads these variables: where its hooks need them they read
    `self.device`, `self.optimizers()`..., and `configure_optimizers` has locals of the same names.
    """
    functions, names = set(functions), set(names)
    if not functions and not names:
        return set(), set()
    own = {generated} if generated else set()
    reads = _read_names(module, functions | own, entry)
    gone = {f for f in functions if f not in reads}
    if gone != functions:
        reads = _read_names(module, gone | own, entry)
    return gone, {name for name in names if name not in reads}


class _AssignmentRemover(_CarryingTransformer):
    def __init__(self, names: set[str], functions: set[str]) -> None:
        super().__init__()
        self.names = names
        self.functions = functions

    def _assigns_only(self, statement: cst.CSTNode) -> bool:
        if isinstance(statement, cst.SimpleStatementLine):
            return all(
                isinstance(s, cst.Assign)
                and all(
                    isinstance(t.target, cst.Name) and t.target.value in self.names
                    for t in s.targets
                )
                for s in statement.body
            )
        if isinstance(statement, cst.If):
            blocks = [statement.body]
            orelse = statement.orelse
            while orelse is not None:
                blocks.append(orelse.body)
                orelse = orelse.orelse if isinstance(orelse, cst.If) else None
            return all(
                isinstance(b, cst.IndentedBlock)
                and b.body
                and all(self._assigns_only(s) for s in b.body)
                for b in blocks
            )
        return False

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):  # type: ignore[no-untyped-def]
        if (
            isinstance(original_node, (cst.FunctionDef, cst.ClassDef))
            and original_node.name.value in self.functions
        ):
            return self.removed(original_node)
        if isinstance(original_node, (cst.SimpleStatementLine, cst.If)) and self._assigns_only(
            original_node
        ):
            return self.removed(original_node)
        return self.kept(super().on_leave(original_node, updated_node))


def remove_unused(
    module: cst.Module,
    assignments: set[str],
    functions: set[str],
    entry: cst.FunctionDef | None = None,
) -> cst.Module:
    """Drop assignments to device/scaler variables and helper defs that nothing uses any more.

    Only module-level statements and the entry function are looked into: that is where the set-up
    code (and the helpers litgen inlined) live.
    """
    if not assignments and not functions:
        return module
    remover = _AssignmentRemover(assignments, functions)
    body: list[cst.BaseStatement] = []
    carry = _Carry()
    for statement in module.body:
        if (
            isinstance(statement, (cst.FunctionDef, cst.ClassDef))
            and statement.name.value not in functions
            and (entry is None or statement.name.value != entry.name.value)
        ):
            body.extend(carry.kept([statement]))
            continue
        body.extend(_edited(statement, remover, carry))
    return module.with_changes(body=body, footer=carry.closing(module.footer))
