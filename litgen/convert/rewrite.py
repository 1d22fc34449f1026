"""Apply the planned edits to the module once; every statement not named by an edit is kept byte for byte."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import libcst as cst



@dataclass
class Edits:
    """Statement-level edits keyed by the original nodes."""

    replace: dict[cst.CSTNode, list[cst.BaseStatement]] = field(default_factory=dict)
    remove: set[cst.CSTNode] = field(default_factory=set)

    def drop(self, statement: cst.CSTNode) -> None:
        self.remove.add(statement)

    def put(self, statement: cst.CSTNode, replacement: list[cst.BaseStatement]) -> None:
        self.replace[statement] = replacement


class _Editor(cst.CSTTransformer):
    def __init__(self, edits: Edits) -> None:
        super().__init__()
        self.edits = edits

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):  # type: ignore[no-untyped-def, override]
        if original_node in self.edits.remove:
            return cst.RemoveFromParent()
        if original_node in self.edits.replace:
            return cst.FlattenSentinel(_keep_leading(original_node, self.edits.replace[original_node]))
        result = super().on_leave(original_node, updated_node)
        if isinstance(result, (cst.If, cst.With)) and isinstance(result.body, cst.IndentedBlock) and not result.body.body:
            if isinstance(result, cst.With) or result.orelse is None:
                return cst.RemoveFromParent()  # `if args.cuda: model.cuda()` once the move is gone
        if isinstance(result, (cst.If, cst.For, cst.While, cst.With, cst.FunctionDef, cst.Try)):
            body = result.body
            if isinstance(body, cst.IndentedBlock) and not body.body:
                return result.with_changes(body=body.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])]))
        if isinstance(result, cst.Else) and isinstance(result.body, cst.IndentedBlock) and not result.body.body:
            return result.with_changes(body=result.body.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])]))
        return result


def _keep_leading(original: cst.CSTNode, replacement: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """The first new statement inherits the comments and blank lines above the one it replaces."""
    if not replacement or not hasattr(original, "leading_lines"):
        return replacement
    first = replacement[0]
    own = list(original.leading_lines)  # type: ignore[attr-defined]
    if own and first.leading_lines and first.leading_lines[0] is own[0]:
        return replacement  # already built from the original statement
    leading = [*own, *first.leading_lines]
    return [first.with_changes(leading_lines=leading), *replacement[1:]]


def apply(
    module: cst.Module,
    edits: Edits,
    insert_before: cst.CSTNode | None,
    class_node: cst.ClassDef,
    import_after: cst.CSTNode | None,
    import_line: cst.SimpleStatementLine,
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
    for statement in module.body:
        if statement is insert_before and not placed_class:
            body.append(class_node)
            placed_class = True
        if statement in edits.remove:
            continue
        if statement in edits.replace:
            body.extend(_keep_leading(statement, edits.replace[statement]))
        else:
            edited = statement.visit(_Editor(edits))
            if isinstance(edited, cst.BaseStatement):
                body.append(edited)
            elif isinstance(edited, cst.FlattenSentinel):
                body.extend(edited.nodes)  # type: ignore[arg-type]
        if statement is import_after:
            body.append(import_line)
    if not placed_class:
        body.append(class_node)
    for index, statement in enumerate(body[:-1]):
        if statement is class_node:
            following = body[index + 1]
            blank = 0
            for line in following.leading_lines:
                if line.comment is not None:
                    break
                blank += 1
            if blank < 2:  # two blank lines after a class, as in PEP 8
                padding = [cst.EmptyLine(indent=False)] * (2 - blank)
                body[index + 1] = following.with_changes(leading_lines=[*padding, *following.leading_lines])
    return module.with_changes(body=body)


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


class _Reads(cst.CSTVisitor):
    """Every variable read anywhere (any scope): Names that are not assignment targets or labels."""

    def __init__(self) -> None:
        self.reads: set[str] = set()
        self._skip: set[int] = set()

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        if isinstance(node.target, cst.Name):
            self._skip.add(id(node.target))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._skip.add(id(node.attr))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._skip.add(id(node.keyword))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._skip.add(id(node.name))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._skip.add(id(node.name))

    def visit_Param(self, node: cst.Param) -> None:
        self._skip.add(id(node.name))

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) not in self._skip:
            self.reads.add(node.value)


def unused(module: cst.Module, names: Iterable[str]) -> set[str]:
    """Which of `names` nothing in the module reads any more (in any scope)."""
    reads = _Reads()
    module.visit(reads)
    return {name for name in names if name not in reads.reads}


class _AssignmentRemover(cst.CSTTransformer):
    def __init__(self, names: set[str], functions: set[str]) -> None:
        super().__init__()
        self.names = names
        self.functions = functions

    def _assigns_only(self, statement: cst.CSTNode) -> bool:
        if isinstance(statement, cst.SimpleStatementLine):
            return all(
                isinstance(s, cst.Assign)
                and all(isinstance(t.target, cst.Name) and t.target.value in self.names for t in s.targets)
                for s in statement.body
            )
        if isinstance(statement, cst.If):
            blocks = [statement.body]
            orelse = statement.orelse
            while orelse is not None:
                blocks.append(orelse.body)
                orelse = orelse.orelse if isinstance(orelse, cst.If) else None
            return all(
                isinstance(b, cst.IndentedBlock) and b.body and all(self._assigns_only(s) for s in b.body) for b in blocks
            )
        return False

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):  # type: ignore[no-untyped-def, override]
        if isinstance(original_node, (cst.FunctionDef, cst.ClassDef)) and original_node.name.value in self.functions:
            return cst.RemoveFromParent()
        if isinstance(original_node, (cst.SimpleStatementLine, cst.If)) and self._assigns_only(original_node):
            parent_is_elif = False
            if not parent_is_elif:
                return cst.RemoveFromParent()
        return super().on_leave(original_node, updated_node)


def remove_unused(module: cst.Module, assignments: set[str], functions: set[str]) -> cst.Module:
    """Drop assignments to device/scaler variables and helper defs that nothing uses any more."""
    if not assignments and not functions:
        return module
    return module.visit(_AssignmentRemover(assignments, functions))
