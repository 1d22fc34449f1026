"""Imports a rule needs, placed as libcst's AddImportsVisitor places them, without walking the file."""

# AddImportsVisitor only ever edits the statements before the first non-import one, but it walks
# and rebuilds the whole file with matcher dispatch on every node (and builds its dispatch table
# each time): it was half the time of every rule that adds an import. Its placement is kept:
# after the docstring and the leading import block, `import x` lines first, then `from m import n`
# lines; a name from a module the leading block already imports from joins that statement (first);
# one blank line separates the block from the code. Tests pin the two against each other.

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import libcst as cst

from litgen.convert.names import dotted

# (module, name): `("inspect", None)` is `import inspect`, `("x.y", "Z")` is `from x.y import Z`.
Needed = tuple[str, str | None]
Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement


def add_imports(module: cst.Module, needed: Iterable[Needed]) -> cst.Module:
    """MODULE with the NEEDED imports that none of its top-level imports provides yet."""
    present = _top_level_imports(module.body)
    wanted = sorted(
        item
        for item in set(needed)
        if item not in present and (item[1] is None or (item[0], "*") not in present)
    )
    if not wanted:
        return module
    body = list(module.body)
    start = 1 if body and _is_docstring_or_strict(body[0]) else 0
    end = start
    while end < len(body) and _is_import_line(body[end]):
        end += 1
    plain = [name for name, obj in wanted if obj is None]
    objects: dict[str, list[str]] = defaultdict(list)
    for name, obj in wanted:
        if obj is not None:
            objects[name].append(obj)
    block = [_joined(statement, objects) for statement in body[start:end]]
    added = [cst.parse_statement(f"import {name}") for name in plain] + [
        cst.parse_statement(f"from {name} import {', '.join(objs)}")
        for name, objs in objects.items()
        if objs
    ]
    return module.with_changes(
        body=[*body[:start], *block, *added, *_blank_line_before(body[end:])]
    )


def _is_import_line(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def _is_docstring_or_strict(statement: cst.BaseStatement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    if isinstance(small, cst.Expr):
        return isinstance(small.value, cst.SimpleString)
    return (
        isinstance(small, cst.Assign)
        and len(small.targets) == 1
        and isinstance(small.targets[0].target, cst.Name)
        and small.targets[0].target.value == "__strict__"
    )


def _joined(statement: cst.BaseStatement, objects: dict[str, list[str]]) -> cst.BaseStatement:
    """STATEMENT with the wanted names of a module it imports from added in front (and taken off OBJECTS)."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return statement
    smalls = list(statement.body)
    for index, small in enumerate(smalls):
        if (
            not isinstance(small, cst.ImportFrom)
            or small.relative
            or small.module is None
            or isinstance(small.names, cst.ImportStar)
        ):
            continue
        source = dotted(small.module) or ""
        if objects.get(source):
            names = [cst.ImportAlias(name=cst.Name(obj)) for obj in objects.pop(source)]
            smalls[index] = small.with_changes(names=[*names, *small.names])
    return statement.with_changes(body=smalls)


def _blank_line_before(statements: Sequence[Statement]) -> list[Statement]:
    """STATEMENTS, the first starting with a blank line (added above a comment, if that comes first)."""
    if not statements:
        return []
    first, rest = statements[0], list(statements[1:])
    if first.leading_lines and first.leading_lines[0].comment is None:
        return [first, *rest]
    return [first.with_changes(leading_lines=(cst.EmptyLine(), *first.leading_lines)), *rest]


def _top_level_imports(body: Iterable[cst.BaseStatement]) -> set[Needed]:
    """What the module's top-level import statements bind under their own names (`(module, "*")`: all)."""
    found: set[Needed] = set()
    for statement in body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import):
                found.update(
                    (dotted(alias.name) or "", None)
                    for alias in small.names
                    if alias.asname is None
                )
            elif (
                isinstance(small, cst.ImportFrom)
                and not small.relative
                and small.module is not None
            ):
                source = dotted(small.module) or ""
                if isinstance(small.names, cst.ImportStar):
                    found.add((source, "*"))
                else:
                    found.update(
                        (source, dotted(alias.name))
                        for alias in small.names
                        if alias.asname is None
                    )
    return found
