"""A class with 1.x Lightning hooks whose base litgen cannot see: named, so it is not passed silently.

Rules rewrite the classes they know derive from Lightning's, in the file or in the files of the same
run. A subclass of a base defined elsewhere (`class SRGANModel(SRModel)`) is none of those, yet
hooks such as `training_step(..., optimizer_idx)` show it is 1.x Lightning code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import libcst as cst

from litgen.convert.names import code
from litgen.cst_walk import find, holds_statements
from litgen.upgrade.classes import lightning_classes
from litgen.upgrade.rule import PL_IMPORT, Example, Rule, RuleContext, RuleTransformer, note_text

# hooks 2.x no longer calls, by name
_GONE_HOOKS = frozenset(
    f"{stage}_{suffix}"
    for stage in ("training", "validation", "test")
    for suffix in ("epoch_end", "step_end")
)
# (hook, a parameter only its 1.x signature had)
_GONE_PARAMETERS = (
    ("training_step", "optimizer_idx"),
    ("optimizer_step", "optimizer_idx"),
    ("optimizer_step", "using_lbfgs"),
    ("optimizer_step", "on_tpu"),
    ("optimizer_step", "using_native_amp"),
)


def _marker(node: cst.ClassDef) -> str | None:
    """The first 1.x-only hook the class defines, as the note shows it."""
    for statement in node.body.body:
        if not isinstance(statement, cst.FunctionDef):
            continue
        name = statement.name.value
        if name in _GONE_HOOKS:
            return f"`{name}`"
        params = {p.name.value for p in statement.params.params}
        for hook, parameter in _GONE_PARAMETERS:
            if name == hook and parameter in params:
                return f"`{hook}(..., {parameter})`"
    return None


def unresolved_note(klass: str, marker: str, bases: str) -> str:
    return (
        f"`{klass}` defines {marker}, a 1.x Lightning hook, but litgen cannot tell that "
        f"`{bases}` is a Lightning class: upgrade this file with the one that defines it"
    )


class _Unresolved(RuleTransformer):
    rule = "unresolved"

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self.known = lightning_classes(context.module, context)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if node.name.value in self.known or not node.bases:
            return
        marker = _marker(node)
        if marker is not None:
            bases = ", ".join(code(base.value) for base in node.bases)
            self.note(unresolved_note(node.name.value, marker, bases), "manual")


class UnresolvedRule(Rule):
    name = "unresolved"
    summary = "classes with 1.x Lightning hooks whose base class litgen cannot see are reported"
    examples: ClassVar[Sequence[Example]] = (
        Example(
            "from models import SRModel\n"
            "class SRGANModel(SRModel):\n"
            "    def training_step(self, batch, batch_idx, optimizer_idx):\n        return 0\n",
            "from models import SRModel\n"
            + note_text(
                unresolved_note("SRGANModel", "`training_step(..., optimizer_idx)`", "SRModel")
            )
            + "class SRGANModel(SRModel):\n"
            "    def training_step(self, batch, batch_idx, optimizer_idx):\n        return 0\n",
        ),
        # a class litgen knows is rewritten by the other rules, not reported here
        Example(
            PL_IMPORT + "class M(pl.LightningModule):\n    def on_train_epoch_end(self): ...\n"
        ),
        Example("class Plain(Base):\n    def training_step(self, batch, batch_idx): ...\n"),
    )

    def applies(self, source: str) -> bool:
        return any(word in source for word in ("_epoch_end", "_step_end", "optimizer_idx", "lbfgs"))

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _Unresolved(context)

    def apply(self, module: cst.Module, context: RuleContext) -> cst.Module:
        known = lightning_classes(module, context)
        if not any(
            node.name.value not in known and node.bases and _marker(node) is not None
            for node in find(module, cst.ClassDef, enter=holds_statements)
        ):
            return module  # the common case, without a pass over the whole tree
        return module.visit(_Unresolved(context))
