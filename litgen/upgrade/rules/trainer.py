"""`Trainer(...)` arguments 2.x removed or renamed, and the `fit`/`validate`/`test`/`tune` calls they feed."""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from typing import ClassVar

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from litgen.convert.names import code, dotted
from litgen.upgrade.flags import FLAGS, TUNING_FLAGS, Callback, Code, NewValue, Outcome, Unknown, Value, accelerator_value
from litgen.upgrade.rule import Example, Rule, RuleContext, RuleTransformer, keyword, method_name

TRAINER = "lightning.pytorch.Trainer"
HEAD = "from lightning.pytorch import Trainer\n"  # the examples' import (the imports rule has run before)
# `trainer.<method>(old=...)` keyword renames (1.x -> 2.x).
CALL_KEYWORDS: dict[str, dict[str, str]] = {
    "fit": {"train_dataloader": "train_dataloaders", "val_dataloader": "val_dataloaders"},
    "validate": {"val_dataloaders": "dataloaders", "test_dataloaders": "dataloaders"},
    "test": {"test_dataloaders": "dataloaders"},
    "predict": {"test_dataloaders": "dataloaders"},
}


def read_value(node: cst.BaseExpression) -> Value:
    """A literal's value, or Unknown(code) for an expression litgen cannot evaluate."""
    text = code(node)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return Unknown(text, pure=dotted(node) is not None)
    if isinstance(value, tuple):
        value = list(value)
    return value if isinstance(value, (type(None), bool, int, float, str, list, dict)) else Unknown(text, pure=False)


