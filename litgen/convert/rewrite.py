"""Apply the planned edits to the module once; every statement not named by an edit is kept byte for byte."""

from __future__ import annotations

from collections.abc import Iterable
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


class _Editor(cst.CSTTransformer):
    def __init__(self, edits: Edits) -> None:
        super().__init__()
        self.edits = edits

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):  # type: ignore[no-untyped-def]
        if original_node in self.edits.remove:
            return cst.RemoveFromParent()
        if original_node in self.edits.replace:
            return cst.FlattenSentinel(
                _keep_leading(original_node, self.edits.replace[original_node])
            )
        result = super().on_leave(original_node, updated_node)
        if (
            isinstance(result, (cst.If, cst.With))
            and isinstance(result.body, cst.IndentedBlock)
            and not result.body.body
        ):
            if isinstance(result, cst.With) or result.orelse is None:
                return cst.RemoveFromParent()  # `if args.cuda: model.cuda()` once the move is gone
        if isinstance(result, (cst.If, cst.For, cst.While, cst.With, cst.FunctionDef, cst.Try)):
            body = result.body
            if isinstance(body, cst.IndentedBlock) and not body.body:
                return result.with_changes(
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
        return result


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
    for statement in module.body:
        if statement is insert_before and not placed_class:
            body.append(class_node)
            placed_class = True
        if statement in edits.remove:
            continue
        if statement in edits.replace:
            body.extend(_keep_leading(statement, edits.replace[statement]))
        elif touched is not None and id(statement) not in touched:
            body.append(statement)  # nothing inside it changes: keep the very same node
        else:
            edited = statement.visit(_Editor(edits))
            if isinstance(edited, cst.BaseStatement):
                body.append(edited)
            elif isinstance(edited, cst.FlattenSentinel):
                body.extend(edited.nodes)
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
    return module.with_changes(body=body)


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


class _AssignmentRemover(cst.CSTTransformer):
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
            return cst.RemoveFromParent()
        if isinstance(original_node, (cst.SimpleStatementLine, cst.If)) and self._assigns_only(
            original_node
        ):
            parent_is_elif = False
            if not parent_is_elif:
                return cst.RemoveFromParent()
        return super().on_leave(original_node, updated_node)


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
    for statement in module.body:
        if (
            isinstance(statement, (cst.FunctionDef, cst.ClassDef))
            and statement.name.value not in functions
            and (entry is None or statement.name.value != entry.name.value)
        ):
            body.append(statement)
            continue
        edited = statement.visit(remover)
        if isinstance(edited, cst.BaseStatement):
            body.append(edited)
        elif isinstance(edited, cst.FlattenSentinel):
            body.extend(edited.nodes)
    return module.with_changes(body=body)
