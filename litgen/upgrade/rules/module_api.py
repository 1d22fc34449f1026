"""LightningModule calls 2.x changed: `self.log(...)` arguments, `self.hparams = ...`, 0.x-style step results."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

import libcst as cst
import libcst.matchers as m

from litgen.convert.names import dotted
from litgen.upgrade.classes import classes_of
from litgen.upgrade.rule import (
    PL_IMPORT,
    Example,
    Rule,
    RuleContext,
    RuleTransformer,
    keyword,
    note_text,
)

SELF_LOG = m.Call(func=m.Attribute(value=m.Name("self"), attr=m.Name("log") | m.Name("log_dict")))
REDUCE_NOTE = (
    "`sync_dist_op=` became `reduce_fx=`, which also decides how the epoch value is reduced"
)
RESULT_KEYS = ("log", "progress_bar")
# What the rule reads; `progress_bar` alone would also match every `enable_progress_bar=` flag.
_NEEDLES = re.compile(
    r"load_from_checkpoint|sync_dist_op|tbptt_|self\.hparams\s*=(?!=)|[\"'](?:log|progress_bar)[\"']"
)
STEPS = (
    "training_step",
    "validation_step",
    "test_step",
    "training_step_end",
    "validation_step_end",
    "test_step_end",
)


def _reduction(value: cst.BaseExpression) -> cst.BaseExpression | None:
    """The `reduce_fx=` 2.x takes for a 1.x `sync_dist_op=` (a name, a torch function, or a
    `ReduceOp` member, which 2.x refuses); None when it cannot tell."""
    if isinstance(value, cst.SimpleString):
        return value
    name = dotted(value) or ""
    last = name.rpartition(".")[2]
    if "ReduceOp" in name and last in ("SUM", "MAX", "MIN"):
        return cst.SimpleString(f'"{last.lower()}"')
    if name.startswith("torch.") and last in ("sum", "mean", "min", "max"):
        return value
    return None


def _same_reduction(reduce_fx: cst.BaseExpression, sync_dist_op: cst.BaseExpression) -> bool:
    """Whether `reduce_fx=` and a 1.x `sync_dist_op=` name one reduction ("sum", torch.sum, SUM)."""
    names = []
    for value in (reduce_fx, _reduction(sync_dist_op)):
        if isinstance(value, cst.SimpleString):
            names.append(str(value.evaluated_value).lower())
        else:
            names.append((dotted(value) or "").rpartition(".")[2] if value is not None else "")
    return bool(names[0]) and names[0] == names[1]


class _ModuleApi(RuleTransformer):
    rule = "module-api"

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self.modules = classes_of(context, "module")

    def _on_instance(self, call: cst.Call) -> bool:
        """`model.load_from_checkpoint(path)`: a variable or attribute, not a class (`Net`, `cls`)."""
        if (
            not isinstance(call.func, cst.Attribute)
            or call.func.attr.value != "load_from_checkpoint"
        ):
            return False
        name = dotted(call.func.value)
        if name is None or name in self.context.imports.aliases:
            return False
        last = name.rpartition(".")[2]
        return last[:1].islower() and last != "cls"

    def _in_module(self) -> bool:
        return bool(self.class_names) and self.class_names[-1] in self.modules

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if self._on_instance(original_node):
            # 1.x let an instance call the classmethod; 2.x raises TypeError: its class calls it
            assert isinstance(updated_node.func, cst.Attribute)
            self.change(
                "instance.load_from_checkpoint(...) -> type(instance).load_from_checkpoint(...)"
            )
            receiver = cst.Call(func=cst.Name("type"), args=[cst.Arg(updated_node.func.value)])
            return updated_node.with_changes(func=updated_node.func.with_changes(value=receiver))
        if not self._in_module() or not m.matches(original_node, SELF_LOG):
            return updated_node
        args = []
        for arg in updated_node.args:
            name = arg.keyword.value if arg.keyword is not None else None
            if name == "sync_dist_op":
                value = arg.value
                if isinstance(value, cst.SimpleString) and value.evaluated_value == "mean":
                    self.change("self.log(sync_dist_op='mean') -> the default")
                    continue
                given = keyword(original_node, "reduce_fx")
                if given is not None and _same_reduction(given.value, value):
                    self.change("self.log(sync_dist_op=...) removed: reduce_fx= says the same")
                    continue
                if given is not None:
                    self.note(
                        "`sync_dist_op=` was removed and `reduce_fx=` is given too: keep one",
                        "manual",
                    )
                    args.append(arg)
                    continue
                reduction = _reduction(value)
                if reduction is None:
                    self.note(
                        "`sync_dist_op=` was removed: pass `reduce_fx=` one of "
                        '"sum", "mean", "min", "max" (or torch.sum/mean/min/max)',
                        "manual",
                    )
                    args.append(arg)
                    continue
                self.note(REDUCE_NOTE)
                self.change("self.log(sync_dist_op=...) -> reduce_fx=...")
                args.append(arg.with_changes(keyword=cst.Name("reduce_fx"), value=reduction))
            elif name in ("tbptt_reduce_fx", "tbptt_pad_token"):
                self.change(f"self.log({name}=...) removed")
            else:
                args.append(arg)
        if args and len(args) < len(updated_node.args):
            args[-1] = args[-1].with_changes(comma=updated_node.args[-1].comma)
        return updated_node.with_changes(args=args)

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        """`self.hparams = hparams` (1.x allowed it; 2.x's hparams cannot be assigned) -> save_hyperparameters."""
        if not self._in_module() or len(updated_node.body) != 1:
            return updated_node
        assign = updated_node.body[0]
        if not m.matches(
            assign,
            m.Assign(
                targets=[m.AssignTarget(m.Attribute(value=m.Name("self"), attr=m.Name("hparams")))]
            ),
        ):
            return updated_node
        assert isinstance(assign, cst.Assign)
        self.change("self.hparams = ... -> self.save_hyperparameters(...)")
        call = cst.Expr(
            cst.Call(
                func=cst.parse_expression("self.save_hyperparameters"), args=[cst.Arg(assign.value)]
            )
        )
        return updated_node.with_changes(body=[call])

    def leave_Return(self, original_node: cst.Return, updated_node: cst.Return) -> cst.Return:
        """A step returning `{"log": ..., "progress_bar": ...}` (0.x results): 2.x ignores those keys."""
        if not self._in_module() or not self.function_names or self.function_names[-1] not in STEPS:
            return updated_node
        value = original_node.value
        if isinstance(value, cst.Dict):
            keys = {
                e.key.evaluated_value
                for e in value.elements
                if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)
            }
            found = [key for key in RESULT_KEYS if key in keys]
            if found:
                listed = " and ".join(f"'{key}'" for key in found)
                self.note(
                    f"2.x ignores the {listed} entries of a step's result: log them with `self.log(...)`",
                    "manual",
                )
        return updated_node


