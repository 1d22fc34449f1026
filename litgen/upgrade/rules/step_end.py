"""`*_step_end`, which 2.x never calls: the step calls it on what it returns, as 1.x did on one device."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import libcst as cst
import libcst.matchers as m

from litgen.convert.names import code
from litgen.cst_walk import find
from litgen.upgrade.classes import ClassBodyTransformer
from litgen.upgrade.rule import PL_IMPORT, Example, Rule, RuleContext, note_text
from litgen.upgrade.rules.step_outputs import STAGES, Returns, Stage, methods_of, only_raises

STEP_END_NOTE = "2.x no longer calls `{end}`: `{step}` now calls it on what it returns (as 1.x did on one device)"


class _StepEnd(ClassBodyTransformer):
    rule = "step-end"
    kinds = ("module",)

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._originals: dict[
            str, cst.FunctionDef
        ] = {}  # the class's methods as read (their lines)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # methods are rewritten whole from leave_ClassDef

    def upgrade_body(
        self, original_node: cst.ClassDef, body: list[cst.BaseStatement]
    ) -> list[cst.BaseStatement]:
        self._originals = {
            s.name.value: s for s in original_node.body.body if isinstance(s, cst.FunctionDef)
        }
        for stage in STAGES:
            body = self._step_end(body, stage)
        return body

    def _step_end(self, body: list[cst.BaseStatement], stage: Stage) -> list[cst.BaseStatement]:
        methods = methods_of(body)
        if stage.step_end not in methods:
            return body
        if stage.step not in methods:
            index = methods[stage.step_end]
            body[index] = self.noted(
                body[index],
                f"2.x never calls `{stage.step_end}` and this class defines no "
                f"`{stage.step}` to call it: move its code into the step",
                "manual",
            )
            return body

        defined = body[methods[stage.step]]
        # an abstract step: the subclasses define it
        if isinstance(defined, cst.FunctionDef) and only_raises(defined):
            body[methods[stage.step_end]] = self.noted(
                body[methods[stage.step_end]],
                f"2.x never calls `{stage.step_end}`: the subclasses' `{stage.step}` must call it "
                "on what they return",
                "manual",
            )
            return body

        def wrap(
            value: cst.BaseExpression,
        ) -> tuple[list[cst.BaseStatement], cst.BaseExpression] | None:
            return [], cst.parse_expression(f"self.{stage.step_end}({code(value)})")

        index = methods[stage.step]
        if any(
            m.matches(
                call, m.Call(func=m.Attribute(value=m.Name("self"), attr=m.Name(stage.step_end)))
            )
            for call in find(body[index], cst.Call)
        ):
            return body  # the step calls it already (upgraded before, or written that way)
        returns = Returns(wrap)
        original = body[index]
        step = original.visit(returns)
        if returns.count:
            assert isinstance(step, cst.FunctionDef)
            body[index] = self.noted(
                step,
                STEP_END_NOTE.format(end=stage.step_end, step=stage.step),
                at=self._originals.get(stage.step),
            )
            self.change(f"{stage.step} calls {stage.step_end}", at=self._originals.get(stage.step))
        return body


HEAD = PL_IMPORT


class StepEndRule(Rule):
    name = "step-end"
    summary = "*_step_end (never called by 2.x) called by the step on what it returns"
    examples: ClassVar[Sequence[Example]] = (
        Example(
            HEAD + "class M(pl.LightningModule):\n"
            "    def training_step(self, batch, batch_idx):\n        return self(batch)\n\n"
            "    def training_step_end(self, out):\n        return out.mean()\n",
            HEAD
            + "class M(pl.LightningModule):\n"
            + note_text(STEP_END_NOTE.format(end="training_step_end", step="training_step"), "    ")
            + "    def training_step(self, batch, batch_idx):\n        return self.training_step_end(self(batch))\n\n"
            "    def training_step_end(self, out):\n        return out.mean()\n",
        ),
        Example(
            HEAD + "class M(pl.LightningModule):\n"
            "    def training_step(self, batch, batch_idx):\n        return self(batch)\n"
        ),
    )

    def applies(self, source: str) -> bool:
        return "_step_end" in source

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _StepEnd(context)