def python(value: NewValue) -> str:
    if isinstance(value, Code):
        return value.text
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(python(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{python(key)}: {python(item)}" for key, item in value.items()) + "}"
    return repr(value)


def _argument(key: str, value: NewValue, like: cst.Arg) -> cst.Arg:
    return like.with_changes(keyword=cst.Name(key), value=cst.parse_expression(python(value)))


def _callback_call(callback: Callback) -> str:
    arguments = ", ".join(f"{key}={python(value)}" for key, value in callback.arguments)
    return f"{callback.name}({arguments})"


class _Trainer(RuleTransformer):
    rule = "trainer"

    def __init__(self, context: RuleContext, fitted: set[str]) -> None:
        super().__init__(context)
        self.fitted = fitted  # names whose `.fit(...)` the script calls
        self.resume: dict[str, cst.BaseExpression] = {}  # trainer name -> checkpoint its fit resumes from
        self.tuning: dict[str, dict[str, Value]] = {}  # trainer name -> auto_lr_find / auto_scale_batch_size
        self.imports: set[tuple[str, str]] = set()
        self.trainers: set[str] = set()  # names a `Trainer(...)` is assigned to
        self._assigned: list[str | None] = []

    def visit_Assign(self, node: cst.Assign) -> None:
        target = node.targets[0].target if len(node.targets) == 1 else None
        self._assigned.append(target.value if isinstance(target, cst.Name) else None)

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        self._assigned.pop()
        return updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if self.context.qualify(original_node.func) == TRAINER or self._trainer_arguments(original_node):
            return self._trainer(updated_node)
        return updated_node

    def _trainer_arguments(self, call: cst.Call) -> bool:
        """`arguments_of(Trainer, args, gpus=0)` (what the argparse rule made of `from_argparse_args`)."""
        return (
            isinstance(call.func, cst.Name) and call.func.value == "arguments_of" and bool(call.args)
            and self.context.qualify(call.args[0].value) == TRAINER
        )

    def _trainer(self, call: cst.Call) -> cst.Call:
        owner = self._assigned[-1] if self._assigned else None
        if owner is not None:
            self.trainers.add(owner)
        args: list[cst.Arg] = []
        callbacks: list[Callback] = []
        for arg in call.args:
            name = arg.keyword.value if arg.keyword is not None else None
            if name == "accelerator":
                outcome = accelerator_value(read_value(arg.value))
            elif name in FLAGS:
                outcome = FLAGS[name](read_value(arg.value))
            else:
                outcome = None
            if outcome is None or name is None:
                args.append(arg)
                continue
            if name in TUNING_FLAGS and owner is not None:
                self.tuning.setdefault(owner, {})[name] = read_value(arg.value)
            if outcome.to_fit is not None and (owner is None or owner not in self.fitted):
                outcome = Outcome(note=f"`{name}=` was removed: pass it to `fit(..., ckpt_path=...)`", manual=True)
            if outcome.to_fit is not None and owner is not None:
                self.resume[owner] = arg.value
            if outcome.note is not None:
                self.note(outcome.note, "manual" if outcome.manual else "review")
            if outcome.manual:
                args.append(arg)
                continue
            if not outcome.arguments and args:
                args[-1] = args[-1].with_changes(comma=arg.comma)  # the layout (line breaks) after it stays
            args.extend(_argument(key, value, arg) for key, value in outcome.arguments)
            if outcome.callback is not None:
                callbacks.append(outcome.callback)
            self.change(f"Trainer({name}=...) -> {outcome.describes}")
        args = self._deduplicated(args)
        if callbacks:
            args = self._with_callbacks(args, callbacks)
        return call.with_changes(args=_commas(args, call))

    def _deduplicated(self, args: list[cst.Arg]) -> list[cst.Arg]:
        seen: dict[str, str] = {}
        kept: list[cst.Arg] = []
        for arg in args:
            name = arg.keyword.value if arg.keyword is not None else None
            if name is not None and name in seen:
                if seen[name] != code(arg.value):
                    self.note(f"`{name}=` is given twice with different values after the upgrade: keep one", "manual")
                    kept.append(arg)
                continue
            if name is not None:
                seen[name] = code(arg.value)
            kept.append(arg)
        return kept

    def _with_callbacks(self, args: list[cst.Arg], callbacks: list[Callback]) -> list[cst.Arg]:
        made = [_callback_call(c) for c in callbacks]
        for callback in callbacks:
            self.imports.add((callback.qualified.rpartition(".")[0], callback.name))
        for index, arg in enumerate(args):
            if arg.keyword is None or arg.keyword.value != "callbacks":
                continue
            if isinstance(arg.value, cst.List):
                elements = [*arg.value.elements]
                if elements:
                    elements[-1] = elements[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                elements += [cst.Element(cst.parse_expression(text)) for text in made]
                elements = [*elements[:-1], elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)]
                args[index] = arg.with_changes(value=arg.value.with_changes(elements=elements))
            else:
                value = f"[*({code(arg.value)} or []), {', '.join(made)}]"
                args[index] = arg.with_changes(value=cst.parse_expression(value))
            return args
        template = args[-1] if args else cst.Arg(cst.Name("x"))
        return [*args, template.with_changes(keyword=cst.Name("callbacks"), value=cst.parse_expression(f"[{', '.join(made)}]"),
                                             equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))]


def _commas(args: list[cst.Arg], call: cst.Call) -> list[cst.Arg]:
    """Every argument but the last ends in a comma; the last keeps whatever the call's last one had."""
    trailing = call.args[-1].comma if call.args else cst.MaybeSentinel.DEFAULT
    fixed = []
    for index, arg in enumerate(args):
        if index < len(args) - 1:
            if isinstance(arg.comma, cst.MaybeSentinel):
                arg = arg.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        else:
            arg = arg.with_changes(comma=trailing)
        fixed.append(arg)
    return fixed


