"""`*_epoch_end(outputs)` -> `on_*_epoch_end()` with the step outputs collected by the module itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import libcst as cst
import libcst.matchers as m

from litgen.convert.names import code
from litgen.cst_walk import find
from litgen.upgrade.classes import (
    Ancestry,
    ClassBodyTransformer,
    after_super_init,
    ancestry,
)
from litgen.upgrade.rule import PL_IMPORT, Example, Rule, RuleContext, names_in
from litgen.upgrade.rules.epoch_notes import (
    CROSS_CALL_NOTE,
    SEVERAL_LOADERS_NOTE,
    SHADOW_NOTE,
    calls_left,
)
from litgen.upgrade.rules.step_outputs import (
    STAGES,
    Stage,
    collect_outputs,
    methods_of,
    only_docstring,
    only_raises,
)


class _EpochEnd(ClassBodyTransformer):
    rule = "epoch-end"
    kinds = ("module",)

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self.classes = {
            node.name.value: node
            for node in find(
                context.module,
                cst.ClassDef,
                enter=lambda node: not isinstance(node, cst.SimpleStatementLine),
            )
        }
        self._originals: dict[
            str, cst.FunctionDef
        ] = {}  # the class's methods as read (their lines)
        self._ancestry = Ancestry(True, frozenset(), None)  # of the class being upgraded
        self._automatic = True

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # methods are rewritten whole from leave_ClassDef; their bodies need no visit

    def upgrade_body(
        self, original_node: cst.ClassDef, body: list[cst.BaseStatement]
    ) -> list[cst.BaseStatement]:
        self._originals = {
            s.name.value: s for s in original_node.body.body if isinstance(s, cst.FunctionDef)
        }
        self._ancestry = ancestry(original_node, self.classes, self.context)
        self._automatic = "automatic_optimization = False" not in code(original_node)
        collected: list[Stage] = []
        for stage in STAGES:
            body, outputs_made = self._epoch_end(body, stage)
            if outputs_made:
                collected.append(stage)
        for stage in collected:
            body = self._made_in_init(body, stage)
        return calls_left(body, self._ancestry.inherited, self._note_on_method)

    def _note_on_method(self, method: cst.FunctionDef, message: str) -> cst.FunctionDef:
        name = method.name.value
        # a renamed hook (`on_test_epoch_end`) stands where its 1.x one did
        was = next(
            (s.epoch_end for s in STAGES if s.hook == name and s.epoch_end in self._originals), name
        )
        return self.noted(method, message, "manual", at=self._originals.get(was))

    def _made_in_init(self, body: list[cst.BaseStatement], stage: Stage) -> list[cst.BaseStatement]:
        """A step another method calls (`test_step` returning `self.validation_step(...)`) appends
        outside its own epochs: its list must exist from the start."""
        callers = [
            name
            for name, method in methods_of(body).items()
            if name != stage.step
            and any(
                m.matches(c.func, m.Attribute(value=m.Name("self"), attr=m.Name(stage.step)))
                for c in find(body[method], cst.Call)
            )
        ]
        if not callers:
            return body
        init = methods_of(body).get("__init__")
        if init is not None:
            line = f"self.{stage.outputs} = []  # {callers[0]} appends to it too\n"
            body[init] = after_super_init(body[init], line)  # type: ignore[arg-type]
            return body
        index = methods_of(body)[callers[0]]
        body[index] = self.noted(
            body[index],
            CROSS_CALL_NOTE.format(
                caller=callers[0], step=stage.step, outputs=stage.outputs, stage=stage.step[:-5]
            ),
            at=self._originals.get(callers[0]),
        )
        return body

    # --- *_epoch_end --------------------------------------------------------------------------
    def _epoch_end(
        self, body: list[cst.BaseStatement], stage: Stage
    ) -> tuple[list[cst.BaseStatement], bool]:
        """The class with STAGE's epoch-end hook upgraded, and whether the step now collects outputs.

        A class that also defines the 2.x hook gets one: 1.x ran `*_epoch_end` first, then it.
        """
        methods = methods_of(body)
        if stage.epoch_end not in methods or stage.hook not in methods:
            return self._upgraded_alone(body, stage)
        old, existing = body[methods[stage.epoch_end]], body[methods[stage.hook]]
        assert isinstance(old, cst.FunctionDef) and isinstance(existing, cst.FunctionDef)
        if any(
            True for _ in find(old, cst.Return)
        ):  # it may end early: the merge would skip the rest
            body[methods[stage.epoch_end]] = self.noted(
                old,
                f"2.x never calls `{stage.epoch_end}`; this class also defines "
                f"`{stage.hook}`: merge the two there",
                "manual",
            )
            return body, False
        upgraded, collected = self._upgraded_alone(
            [s for s in body if s is not existing], stage, merging=True
        )
        at = methods_of(upgraded).get(stage.hook)
        if (
            at is None
        ):  # the epoch-end hook was left with a note: the class's own hook stays beside it
            upgraded.insert(methods_of(upgraded)[stage.epoch_end] + 1, existing)
            return upgraded, collected
        made = upgraded[at]
        assert isinstance(made, cst.FunctionDef)
        statements = [*made.body.body, *existing.body.body]
        upgraded[at] = existing.with_changes(
            body=existing.body.with_changes(body=statements), leading_lines=made.leading_lines
        )
        return upgraded, collected

    def _upgraded_alone(
        self, body: list[cst.BaseStatement], stage: Stage, merging: bool = False
    ) -> tuple[list[cst.BaseStatement], bool]:
        methods = methods_of(body)
        if stage.epoch_end not in methods:
            return body, False
        index = methods[stage.epoch_end]
        hook = body[index]
        assert isinstance(hook, cst.FunctionDef)
        params = list(hook.params.params)
        outputs = params[1].name.value if len(params) > 1 else None
        only_self = [params[0].with_changes(comma=cst.MaybeSentinel.DEFAULT)] if params else []
        renamed = hook.with_changes(
            name=cst.Name(stage.hook), params=hook.params.with_changes(params=only_self)
        )
        if not merging:  # a merged one ends with the class's own hook
            renamed = self._ends_like_1x(renamed, stage)
        if outputs is None or outputs not in names_in(hook.body):
            body[index] = renamed
            self.change(
                f"{stage.epoch_end} -> {stage.hook}", at=self._originals.get(stage.epoch_end)
            )
            return body, False
        step_index = methods.get(stage.step)
        step = body[step_index] if step_index is not None else None
        if (
            step is None
            and not self._ancestry.direct
            and stage.epoch_end not in self._ancestry.inherited
        ):
            # the step is inherited: an override that calls it collects what it returns
            step = cst.parse_statement(
                f"def {stage.step}(self, *args, **kwargs):\n"
                f"    return super().{stage.step}(*args, **kwargs)\n"
            )
            assert isinstance(step, cst.FunctionDef)
            step = step.with_changes(leading_lines=[cst.EmptyLine(indent=False)])
            body.insert(index + 1, step)
            step_index = index + 1
        if not isinstance(step, cst.FunctionDef):
            body[index] = self.noted(
                hook,
                f"`{stage.epoch_end}` reads the outputs of `{stage.step}`, which this class "
                "does not define: collect them where the step is",
                "manual",
            )
            return body, False
        loader_index = next(
            (p for p in step.params.params if p.name.value == "dataloader_idx"), None
        )
        if loader_index is not None and loader_index.default is None:  # written for several loaders
            body[index] = self.noted(
                hook,
                f"with several dataloaders 1.x passed a list per dataloader to "
                f"`{stage.epoch_end}`: collect them per `dataloader_idx` in `{stage.step}`",
                "manual",
            )
            return body, False
        collected = collect_outputs(
            step,
            stage,
            set(self.context.imports.aliases),
            self._automatic,
            self.context.module.default_indent,
        )
        if collected is None:
            what = (
                f"the subclasses' `{stage.step}` return what `{stage.epoch_end}` reads: collect "
                f"it in them"
                if only_raises(step)
                else f"`{stage.step}` returns nothing to collect for `{stage.epoch_end}`"
            )
            body[index] = self.noted(hook, what, "manual")
            return body, False
        body[step_index] = collected  # type: ignore[index]
        read = cst.parse_statement(f"{outputs} = self.{stage.outputs}\n")
        statements = list(renamed.body.body)
        docstring = 1 if statements and only_docstring(statements[0]) else 0  # it stays first
        hook_body = renamed.body.with_changes(
            body=[*statements[:docstring], read, *statements[docstring:]]
        )
        upgraded_hook = renamed.with_changes(body=hook_body)
        if loader_index is not None:  # a default: one dataloader, unless the Trainer is given more
            upgraded_hook = self.noted(
                upgraded_hook, SEVERAL_LOADERS_NOTE.format(hook=stage.epoch_end)
            )
        body[index] = upgraded_hook
        start = methods.get(stage.start)
        make_list = cst.parse_statement(
            f"self.{stage.outputs} = []  # what {stage.step} returns, for {stage.hook}\n"
        )
        if start is not None:
            opener = body[start]
            assert isinstance(opener, cst.FunctionDef)
            inner = opener.body.with_changes(body=[make_list, *opener.body.body])
            body[start] = opener.with_changes(body=inner)
        else:
            opener = cst.parse_statement(f"def {stage.start}(self):\n    pass\n")
            assert isinstance(opener, cst.FunctionDef)
            opener_body = [make_list]
            if not self._ancestry.direct:  # a base class's own hook still runs, as in 1.x
                opener_body.insert(0, cst.parse_statement(f"super().{stage.start}()\n"))
            opener = opener.with_changes(body=opener.body.with_changes(body=opener_body))
            body.insert(index, opener.with_changes(leading_lines=hook.leading_lines))
            body[index + 1] = upgraded_hook.with_changes(
                leading_lines=[cst.EmptyLine(indent=False)]
            )
        self.change(
            f"{stage.epoch_end}(outputs) -> {stage.hook} reading self.{stage.outputs}",
            at=self._originals.get(stage.epoch_end),
        )
        return body, True

    def _ends_like_1x(self, hook: cst.FunctionDef, stage: Stage) -> cst.FunctionDef:
        """1.x ran a base class's `on_*_epoch_end` after this class's `*_epoch_end`; the renamed
        method now overrides it, so it calls it (unless a base's own `*_epoch_end` was overridden)."""
        if self._ancestry.direct or stage.epoch_end in self._ancestry.inherited:
            return hook
        if stage.hook in self._ancestry.inherited:
            call = cst.parse_statement(f"super().{stage.hook}()\n")
            return hook.with_changes(body=hook.body.with_changes(body=[*hook.body.body, call]))
        if self._ancestry.unseen_base is not None:
            note = SHADOW_NOTE.format(
                hook=stage.hook, base=self._ancestry.unseen_base, old=stage.epoch_end
            )
            return self.noted(hook, note, at=self._originals.get(stage.epoch_end))
        return hook


HEAD = PL_IMPORT


class EpochEndRule(Rule):
    name = "epoch-end"
    summary = "*_epoch_end(outputs) -> on_*_epoch_end with the step outputs collected by the module"
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
            "        self.training_step_outputs.append(\n"
            '            {**output, "loss": output["loss"].detach() / self.trainer.accumulate_grad_batches}\n'
            "        )\n"
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
            HEAD
            + "class M(pl.LightningModule):\n    def on_validation_epoch_end(self):\n        pass\n"
        ),
        Example(  # the class has the 2.x hook too: 1.x ran the epoch-end hook first, then it
            HEAD + "class M(pl.LightningModule):\n"
            "    def test_epoch_end(self, outputs):\n        print('tested')\n\n"
            "    def on_test_epoch_end(self):\n        self.report()\n",
            HEAD + "class M(pl.LightningModule):\n"
            "    def on_test_epoch_end(self):\n        print('tested')\n        self.report()\n",
        ),
        Example(  # a step may return None: 1.x left it out of the outputs
            HEAD + "class M(pl.LightningModule):\n"
            "    def validation_step(self, batch, batch_idx):\n        return self.shared(batch)\n\n"
            "    def validation_epoch_end(self, outputs):\n        print(len(outputs))\n",
            HEAD + "class M(pl.LightningModule):\n"
            "    def validation_step(self, batch, batch_idx):\n        output = self.shared(batch)\n"
            "        if output is not None:\n            self.validation_step_outputs.append(output)\n"
            "        return output\n\n"
            "    def on_validation_epoch_start(self):\n"
            "        self.validation_step_outputs = []  # what validation_step returns, for on_validation_epoch_end\n\n"
            "    def on_validation_epoch_end(self):\n        outputs = self.validation_step_outputs\n"
            "        print(len(outputs))\n",
        ),
        Example(  # test_step runs validation_step: its list must exist before any validation epoch
            HEAD + "class M(pl.LightningModule):\n"
            "    def __init__(self):\n        super().__init__()\n\n"
            "    def validation_step(self, batch, batch_idx):\n        return batch\n\n"
            "    def validation_epoch_end(self, outputs):\n        print(len(outputs))\n\n"
            "    def test_step(self, batch, batch_idx):\n        return self.validation_step(batch, batch_idx)\n",
            HEAD + "class M(pl.LightningModule):\n"
            "    def __init__(self):\n        super().__init__()\n"
            "        self.validation_step_outputs = []  # test_step appends to it too\n\n"
            "    def validation_step(self, batch, batch_idx):\n"
            "        self.validation_step_outputs.append(batch)\n        return batch\n\n"
            "    def on_validation_epoch_start(self):\n"
            "        self.validation_step_outputs = []  # what validation_step returns, for on_validation_epoch_end\n\n"
            "    def on_validation_epoch_end(self):\n        outputs = self.validation_step_outputs\n"
            "        print(len(outputs))\n\n"
            "    def test_step(self, batch, batch_idx):\n        return self.validation_step(batch, batch_idx)\n",
        ),
        Example(  # a base class's own epoch hooks still run, as in 1.x
            HEAD + "class Base(pl.LightningModule):\n"
            "    def on_train_epoch_start(self):\n        self.unfreeze()\n\n"
            "    def on_train_epoch_end(self):\n        self.log_epoch()\n\n\n"
            "class Child(Base):\n"
            "    def training_step(self, batch, batch_idx):\n        return self(batch)\n\n"
            "    def training_epoch_end(self, outputs):\n        print(len(outputs))\n",
            HEAD + "class Base(pl.LightningModule):\n"
            "    def on_train_epoch_start(self):\n        self.unfreeze()\n\n"
            "    def on_train_epoch_end(self):\n        self.log_epoch()\n\n\n"
            "class Child(Base):\n"
            "    def training_step(self, batch, batch_idx):\n        output = self(batch)\n"
            "        self.training_step_outputs.append(\n"
            '            {**output, "loss": output["loss"].detach() / self.trainer.accumulate_grad_batches}\n'
            "            if isinstance(output, dict)\n"
            '            else {"loss": output.detach() / self.trainer.accumulate_grad_batches}\n'
            "        )\n        return output\n\n"
            "    def on_train_epoch_start(self):\n        super().on_train_epoch_start()\n"
            "        self.training_step_outputs = []  # what training_step returns, for on_train_epoch_end\n\n"
            "    def on_train_epoch_end(self):\n        outputs = self.training_step_outputs\n"
            "        print(len(outputs))\n        super().on_train_epoch_end()\n",
        ),
    )

    def applies(self, source: str) -> bool:
        return "_epoch_end" in source

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _EpochEnd(context)
