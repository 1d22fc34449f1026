"""`Runner(model, loader).fit(2)`: a method called on an object made on the spot gets a name first.

The converter follows a home-made trainer class through a variable that holds it (`runner =
Runner(...)`, then `runner.fit(2)`); written as one expression, the same code is split into those two
statements before analysis. The object is used once either way, so nothing else changes.
"""

from __future__ import annotations

import re

import libcst as cst

from litgen.convert.desugar import line_map
from litgen.convert.names import fresh_name
from litgen.cst_walk import find

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class _Splitter(cst.CSTTransformer):
    def __init__(self, classes: set[str], taken: set[str]) -> None:
        self.classes, self.taken = classes, taken
        self.split = False

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        if len(updated_node.body) != 1 or not isinstance(updated_node.body[0], cst.Expr):
            return updated_node
        call = updated_node.body[0].value
        if not (
            isinstance(call, cst.Call)
            and isinstance(call.func, cst.Attribute)
            and isinstance(call.func.value, cst.Call)
            and isinstance(call.func.value.func, cst.Name)
            and call.func.value.func.value in self.classes
        ):
            return updated_node
        made = call.func.value
        assert isinstance(made.func, cst.Name)
        name = fresh_name(_CAMEL.sub("_", made.func.value).lower(), self.taken)
        self.split = True
        assign = cst.SimpleStatementLine(
            [cst.Assign([cst.AssignTarget(cst.Name(name))], made)],
            leading_lines=updated_node.leading_lines,
        )
        used = updated_node.with_changes(
            body=[cst.Expr(call.with_changes(func=call.func.with_changes(value=cst.Name(name))))],
            leading_lines=[],
        )
        return cst.FlattenSentinel([assign, used])


def name_instances(
    source: str, module: cst.Module
) -> tuple[str, cst.Module, dict[int, int]] | None:
    """The script with `Klass(...).method(...)` statements split, its module and new line -> old line;
    None when it has none (KLASS: a class the script defines)."""
    classes = {s.name.value for s in module.body if isinstance(s, cst.ClassDef)}
    # the common case, decided without walking the tree: no `Klass(...).method(` on any line
    spot = (
        re.compile(rf"\b(?:{'|'.join(map(re.escape, classes))})\(.*\)\.\w+\(") if classes else None
    )
    if spot is None or not spot.search(source):
        return None
    taken = {node.value for node in find(module, cst.Name)}
    splitter = _Splitter(classes, taken)
    rewritten = module.visit(splitter)
    if not splitter.split:
        return None
    text = rewritten.code
    # parsed again: the rewritten tree shares nodes with the original, the analysis needs its own
    return text, cst.parse_module(text), line_map(source, text)