class _TrainerCalls(RuleTransformer):
    """`trainer.fit(train_dataloader=...)` keyword renames, `ckpt_path=` from the Trainer, `tune()` -> Tuner."""

    rule = "trainer"

    def __init__(self, context: RuleContext, found: _Trainer) -> None:
        super().__init__(context)
        self.found = found
        self.tuner_needed = False

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        method = method_name(original_node)
        receiver = dotted(original_node.func.value) if isinstance(original_node.func, cst.Attribute) else None
        if method is None or receiver is None or not self._is_trainer(receiver, original_node):
            return updated_node
        renames = CALL_KEYWORDS.get(method, {})
        args = []
        for arg in updated_node.args:
            if arg.keyword is not None and arg.keyword.value in renames:
                new = renames[arg.keyword.value]
                self.change(f"{method}({arg.keyword.value}=...) -> {method}({new}=...)")
                arg = arg.with_changes(keyword=cst.Name(new))
            args.append(arg)
        if method == "fit" and receiver in self.found.resume and keyword(updated_node, "ckpt_path") is None:
            template = args[-1] if args else cst.Arg(cst.Name("x"))
            checkpoint = template.with_changes(keyword=cst.Name("ckpt_path"), value=self.found.resume[receiver],
                                               equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
            args = _commas([*args, checkpoint], updated_node)
            self.change("Trainer(resume_from_checkpoint=...) -> fit(ckpt_path=...)")
        return updated_node.with_changes(args=args)

    def _is_trainer(self, receiver: str, call: cst.Call) -> bool:
        return receiver in self.found.trainers or "trainer" in receiver.lower()

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement] | cst.RemovalSentinel:
        """`trainer.tune(model, ...)` as a statement -> the Tuner calls its Trainer flags asked for."""
        if len(updated_node.body) != 1 or not isinstance(updated_node.body[0], cst.Expr):
            return updated_node
        call = updated_node.body[0].value
        if not isinstance(call, cst.Call) or method_name(call) != "tune" or not isinstance(call.func, cst.Attribute):
            return updated_node
        receiver = dotted(call.func.value)
        if receiver is None or receiver not in self.found.trainers:
            if receiver is not None and "trainer" in receiver.lower():
                self.note("`Trainer.tune()` was removed: run `Tuner(trainer).lr_find(model)` or "
                          "`.scale_batch_size(model)` (from lightning.pytorch.tuner)", "manual")
            return updated_node
        flags = self.found.tuning.get(receiver, {})
        if not any(value not in (None, False) for value in flags.values()):
            self.change("trainer.tune(...) removed: its Trainer asked for no tuning, so 1.x did nothing there")
            return cst.RemovalSentinel.REMOVE
        arguments = ", ".join(code(arg) for arg in call.args).rstrip(", ")
        statements = []
        tuner = "tuner"
        statements.append(f"{tuner} = Tuner({receiver})")
        size = flags.get("auto_scale_batch_size")  # 1.x tune() scaled the batch size first, then found the lr
        if size not in (None, False):
            mode = f", mode={python(size)}" if isinstance(size, str) else ""
            statements.append(f"{tuner}.scale_batch_size({arguments}{mode})")
        lr = flags.get("auto_lr_find")
        if lr not in (None, False):
            attribute = f", attr_name={python(lr)}" if isinstance(lr, str) else ""
            statements.append(f"{tuner}.lr_find({arguments}{attribute})")
        if any(isinstance(value, Unknown) for value in flags.values()):
            self.note("the Trainer's tuning flags were expressions: the Tuner runs both searches; drop what you do not need")
        self.tuner_needed = True
        self.change("trainer.tune(...) -> Tuner(trainer)")
        nodes = [cst.parse_statement(text + "\n") for text in statements]
        nodes[0] = nodes[0].with_changes(leading_lines=updated_node.leading_lines)
        return cst.FlattenSentinel(nodes)


