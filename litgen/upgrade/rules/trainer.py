"""`Trainer(...)` arguments 2.x removed or renamed, and the `fit`/`validate`/`test`/`tune` calls they feed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import libcst as cst
import libcst.matchers as m

from litgen.convert.names import code, dotted
from litgen.cst_walk import find, holds_statements
from litgen.upgrade.added_imports import add_imports
from litgen.upgrade.flag_values import Callback, Outcome, Value
from litgen.upgrade.flags import FLAGS, KEPT_FLAGS, SPAWN_NOTE, TUNING_FLAGS, flag_outcome
from litgen.upgrade.rule import Example, Rule, RuleContext, RuleTransformer, method_name, note_text
from litgen.upgrade.rules.trainer_args import argument, commas, read_value, with_callbacks
from litgen.upgrade.rules.trainer_calls import (
    TrainerCalls,
    TrainerFacts,
    fit_receivers,
    spread_names,
)

TRAINER = "lightning.pytorch.Trainer"
HEAD = "from lightning.pytorch import Trainer\n"  # the examples' import (the imports rule has run before)


class _Trainer(RuleTransformer):
    rule = "trainer"

    def __init__(
        self, context: RuleContext, facts: TrainerFacts, calls: Sequence[cst.Call]
    ) -> None:
        super().__init__(context)
        self.facts = facts
        # names passed to a Trainer as `**name`: their keys are Trainer arguments
        self.spread = spread_names(calls, context, TRAINER)
        self.imports: set[tuple[str, str]] = set()
        # The argparse rule wrote Trainer options in (its helpers are called by these names).
        self.argparse = any((dotted(call.func) or "").endswith("arguments_of") for call in calls)
        self.namespaces = _namespaces(calls, context)
        self.subclasses = context.project.trainers | {
            node.name.value
            for node in find(context.module, cst.ClassDef, enter=holds_statements)
            if any(context.qualify(base.value) == TRAINER for base in node.bases)
        }
        self._assigned: list[str | None] = []

    def visit_Assign(self, node: cst.Assign) -> None:
        target = node.targets[0].target if len(node.targets) == 1 else None
        self._assigned.append(target.value if isinstance(target, cst.Name) else None)
        self._removed_keys(node)

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        self._assigned.pop()
        return updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if self._constructs_trainer(original_node) or self._trainer_arguments(original_node):
            return self._trainer(updated_node)
        if (
            m.matches(original_node.func, m.Name("dict"))
            and self._assigned
            and self._assigned[-1] in self.spread
        ):  # `kwargs = dict(gpus=1)` later spread into a Trainer: its keywords are Trainer arguments
            return self._trainer(updated_node, owner_known=False)
        if self.argparse and method_name(original_node) == "set_defaults":
            return self._trainer(updated_node, owner_known=False)  # `parser.set_defaults(gpus=2)`
        return updated_node

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        """`args.gpus` where `args` feeds the Trainer: 2.x's command line has no such option."""
        if (
            isinstance(original_node.value, cst.Name)
            and original_node.value.value in self.namespaces
        ):
            flag = original_node.attr.value
            if flag in FLAGS and flag not in KEPT_FLAGS:
                self.note(
                    f"`{code(original_node)}`: `--{flag}` is no longer a Trainer option in 2.x",
                    "manual",
                )
        return updated_node

    def _removed_keys(self, node: cst.Assign) -> None:
        """`params["gpus"] = 1`, `params = {"gpus": 1}` or `config.trainer.gpus = 1` for a mapping
        later spread into a Trainer (`Trainer(**params)`, `Trainer(**config.trainer)`)."""
        for target in node.targets:
            subscript = target.target
            if isinstance(subscript, cst.Attribute) and dotted(subscript.value) in self.spread:
                self._removed_key(subscript.attr.value)
            if isinstance(subscript, cst.Subscript) and dotted(subscript.value) in self.spread:
                key = subscript.slice[0].slice if len(subscript.slice) == 1 else None
                if isinstance(key, cst.Index) and isinstance(key.value, cst.SimpleString):
                    self._removed_key(str(key.value.evaluated_value))
            if isinstance(subscript, cst.Name) and subscript.value in self.spread:
                if isinstance(node.value, cst.Dict):
                    for element in node.value.elements:
                        if isinstance(element, cst.DictElement) and isinstance(
                            element.key, cst.SimpleString
                        ):
                            self._removed_key(str(element.key.evaluated_value))

    def _removed_key(self, key: str) -> None:
        if key in FLAGS and key not in KEPT_FLAGS:
            self.note(
                f"`{key}` goes to a Trainer through `**`, and 2.x has no such argument", "manual"
            )

    def _constructs_trainer(self, call: cst.Call) -> bool:
        """`Trainer(...)`, or a subclass of it (`MyTrainer(...)`, `flash.Trainer(...)` of the project)."""
        if self.context.qualify(call.func) == TRAINER:
            return True
        name = dotted(call.func)
        return name is not None and name.rpartition(".")[2] in self.subclasses

    def _trainer_arguments(self, call: cst.Call) -> bool:
        """`arguments_of(Trainer, args, gpus=0)` (what the argparse rule made of `from_argparse_args`)."""
        return (
            isinstance(call.func, cst.Name)
            and call.func.value == "arguments_of"
            and bool(call.args)
            and self.context.qualify(call.args[0].value) == TRAINER
        )

    def _trainer(self, call: cst.Call, owner_known: bool = True) -> cst.Call:
        owner = self._assigned[-1] if self._assigned and owner_known else None
        if owner is not None:
            self.facts.trainers.add(owner)
        args: list[tuple[cst.Arg, bool]] = []  # (argument, written by litgen)
        callbacks: list[Callback] = []
        notes: list[tuple[str, str]] = []
        changes: list[str] = []
        given: dict[str, Value] = {
            arg.keyword.value: read_value(arg.value) for arg in call.args if arg.keyword is not None
        }
        for arg in call.args:
            name = arg.keyword.value if arg.keyword is not None else None
            outcome = None if name is None else flag_outcome(name, given[name], given)
            if outcome is None or name is None:
                args.append((arg, False))
                continue
            if name in TUNING_FLAGS and owner is not None:
                self.facts.tuning.setdefault(owner, {})[name] = read_value(arg.value)
            if outcome.to_fit is not None and (owner is None or owner not in self.facts.fitted):
                outcome = Outcome(
                    note=f"`{name}=` was removed: pass it to `fit(..., ckpt_path=...)`", manual=True
                )
            if outcome.to_fit is not None and owner is not None:
                self.facts.resume[owner] = arg.value
            if outcome.note is not None:
                notes.append((outcome.note, "manual" if outcome.manual else "review"))
            if outcome.manual:
                args.append((arg, False))
                continue
            if not outcome.arguments and args and not _has_comment(arg.comma):
                args[-1] = (
                    args[-1][0].with_changes(comma=arg.comma),
                    args[-1][1],
                )  # keep the line breaks after it
            args.extend((argument(key, value, arg), True) for key, value in outcome.arguments)
            if outcome.callback is not None:
                callbacks.append(outcome.callback)
            changes.append(f"Trainer({name}=...) -> {outcome.describes}")
        merged = self._merged(args)
        if merged is None:
            return call  # two arguments disagree: nothing is rewritten, the note says why
        for message, kind in notes:
            self.note(message, kind)  # type: ignore[arg-type]
        for change in changes:
            self.change(change)
        if callbacks:
            merged = with_callbacks(merged, callbacks)
            self.imports |= {(c.qualified.rpartition(".")[0], c.name) for c in callbacks}
        return call.with_changes(args=commas(merged, call))

    def _merged(self, args: list[tuple[cst.Arg, bool]]) -> list[cst.Arg] | None:
        """One argument per keyword: litgen's replaces the script's `None`/"auto"; a real clash is refused."""
        chosen: dict[str, tuple[cst.Arg, bool]] = {}
        for arg, new in args:
            name = arg.keyword.value if arg.keyword is not None else None
            if name is None or name not in chosen:
                if name is not None:
                    chosen[name] = (arg, new)
                continue
            previous, previous_new = chosen[name]
            if code(previous.value) == code(arg.value):
                continue
            if previous_new != new and code((arg if previous_new else previous).value) in UNSET:
                chosen[name] = (previous, True) if previous_new else (arg, True)
                continue
            self.note(
                f"after the upgrade `{name}=` would be given twice ({code(previous.value)} and "
                f"{code(arg.value)}): set the 2.x arguments by hand",
                "manual",
            )
            return None
        kept = {id(arg) for arg, _ in chosen.values()}
        return [arg for arg, _ in args if arg.keyword is None or id(arg) in kept]


