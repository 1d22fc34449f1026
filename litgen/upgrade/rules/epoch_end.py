"""`*_epoch_end(outputs)` -> `on_*_epoch_end()` with the step outputs collected by the module itself;
`*_step_end` (which 2.x never calls) is called by the step, as 1.x did on one device."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import libcst as cst
import libcst.matchers as m

from litgen.convert.names import code
from litgen.cst_walk import find
from litgen.review import review_lines
from litgen.upgrade.classes import lightning_classes
from litgen.upgrade.rule import PL_IMPORT, Example, Rule, RuleContext, RuleTransformer, names_in


@dataclass(frozen=True)
class Stage:
    epoch_end: str  # the 1.x hook
    hook: str  # the 2.x hook
    start: str  # the 2.x hook that opens the epoch (where the list of outputs is made)
    step: str
    step_end: str
    outputs: str  # the attribute that holds the step outputs

    @property
    def training(self) -> bool:
        return self.step == "training_step"


STAGES = (
    Stage(
        "training_epoch_end",
        "on_train_epoch_end",
        "on_train_epoch_start",
        "training_step",
        "training_step_end",
        "training_step_outputs",
    ),
    Stage(
        "validation_epoch_end",
        "on_validation_epoch_end",
        "on_validation_epoch_start",
        "validation_step",
        "validation_step_end",
        "validation_step_outputs",
    ),
    Stage(
        "test_epoch_end",
        "on_test_epoch_end",
        "on_test_epoch_start",
        "test_step",
        "test_step_end",
        "test_step_outputs",
    ),
)
STEP_END_NOTE = "2.x no longer calls `{end}`: `{step}` now calls it on what it returns (as 1.x did on one device)"
ACCUMULATE_NOTE = "1.x stored the loss in `outputs` divided by accumulate_grad_batches; here it is the step's own loss"


class _Returns(cst.CSTTransformer):
    """Rewrites each `return VALUE` of one method (not of functions nested in it) with `make`."""

    def __init__(self, make: object) -> None:
        super().__init__()
        self.make = make
        self.count = 0
        self._depth = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self._depth += 1
        return self._depth == 1

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        self._depth -= 1
        return updated_node

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        last = updated_node.body[-1]
        if (
            not isinstance(last, cst.Return)
            or last.value is None
            or m.matches(last.value, m.Name("None"))
        ):
            return updated_node
        made = self.make(last.value)  # type: ignore[operator]
        if made is None:
            return updated_node
        self.count += 1
        before, value = made
        returned = updated_node.with_changes(
            body=[*updated_node.body[:-1], last.with_changes(value=value)]
        )
        if not before:
            return returned
        first = before[0].with_changes(leading_lines=updated_node.leading_lines)
        return cst.FlattenSentinel([first, *before[1:], returned.with_changes(leading_lines=[])])


class _EpochEnd(RuleTransformer):
    rule = "epoch-end"

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self.modules = {
            name
            for name, kind in lightning_classes(context.module, context).items()
            if kind == "module"
        }
        self.accumulates = "accumulate_grad_batches" in context.module.code
        self._originals: dict[
            str, cst.FunctionDef
        ] = {}  # the class's methods as read (their lines)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # methods are rewritten whole from leave_ClassDef; their bodies need no visit

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        if original_node.name.value not in self.modules or not isinstance(
            updated_node.body, cst.IndentedBlock
        ):
            return updated_node
        body = list(updated_node.body.body)
        self._originals = {
            s.name.value: s for s in original_node.body.body if isinstance(s, cst.FunctionDef)
        }  # type: ignore[union-attr]
        for stage in STAGES:
            body = self._step_end(body, stage)
            body = self._epoch_end(body, stage)
        return updated_node.with_changes(body=updated_node.body.with_changes(body=body))

    # --- *_step_end ---------------------------------------------------------------------------
    def _step_end(self, body: list[cst.BaseStatement], stage: Stage) -> list[cst.BaseStatement]:
        methods = _methods(body)
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
        returns = _Returns(wrap)
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

    # --- *_epoch_end --------------------------------------------------------------------------
    def _epoch_end(self, body: list[cst.BaseStatement], stage: Stage) -> list[cst.BaseStatement]:
        methods = _methods(body)
        if stage.epoch_end not in methods:
            return body
        index = methods[stage.epoch_end]
        hook = body[index]
        assert isinstance(hook, cst.FunctionDef)
        if stage.hook in methods:
            body[index] = self.noted(
                hook,
                f"2.x never calls `{stage.epoch_end}`; this class also defines "
                f"`{stage.hook}`: merge the two there",
                "manual",
            )
            return body
        params = list(hook.params.params)
        outputs = params[1].name.value if len(params) > 1 else None
        only_self = [params[0].with_changes(comma=cst.MaybeSentinel.DEFAULT)] if params else []
        renamed = hook.with_changes(
            name=cst.Name(stage.hook), params=hook.params.with_changes(params=only_self)
        )
        if outputs is None or outputs not in names_in(hook.body):
            body[index] = renamed
            self.change(
                f"{stage.epoch_end} -> {stage.hook}", at=self._originals.get(stage.epoch_end)
            )
            return body
        step_index = methods.get(stage.step)
        step = body[step_index] if step_index is not None else None
        if not isinstance(step, cst.FunctionDef):
            body[index] = self.noted(
                hook,
                f"`{stage.epoch_end}` reads the outputs of `{stage.step}`, which this class "
                "does not define: collect them where the step is",
                "manual",
            )
            return body
        if any(p.name.value == "dataloader_idx" for p in step.params.params):
            body[index] = self.noted(
                hook,
                f"with several dataloaders 1.x passed a list per dataloader to "
                f"`{stage.epoch_end}`: collect them per `dataloader_idx` in `{stage.step}`",
                "manual",
            )
            return body
        collected = self._collect(step, stage)
        if collected is None:
            body[index] = self.noted(
                hook, f"`{stage.step}` returns nothing to collect for `{stage.epoch_end}`", "manual"
            )
            return body
        body[step_index] = collected  # type: ignore[index]
        read = cst.parse_statement(f"{outputs} = self.{stage.outputs}\n")
        hook_body = renamed.body.with_changes(body=[read, *renamed.body.body])  # type: ignore[attr-defined]
        upgraded_hook = renamed.with_changes(body=hook_body)
        body[index] = upgraded_hook
        start = methods.get(stage.start)
        make_list = cst.parse_statement(
            f"self.{stage.outputs} = []  # what {stage.step} returns, for {stage.hook}\n"
        )
        if start is not None:
            opener = body[start]
            assert isinstance(opener, cst.FunctionDef)
            inner = opener.body.with_changes(body=[make_list, *opener.body.body])  # type: ignore[attr-defined]
            body[start] = opener.with_changes(body=inner)
        else:
            opener = cst.parse_statement(f"def {stage.start}(self):\n    pass\n")
            assert isinstance(opener, cst.FunctionDef)
            opener = opener.with_changes(body=opener.body.with_changes(body=[make_list]))
            body.insert(index, opener.with_changes(leading_lines=hook.leading_lines))
            body[index + 1] = upgraded_hook.with_changes(
                leading_lines=[cst.EmptyLine(indent=False)]
            )
        self.change(
            f"{stage.epoch_end}(outputs) -> {stage.hook} reading self.{stage.outputs}",
            at=self._originals.get(stage.epoch_end),
        )
        return body

    def _collect(self, step: cst.FunctionDef, stage: Stage) -> cst.FunctionDef | None:
        dicts = _dict_names(step)

        def append(value: cst.BaseExpression) -> tuple[list[cst.BaseStatement], cst.BaseExpression]:
            before: list[cst.BaseStatement] = []
            if not isinstance(value, cst.Name):
                before.append(cst.parse_statement(f"output = {code(value)}\n"))
                name, is_dict = "output", isinstance(value, cst.Dict)
                value = cst.Name("output")
            else:
                name, is_dict = value.value, value.value in dicts
            if not stage.training:
                entry = name
            elif is_dict:  # 1.x kept the step's dict with its loss detached
                entry = f'{{**{name}, "loss": {name}["loss"].detach()}}'
            else:  # a dict or a tensor: only running it tells
                entry = (
                    f'{{**{name}, "loss": {name}["loss"].detach()}} if isinstance({name}, dict) '
                    f'else {{"loss": {name}.detach()}}'
                )
            before.append(cst.parse_statement(f"self.{stage.outputs}.append({entry})\n"))
            return before, value

        returns = _Returns(append)
        collected = step.visit(returns)
        if not returns.count or not isinstance(collected, cst.FunctionDef):
            return None
        if stage.training and self.accumulates:
            return self.noted(collected, ACCUMULATE_NOTE, at=self._originals.get(stage.step))
        return collected


def _methods(body: list[cst.BaseStatement]) -> dict[str, int]:
    return {s.name.value: i for i, s in enumerate(body) if isinstance(s, cst.FunctionDef)}


def _dict_names(function: cst.FunctionDef) -> set[str]:
    """Names the method assigns a dict literal to (`result = {"loss": loss}`)."""
    found = set()
    for assign in find(function, cst.Assign):
        if isinstance(assign.value, cst.Dict):
            found |= {t.target.value for t in assign.targets if isinstance(t.target, cst.Name)}
    return found


HEAD = PL_IMPORT


class EpochEndRule(Rule):
    name = "epoch-end"
    summary = "*_epoch_end(outputs) -> on_*_epoch_end with collected outputs; *_step_end called by the step"
    examples: ClassVar[Sequence[Example]] = (
        Example(
            HEAD + "class M(pl.LightningModule):\n"
            "    def validation_step(self, batch, batch_idx):\n        loss = self(batch)\n        return loss\n\n"
            "    def validation_epoch_end(self, outputs):\n        self.log('val_loss', torch.stack(outputs).mean())\n",
            HEAD + "class M(pl.LightningModule):\n"
            "    def validation_step(self, batch, batch_idx):\n        loss = self(batch)\n"
            "        self.validation_step_outputs.append(loss)\n        return loss\n\n"
            "    def on_validation_epoch_start(self):\n"
            "        self.validation_step_outputs = []  # what validation_step returns, for on_validation_epoch_end\n\n"
            "    def on_validation_epoch_end(self):\n        outputs = self.validation_step_outputs\n"
            "        self.log('val_loss', torch.stack(outputs).mean())\n",
        ),
        Example(
            HEAD + "class M(pl.LightningModule):\n"
            "    def training_step(self, batch, batch_idx):\n        return {'loss': self(batch)}\n\n"
            "    def training_epoch_end(self, outs):\n        print(len(outs))\n",
            HEAD + "class M(pl.LightningModule):\n"
            "    def training_step(self, batch, batch_idx):\n        output = {'loss': self(batch)}\n"
            '        self.training_step_outputs.append({**output, "loss": output["loss"].detach()})\n'
            "        return output\n\n"
            "    def on_train_epoch_start(self):\n"
            "        self.training_step_outputs = []  # what training_step returns, for on_train_epoch_end\n\n"
            "    def on_train_epoch_end(self):\n        outs = self.training_step_outputs\n        print(len(outs))\n",
        ),
        Example(
            HEAD
            + "class M(pl.LightningModule):\n    def test_epoch_end(self, outputs):\n        print('done')\n",
            HEAD
            + "class M(pl.LightningModule):\n    def on_test_epoch_end(self):\n        print('done')\n",
        ),
        Example(
            HEAD + "class M(pl.LightningModule):\n"
            "    def training_step(self, batch, batch_idx):\n        return self(batch)\n\n"
            "    def training_step_end(self, out):\n        return out.mean()\n",
            HEAD
            + "class M(pl.LightningModule):\n"
            + "".join(
                f"    {line}\n"
                for line in review_lines(
                    STEP_END_NOTE.format(end="training_step_end", step="training_step")
                )
            )
            + "    def training_step(self, batch, batch_idx):\n        return self.training_step_end(self(batch))\n\n"
            "    def training_step_end(self, out):\n        return out.mean()\n",
        ),
        Example(
            HEAD
            + "class M(pl.LightningModule):\n    def on_validation_epoch_end(self):\n        pass\n"
        ),
    )

    def applies(self, source: str) -> bool:
        return "_epoch_end" in source or "_step_end" in source

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _EpochEnd(context)