HEAD = PL_IMPORT


class ModuleApiRule(Rule):
    name = "module-api"
    summary = "self.log arguments 2.x removed; self.hparams assignment; step results with 'log'/'progress_bar' entries"
    examples: ClassVar[Sequence[Example]] = (
        Example(
            HEAD + "class M(pl.LightningModule):\n    def f(self):\n"
            "        self.log('a', 1, sync_dist=True, sync_dist_op='mean')\n",
            HEAD
            + "class M(pl.LightningModule):\n    def f(self):\n        self.log('a', 1, sync_dist=True)\n",
        ),
        Example(
            HEAD
            + "class M(pl.LightningModule):\n    def f(self):\n        self.log('a', 1, tbptt_reduce_fx=torch.mean)\n",
            HEAD + "class M(pl.LightningModule):\n    def f(self):\n        self.log('a', 1)\n",
        ),
        Example(
            HEAD
            + "class M(pl.LightningModule):\n    def f(self):\n        self.log('a', 1, reduce_fx='sum')\n"
        ),
        Example(  # both name one reduction: the 1.x one goes
            HEAD + "import torch\nclass M(pl.LightningModule):\n    def f(self):\n"
            "        self.log('a', 1, reduce_fx=torch.sum, sync_dist_op='sum')\n",
            HEAD + "import torch\nclass M(pl.LightningModule):\n    def f(self):\n"
            "        self.log('a', 1, reduce_fx=torch.sum)\n",
        ),
        Example("class Other:\n    def f(self):\n        self.log('a', 1, sync_dist_op='sum')\n"),
        Example(  # a classmethod an instance called: 2.x lets only the class call it
            "model = Net()\nbest = model.load_from_checkpoint(path)\nagain = Net.load_from_checkpoint(path)\n",
            "model = Net()\nbest = type(model).load_from_checkpoint(path)\n"
            "again = Net.load_from_checkpoint(path)\n",
        ),
        Example(  # 2.x takes no ReduceOp: its name says the same
            HEAD + "class M(pl.LightningModule):\n    def f(self):\n"
            "        self.log('n', 1, sync_dist=True, sync_dist_op=torch.distributed.ReduceOp.SUM)\n",
            HEAD
            + "class M(pl.LightningModule):\n    def f(self):\n"
            + note_text(REDUCE_NOTE, "        ")
            + "        self.log('n', 1, sync_dist=True, reduce_fx=\"sum\")\n",
        ),
        Example(
            HEAD
            + "class M(pl.LightningModule):\n    def __init__(self, hparams):\n        super().__init__()\n"
            "        self.hparams = hparams\n",
            HEAD
            + "class M(pl.LightningModule):\n    def __init__(self, hparams):\n        super().__init__()\n"
            "        self.save_hyperparameters(hparams)\n",
        ),
    )

    def applies(self, source: str) -> bool:
        return _NEEDLES.search(source) is not None

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _ModuleApi(context)