UNSET = frozenset({"None", '"auto"', "'auto'"})  # a value that only says "Lightning decides"


def _has_comment(comma: cst.Comma | cst.MaybeSentinel) -> bool:
    return isinstance(comma, cst.Comma) and "#" in code(cst.Arg(cst.Name("x"), comma=comma))


def _namespaces(calls: Sequence[cst.Call], context: RuleContext) -> set[str]:
    """Names handed to `arguments_of(Trainer, NAME, ...)`: their attributes were Trainer options."""
    found = set()
    for call in calls:
        if (
            m.matches(call.func, m.Name("arguments_of"))
            and len(call.args) >= 2
            and isinstance(call.args[1].value, cst.Name)
            and context.qualify(call.args[0].value) == TRAINER
        ):
            found.add(call.args[1].value.value)
    return found


class TrainerRule(Rule):
    name = "trainer"
    summary = "Trainer arguments 2.x removed or renamed; fit/validate/test keywords; trainer.tune() -> Tuner"
    examples: ClassVar[Sequence[Example]] = (
        Example(  # keywords gathered for a Trainer
            HEAD + "kwargs = dict(gpus=0, max_epochs=2)\ntrainer = Trainer(**kwargs)\n",
            HEAD + 'kwargs = dict(accelerator="cpu", max_epochs=2)\ntrainer = Trainer(**kwargs)\n',
        ),
        Example(  # a mapping the spread one is built from, key by key
            HEAD + "args = {}\nargs['resume_from_checkpoint'] = 'last.ckpt'\n"
            "kwargs = {name: args[name] for name in ('max_epochs', 'resume_from_checkpoint') if name in args}\n"
            "trainer = Trainer(**kwargs)\n",
            HEAD
            + "args = {}\n"
            + note_text(
                "`resume_from_checkpoint` goes to a Trainer through `**`, and 2.x has no such argument"
            )
            + "args['resume_from_checkpoint'] = 'last.ckpt'\n"
            "kwargs = {name: args[name] for name in ('max_epochs', 'resume_from_checkpoint') if name in args}\n"
            "trainer = Trainer(**kwargs)\n",
        ),
        Example(  # the same through from_argparse_args (as the argparse rule rewrote it)
            HEAD + "params = {}\nparams['amp_level'] = 'O2'\n"
            "trainer = Trainer(**arguments_of(Trainer, args, **params))\n",
            HEAD
            + "params = {}\n"
            + note_text("`amp_level` goes to a Trainer through `**`, and 2.x has no such argument")
            + "params['amp_level'] = 'O2'\ntrainer = Trainer(**arguments_of(Trainer, args, **params))\n",
        ),
        Example(  # a subclass takes the Trainer's arguments
            HEAD
            + "class MyTrainer(Trainer):\n    pass\n\n\ntrainer = MyTrainer(gpus=0, max_epochs=2)\n",
            HEAD + "class MyTrainer(Trainer):\n    pass\n\n\n"
            'trainer = MyTrainer(accelerator="cpu", max_epochs=2)\n',
        ),
        Example(
            HEAD + "trainer = Trainer(gpus=1)\n",
            HEAD + 'trainer = Trainer(accelerator="cuda", devices=1)\n',
        ),
        Example(  # several devices and no strategy: 1.x spawned them
            HEAD + "trainer = Trainer(gpus=2)\n",
            HEAD
            + note_text(SPAWN_NOTE)
            + 'trainer = Trainer(accelerator="cuda", devices=2, strategy="ddp_spawn")\n',
        ),
        Example(  # a strategy among the plugins is 2.x's strategy=, and says the "ddp" already
            HEAD + "from lightning.pytorch.strategies import DDPStrategy\n"
            "trainer = Trainer(plugins=[DDPStrategy(find_unused_parameters=False)], accelerator='ddp', gpus=2)\n",
            HEAD + "from lightning.pytorch.strategies import DDPStrategy\n"
            'trainer = Trainer(strategy=DDPStrategy(find_unused_parameters=False), accelerator="cuda", devices=2)\n',
        ),
        Example(  # 1.x's default process count beside GPUs chose nothing
            HEAD + "trainer = Trainer(num_processes=1, gpus=1)\n",
            HEAD + 'trainer = Trainer(accelerator="cuda", devices=1)\n',
        ),
        Example(
            HEAD + "trainer = Trainer(gpus=0, max_epochs=3)\n",
            HEAD + 'trainer = Trainer(accelerator="cpu", max_epochs=3)\n',
        ),
        Example(
            HEAD + "trainer = Trainer(gpus=2, accelerator='ddp')\n",
            HEAD + 'trainer = Trainer(accelerator="cuda", devices=2, strategy="ddp")\n',
        ),
        Example(
            HEAD + "trainer = Trainer(distributed_backend='ddp')\n",
            HEAD + 'trainer = Trainer(strategy="ddp")\n',
        ),
        Example(
            HEAD + "trainer = Trainer(precision=16, checkpoint_callback=False)\n",
            HEAD + 'trainer = Trainer(precision="16-mixed", enable_checkpointing=False)\n',
        ),
        Example(
            HEAD + "trainer = Trainer(progress_bar_refresh_rate=0, weights_summary=None)\n",
            HEAD + "trainer = Trainer(enable_progress_bar=False, enable_model_summary=False)\n",
        ),
        Example(
            HEAD + "trainer = Trainer(replace_sampler_ddp=False)\n",
            HEAD + "trainer = Trainer(use_distributed_sampler=False)\n",
        ),
        Example(
            HEAD + "trainer = Trainer(progress_bar_refresh_rate=20, callbacks=[early])\n",
            HEAD + "from lightning.pytorch.callbacks import TQDMProgressBar\n\n"
            "trainer = Trainer(callbacks=[early, TQDMProgressBar(refresh_rate=20)])\n",
        ),
        Example(
            HEAD
            + "trainer = Trainer(resume_from_checkpoint='last.ckpt')\ntrainer.fit(model, train_dataloader=loader)\n",
            HEAD
            + "trainer = Trainer()\ntrainer.fit(model, train_dataloaders=loader, ckpt_path='last.ckpt')\n",
        ),
        Example(
            HEAD
            + "trainer = Trainer(auto_lr_find=True)\ntrainer.tune(model)\ntrainer.fit(model)\n",
            HEAD + "from lightning.pytorch.tuner import Tuner\n\n"
            "trainer = Trainer()\ntuner = Tuner(trainer)\ntuner.lr_find(model)\ntrainer.fit(model)\n",
        ),
        Example(
            "trainer.test(model, test_dataloaders=loader)\n",
            "trainer.test(model, dataloaders=loader)\n",
        ),
        Example(  # tune()'s result and its per-search keywords
            HEAD + "trainer = Trainer(auto_lr_find=True)\n"
            "res = trainer.tune(model, train_dataloader=dl, lr_find_kwargs={'max_lr': 0.1})\n"
            "trainer.fit(model, dl)\n",
            HEAD + "from lightning.pytorch.tuner import Tuner\n\n"
            "trainer = Trainer()\ntuner = Tuner(trainer)\n"
            'res = {"lr_find": tuner.lr_find(model, train_dataloaders=dl, max_lr=0.1)}\n'
            "trainer.fit(model, dl)\n",
        ),
        Example(
            HEAD + "trainer = Trainer()\ntrainer.tune(model)\ntrainer.fit(model)\n",
            HEAD + "trainer = Trainer()\ntrainer.fit(model)\n",
        ),
        Example(
            HEAD + "trainer = Trainer(accumulate_grad_batches={0: 8, 4: 4})\n",
            HEAD + "from lightning.pytorch.callbacks import GradientAccumulationScheduler\n\n"
            "trainer = Trainer(callbacks=[GradientAccumulationScheduler(scheduling={0: 8, 4: 4})])\n",
        ),
        Example(
            HEAD
            + "trainer = Trainer(accelerator='gpu', devices=2, strategy='ddp', accumulate_grad_batches=4)\n"
        ),
        Example("result = optimizer.fit(train_dataloader=x)\n"),
        Example(
            "trainer.tuner.lr_find(model, train_dataloader=loader)\n",
            "from lightning.pytorch.tuner import Tuner\n\nTuner(trainer).lr_find(model, train_dataloaders=loader)\n",
        ),
        Example(  # an explicit accelerator decided in 1.x too: the "none" device counts go
            HEAD
            + 'trainer = Trainer(accelerator="auto", devices="auto", gpus=None, num_processes=1)\n',
            HEAD + 'trainer = Trainer(accelerator="auto", devices="auto")\n',
        ),
        Example(
            HEAD + 'trainer = Trainer(accelerator="gpu", gpus=2)\n',
            HEAD + 'trainer = Trainer(accelerator="gpu", devices=2)\n',
        ),
        Example(  # 1.x defaults that 2.x refuses
            HEAD + "trainer = Trainer(strategy=None, max_steps=None, min_steps=None)\n",
            HEAD + "trainer = Trainer(max_steps=-1, min_steps=None)\n",
        ),
        Example(
            HEAD + "trainer = Trainer(gpus=None, accelerator=None)\n",
            HEAD + 'trainer = Trainer(accelerator="cpu")\n',
        ),
        Example(
            HEAD + "trainer = Trainer(\n    weights_summary=None,\n"
            "    auto_lr_find=True,  # find the lr\n    max_epochs=5,\n)\n",
            HEAD + "trainer = Trainer(\n    enable_model_summary=False,\n    max_epochs=5,\n)\n",
        ),
    )

    def applies(self, source: str) -> bool:
        return "Trainer" in source or "trainer" in source

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _Trainer(context, TrainerFacts(), list(find(context.module, cst.Call)))

    def apply(self, module: cst.Module, context: RuleContext) -> cst.Module:
        calls = list(find(module, cst.Call))  # one walk serves every question asked of the calls
        construction = _Trainer(context, TrainerFacts(fitted=fit_receivers(calls)), calls)
        module = module.visit(construction)
        context.rebase(module)
        later_calls = TrainerCalls(context, construction.facts)
        module = module.visit(later_calls)
        needed = set(construction.imports)
        if later_calls.tuner_needed:
            needed.add(("lightning.pytorch.tuner", "Tuner"))
        return add_imports(module, needed)
