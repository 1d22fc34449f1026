"""Which classes of a file are LightningModules or Callbacks (also through the file's own base classes)."""

from __future__ import annotations

from typing import Literal

import libcst as cst
import libcst.matchers as m

from litgen.cst_walk import find
from litgen.upgrade.rule import RuleContext

Kind = Literal["module", "datamodule", "callback"]
_ROOTS: dict[str, Kind] = {
    "lightning.pytorch.LightningModule": "module",
    "lightning.pytorch.LightningDataModule": "datamodule",
    "lightning.pytorch.callbacks.Callback": "callback",
}


SUPER_INIT = m.Call(func=m.Attribute(value=m.Call(func=m.Name("super")), attr=m.Name("__init__")))


def after_super_init(init: cst.FunctionDef, line: str) -> cst.FunctionDef:
    """`__init__` with LINE (a statement) right after its `super().__init__(...)`, else first."""
    statements = list(init.body.body)
    position = next(
        (
            index + 1
            for index, statement in enumerate(statements)
            if any(m.matches(call, SUPER_INIT) for call in find(statement, cst.Call))
        ),
        0,
    )
    statements.insert(position, cst.parse_statement(line))
    return init.with_changes(body=init.body.with_changes(body=statements))


def derives_from_lightning(node: cst.ClassDef, context: RuleContext) -> bool:
    """Whether one of the class's bases is Lightning's own (not a class of the project)."""
    return any(context.qualify(base.value) in _ROOTS for base in node.bases)


def lightning_classes(module: cst.Module, context: RuleContext) -> dict[str, Kind]:
    """Class name -> what it is, for the classes of MODULE that derive from Lightning's (at any depth)."""
    classes: dict[str, list[cst.BaseExpression]] = {}

    # No class is defined inside a simple statement: not entering them skips most of the tree.
    for node in find(
        module, cst.ClassDef, enter=lambda node: not isinstance(node, cst.SimpleStatementLine)
    ):
        classes[node.name.value] = [base.value for base in node.bases]
    found: dict[str, Kind] = {}
    changed = True
    while changed:  # a class deriving from one found earlier (`class Base(pl.LightningModule)`, `class M(Base)`)
        changed = False
        for name, bases in classes.items():
            if name in found:
                continue
            for base in bases:
                kind = _ROOTS.get(context.qualify(base) or "")
                if kind is None and isinstance(base, cst.Name):
                    kind = found.get(base.value)
                if kind is not None:
                    found[name] = kind
                    changed = True
                    break
    return found