class _FitReceivers(cst.CSTVisitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Call(self, node: cst.Call) -> None:
        if method_name(node) in ("fit", "tune") and isinstance(node.func, cst.Attribute):
            receiver = dotted(node.func.value)
            if receiver is not None:
                self.names.add(receiver)


class TrainerRule(Rule):
    name = "trainer"
    summary = "Trainer arguments 2.x removed or renamed; fit/validate/test keywords; trainer.tune() -> Tuner"
    examples: ClassVar[Sequence[Example]] = (
        Example(HEAD + "trainer = Trainer(gpus=2)\n", HEAD + 'trainer = Trainer(accelerator="cuda", devices=2)\n'),
        Example(HEAD + "trainer = Trainer(gpus=0, max_epochs=3)\n", HEAD + 'trainer = Trainer(accelerator="cpu", max_epochs=3)\n'),
        Example(
            HEAD + "trainer = Trainer(gpus=2, accelerator='ddp')\n",
            HEAD + 'trainer = Trainer(accelerator="cuda", devices=2, strategy="ddp")\n',
        ),
        Example(HEAD + "trainer = Trainer(distributed_backend='ddp')\n", HEAD + 'trainer = Trainer(strategy="ddp")\n'),
        Example(
            HEAD + "trainer = Trainer(precision=16, checkpoint_callback=False)\n",
            HEAD + 'trainer = Trainer(precision="16-mixed", enable_checkpointing=False)\n',
        ),
        Example(
            HEAD + "trainer = Trainer(progress_bar_refresh_rate=0, weights_summary=None)\n",
            HEAD + "trainer = Trainer(enable_progress_bar=False, enable_model_summary=False)\n",
        ),
        Example(
            HEAD + "trainer = Trainer(replace_sampler_ddp=False)\n", HEAD + "trainer = Trainer(use_distributed_sampler=False)\n"
        ),
        Example(
            HEAD + "trainer = Trainer(progress_bar_refresh_rate=20, callbacks=[early])\n",
            HEAD + "from lightning.pytorch.callbacks import TQDMProgressBar\n\n"
            "trainer = Trainer(callbacks=[early, TQDMProgressBar(refresh_rate=20)])\n",
        ),
        Example(
            HEAD + "trainer = Trainer(resume_from_checkpoint='last.ckpt')\ntrainer.fit(model, train_dataloader=loader)\n",
            HEAD + "trainer = Trainer()\ntrainer.fit(model, train_dataloaders=loader, ckpt_path='last.ckpt')\n",
        ),
        Example(
            HEAD + "trainer = Trainer(auto_lr_find=True)\ntrainer.tune(model)\ntrainer.fit(model)\n",
            HEAD + "from lightning.pytorch.tuner import Tuner\n\n"
            "trainer = Trainer()\ntuner = Tuner(trainer)\ntuner.lr_find(model)\ntrainer.fit(model)\n",
        ),
        Example("trainer.test(model, test_dataloaders=loader)\n", "trainer.test(model, dataloaders=loader)\n"),
        Example(HEAD + "trainer = Trainer()\ntrainer.tune(model)\ntrainer.fit(model)\n", HEAD + "trainer = Trainer()\ntrainer.fit(model)\n"),
        Example(
            HEAD + "trainer = Trainer(accumulate_grad_batches={0: 8, 4: 4})\n",
            HEAD + "from lightning.pytorch.callbacks import GradientAccumulationScheduler\n\n"
            "trainer = Trainer(callbacks=[GradientAccumulationScheduler(scheduling={0: 8, 4: 4})])\n",
        ),
        Example(HEAD + "trainer = Trainer(accelerator='gpu', devices=2, strategy='ddp', accumulate_grad_batches=4)\n"),
        Example("result = optimizer.fit(train_dataloader=x)\n"),
    )

    def applies(self, source: str) -> bool:
        return "Trainer" in source or "trainer" in source

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _Trainer(context, set())

    def apply(self, module: cst.Module, context: RuleContext) -> cst.Module:
        receivers = _FitReceivers()
        module.visit(receivers)
        construction = _Trainer(context, receivers.names)
        module = module.visit(construction)
        calls = _TrainerCalls(context, construction)
        module = module.visit(calls)
        needed = set(construction.imports)
        if calls.tuner_needed:
            needed.add(("lightning.pytorch.tuner", "Tuner"))
        if needed:
            codemod = CodemodContext()
            for module_name, obj in sorted(needed):
                AddImportsVisitor.add_needed_import(codemod, module_name, obj)
            module = AddImportsVisitor(codemod).transform_module(module)
        return module
