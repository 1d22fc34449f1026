"""Hooks 2.x renamed, changed the signature of, or no longer calls (LightningModule and Callback)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import libcst as cst
import libcst.matchers as m

from litgen.upgrade.classes import lightning_classes
from litgen.upgrade.rule import (
    PL_IMPORT,
    Example,
    Kind,
    Rule,
    RuleContext,
    RuleTransformer,
    names_in,
    note_text,
)

_TRAIN_ONLY = "1.x also ran `{old}` around validation and test epochs; 2.x runs `{new}` for training epochs only"


@dataclass(frozen=True)
class HookChange:
    """What becomes of one 1.x hook: a new name, parameters dropped or added, a note; or `ignored` advice."""

    new: str | None = None
    drop: tuple[str, ...] = ()
    add: tuple[str, ...] = ()
    note: str | None = None
    # 2.x never calls it and nothing equals it: what the user can do instead ("" when nothing)
    ignored: str | None = None
    # the hook's full 1.x parameter count, self included: its last one (the dataloader index, which
    # 1.x always passed and 2.x passes only with several loaders) gets the default 0
    loader_default: int | None = None
    # `add` only fills a signature shorter than this (self included): older 1.x took fewer
    add_up_to: int | None = None


def _eval_batch_hooks(extra: int) -> dict[str, HookChange]:
    """`on_{validation,test,predict}_batch_{start,end}`: 1.x always passed `dataloader_idx`."""
    return {
        f"on_{stage}_batch_{when}": HookChange(loader_default=extra + (5 if when == "end" else 4))
        for stage in ("validation", "test", "predict")
        for when in ("start", "end")
    }


_COMMON: dict[str, HookChange] = {
    "on_epoch_start": HookChange(
        "on_train_epoch_start",
        note=_TRAIN_ONLY.format(old="on_epoch_start", new="on_train_epoch_start"),
    ),
    "on_epoch_end": HookChange(
        "on_train_epoch_end", note=_TRAIN_ONLY.format(old="on_epoch_end", new="on_train_epoch_end")
    ),
    "on_pretrain_routine_start": HookChange("on_fit_start"),
    "on_pretrain_routine_end": HookChange("on_fit_start"),
    "on_train_epoch_end": HookChange(drop=("outputs",)),
    # 1.x passed a module `results` and a callback `outputs`: the predictions, now kept by the writer
    "on_predict_epoch_end": HookChange(drop=("results", "outputs")),
    "on_train_batch_start": HookChange(drop=("dataloader_idx",)),
    "on_train_batch_end": HookChange(drop=("dataloader_idx",)),
}
MODULE_HOOKS: dict[str, HookChange] = {
    **_COMMON,
    **_eval_batch_hooks(extra=0),  # (self, [outputs,] batch, batch_idx, dataloader_idx)
    "on_batch_start": HookChange("on_train_batch_start", add=("batch", "batch_idx")),
    "on_batch_end": HookChange("on_train_batch_end", add=("outputs", "batch", "batch_idx")),
    "optimizer_step": HookChange(
        drop=("optimizer_idx", "on_tpu", "using_native_amp", "using_lbfgs")
    ),
    "optimizer_zero_grad": HookChange(drop=("optimizer_idx",)),
    "backward": HookChange(drop=("optimizer", "optimizer_idx")),
    "on_before_optimizer_step": HookChange(drop=("optimizer_idx",)),
    "configure_gradient_clipping": HookChange(drop=("optimizer_idx",)),
    "lr_scheduler_step": HookChange(drop=("optimizer_idx",)),
    "get_progress_bar_dict": HookChange(ignored="log with `self.log(..., prog_bar=True)`"),
    "on_post_move_to_device": HookChange(ignored="tie weights in `__init__` or `setup`"),
    "on_hpc_save": HookChange(ignored="use `on_save_checkpoint` (it runs for every checkpoint)"),
    "on_hpc_load": HookChange(ignored="use `on_load_checkpoint` (it runs for every checkpoint)"),
    "add_to_queue": HookChange(ignored=""),
    "get_from_queue": HookChange(ignored=""),
    **{
        f"on_{stage}_dataloader": HookChange(ignored=f"do this in `{stage}_dataloader()`")
        for stage in ("train", "val", "test", "predict")
    },
}
CALLBACK_HOOKS: dict[str, HookChange] = {
    **_COMMON,
    **_eval_batch_hooks(extra=2),  # and trainer, pl_module
    "on_batch_start": HookChange("on_train_batch_start", add=("batch", "batch_idx")),
    "on_batch_end": HookChange("on_train_batch_end", add=("outputs", "batch", "batch_idx")),
    "on_before_optimizer_step": HookChange(drop=("optimizer_idx", "opt_idx")),
    # early 1.x called a callback's checkpoint hooks without the checkpoint; 2.x passes it
    "on_save_checkpoint": HookChange(add=("checkpoint",), add_up_to=4),
    "on_load_checkpoint": HookChange(add=("checkpoint",), add_up_to=4),
    # BaseFinetuning calls it once per optimizer, without the index since 2.0
    "finetune_function": HookChange(drop=("optimizer_idx", "opt_idx")),
    "on_init_start": HookChange(ignored="a callback cannot run before the Trainer exists"),
    "on_init_end": HookChange(ignored="use `setup(trainer, pl_module, stage)`"),
    "on_keyboard_interrupt": HookChange(
        ignored=(
            "use `on_exception(self, trainer, pl_module, exception)` "
            "and check `isinstance(exception, KeyboardInterrupt)`"
        )
    ),
}
HOOKS: dict[Kind, dict[str, HookChange]] = {
    "module": MODULE_HOOKS,
    "callback": CALLBACK_HOOKS,
    "datamodule": {},
}


class _Hooks(RuleTransformer):
    rule = "hooks"

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self.kinds = lightning_classes(context.module, context)
        self._classes: list[tuple[Kind | None, set[str]]] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        methods = {s.name.value for s in node.body.body if isinstance(s, cst.FunctionDef)}
        self._classes.append((self.kinds.get(node.name.value), methods))

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        self._classes.pop()
        return updated_node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return (
            False  # a hook's name and parameters are all this rule reads: its body is not visited
        )

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        if not self._classes or self._classes[-1][0] is None:
            return updated_node
        kind, methods = self._classes[-1]
        assert kind is not None
        name = original_node.name.value
        change = HOOKS[kind].get(name)
        if change is None:
            return updated_node
        params = [p.name.value for p in original_node.params.params]
        if change.ignored is not None:
            advice = f": {change.ignored}" if change.ignored else ""
            self.note(f"2.x never calls `{name}`{advice}", "manual")
            return updated_node
        if change.loader_default is not None:
            return self._loader_default(updated_node, change.loader_default)
        dropped = [p for p in params if p in change.drop]
        missing = [p for p in change.add if p not in params]
        if change.add_up_to is not None:
            missing = missing[: max(0, change.add_up_to - len(params))]
        if change.new is None and not dropped and not missing:
            return updated_node
        used = names_in(original_node.body)
        if any(p in used for p in dropped):
            read = [p for p in dropped if p in used]
            gone = ", ".join(f"`{p}`" for p in read)
            self.note(
                f"`{name}` reads {gone}, which 2.x no longer passes: get what it needs another way, "
                f"then remove the parameter{'s' if len(read) > 1 else ''}",
                "manual",
            )
            return updated_node
        if change.new is not None and change.new in methods:
            self.note(
                f"`{name}` became `{change.new}` in 2.x, which this class already defines: merge them",
                "manual",
            )
            return updated_node
        kept = [p for p in updated_node.params.params if p.name.value not in change.drop]
        added = [cst.Param(cst.Name(p)) for p in missing]
        trailing = updated_node.params.params[-1].comma if updated_node.params.params else None
        new_params = updated_node.params.with_changes(params=_commas([*kept, *added], trailing))
        result = updated_node.with_changes(params=new_params)
        # `super().on_batch_end(trainer, pl_module)` inside: 2.x's base has only the new hook
        calls = _SuperCalls(
            name, change.new or name, params, [p.name.value for p in new_params.params]
        )
        result = result.with_changes(body=result.body.visit(calls))
        if calls.left:
            self.note(
                f"`super().{name}(...)` calls a hook 2.x's base class no longer has: call "
                f"`super().{change.new or name}(...)` with its 2.x parameters",
                "manual",
            )
        if change.new is not None:
            result = result.with_changes(name=cst.Name(change.new))
            methods.add(change.new)
            self.change(f"{name} -> {change.new}")
        if dropped:
            self.change(f"{name}: parameters {', '.join(dropped)} removed")
        if missing and change.new is None:
            self.change(f"{name}: parameters {', '.join(missing)} added")
        if change.note is not None:
            self.note(change.note)
        return result

    def _loader_default(self, hook: cst.FunctionDef, count: int) -> cst.FunctionDef:
        defaulted = _with_loader_default(hook, count)
        if defaulted is None:
            return hook
        self.change(
            f"{hook.name.value}: the dataloader index defaults to 0 (2.x passes it only with several)"
        )
        return defaulted


def _with_loader_default(hook: cst.FunctionDef, count: int) -> cst.FunctionDef | None:
    """HOOK with its last parameter (the dataloader index) defaulting to 0; None: nothing to do."""
    params = list(hook.params.params)
    if len(params) != count or params[-1].default is not None:
        return None
    # PEP 8: `idx=0`, but `idx: int = 0`
    space = cst.SimpleWhitespace(" " if params[-1].annotation is not None else "")
    last = params[-1].with_changes(default=cst.Integer("0"), equal=cst.AssignEqual(space, space))
    return hook.with_changes(params=hook.params.with_changes(params=[*params[:-1], last]))


class _SuperCalls(cst.CSTTransformer):
    """`super().OLD(<the hook's own parameters>)` -> `super().NEW(<the new hook's parameters>)`."""

    def __init__(self, old: str, new: str, params: list[str], new_params: list[str]) -> None:
        super().__init__()
        self.old, self.new = old, new
        self.passed = params[1:]  # what the hook received, self aside
        self.new_params = new_params[1:]
        self.left = False  # a call that passes something else: a person rewrites it

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if not m.matches(
            updated_node.func,
            m.Attribute(value=m.Call(func=m.Name("super")), attr=m.Name(self.old)),
        ):
            return updated_node
        passed = [
            arg.value.value
            if isinstance(arg.value, cst.Name) and arg.keyword is None and not arg.star
            else None
            for arg in updated_node.args
        ]
        if passed != self.passed:
            self.left = True
            return updated_node
        assert isinstance(updated_node.func, cst.Attribute)
        return updated_node.with_changes(
            func=updated_node.func.with_changes(attr=cst.Name(self.new)),
            args=[
                cst.Arg(
                    cst.Name(p),
                    comma=cst.MaybeSentinel.DEFAULT
                    if i == len(self.new_params) - 1
                    else cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
                )
                for i, p in enumerate(self.new_params)
            ],
        )


def _commas(
    params: list[cst.Param], trailing: cst.Comma | cst.MaybeSentinel | None = None
) -> list[cst.Param]:
    """Commas between PARAMS; the last one ends as the old last one did (a multi-line trailing comma)."""
    fixed = []
    for index, param in enumerate(params):
        last = index == len(params) - 1
        if last:
            param = param.with_changes(comma=trailing or cst.MaybeSentinel.DEFAULT)
        elif isinstance(param.comma, cst.MaybeSentinel):
            param = param.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        fixed.append(param)
    return fixed


HEAD = PL_IMPORT


class HooksRule(Rule):
    name = "hooks"
    summary = "hooks renamed or re-signed in 2.x; hooks 2.x never calls are reported"
    examples: ClassVar[Sequence[Example]] = (
        Example(  # 1.x always passed the dataloader index; 2.x only with several loaders
            HEAD + "class Norm(pl.Callback):\n"
            "    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, _idx):\n"
            "        pass\n",
            HEAD + "class Norm(pl.Callback):\n"
            "    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, _idx=0):\n"
            "        pass\n",
        ),
        Example(  # a multi-line signature keeps its layout; an annotated default gets spaces
            HEAD + "class Norm(pl.Callback):\n"
            "    def on_train_batch_end(\n        self,\n        trainer,\n        pl_module,\n"
            "        outputs,\n        batch,\n        batch_idx: int,\n        dataloader_idx: int,\n"
            "    ):\n        pass\n\n"
            "    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, idx: int):\n"
            "        pass\n",
            HEAD + "class Norm(pl.Callback):\n"
            "    def on_train_batch_end(\n        self,\n        trainer,\n        pl_module,\n"
            "        outputs,\n        batch,\n        batch_idx: int,\n    ):\n        pass\n\n"
            "    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, idx: int = 0):\n"
            "        pass\n",
        ),
        Example(  # a call of the 1.x hook on the base class follows it
            HEAD + "class Clamp(pl.Callback):\n    def on_batch_end(self, trainer, pl_module):\n"
            "        pl_module.clamp()\n        super().on_batch_end(trainer, pl_module)\n",
            HEAD + "class Clamp(pl.Callback):\n"
            "    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):\n"
            "        pl_module.clamp()\n"
            "        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)\n",
        ),
        Example(
            HEAD + "class M(pl.LightningModule):\n    def on_batch_start(self):\n        pass\n",
            HEAD
            + "class M(pl.LightningModule):\n    def on_train_batch_start(self, batch, batch_idx):\n        pass\n",
        ),
        Example(
            HEAD + "class M(pl.LightningModule):\n"
            "    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_idx, optimizer_closure, on_tpu,"
            " using_native_amp, using_lbfgs):\n        optimizer.step(closure=optimizer_closure)\n",
            HEAD + "class M(pl.LightningModule):\n"
            "    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure):\n"
            "        optimizer.step(closure=optimizer_closure)\n",
        ),
        Example(
            HEAD + "class C(pl.Callback):\n"
            "    def on_train_epoch_end(self, trainer, pl_module, outputs):\n        print(1)\n",
            HEAD
            + "class C(pl.Callback):\n    def on_train_epoch_end(self, trainer, pl_module):\n        print(1)\n",
        ),
        Example(
            HEAD + "class C(pl.Callback):\n"
            "    def on_predict_epoch_end(self, trainer, pl_module, outputs):\n        print(1)\n",
            HEAD
            + "class C(pl.Callback):\n    def on_predict_epoch_end(self, trainer, pl_module):\n        print(1)\n",
        ),
        Example(  # early 1.x passed a callback no checkpoint; 2.x does
            HEAD + "class C(pl.Callback):\n"
            "    def on_save_checkpoint(self, trainer, pl_module):\n        print(1)\n",
            HEAD + "class C(pl.Callback):\n"
            "    def on_save_checkpoint(self, trainer, pl_module, checkpoint):\n        print(1)\n",
        ),
        Example(  # a parameter the body reads is left, with a note, for the user to replace
            HEAD + "class C(pl.Callback):\n"
            "    def on_predict_epoch_end(self, trainer, pl_module, outputs):\n        print(outputs)\n",
            HEAD
            + "class C(pl.Callback):\n"
            + note_text(
                "`on_predict_epoch_end` reads `outputs`, which 2.x no longer passes: get what it "
                "needs another way, then remove the parameter",
                "    ",
            )
            + "    def on_predict_epoch_end(self, trainer, pl_module, outputs):\n        print(outputs)\n",
        ),
        Example(
            HEAD + "class Unfreeze(pl.callbacks.BaseFinetuning):\n"
            "    def finetune_function(self, pl_module, epoch, optimizer, opt_idx):\n"
            "        self.unfreeze_and_add_param_group(pl_module.backbone, optimizer)\n",
            HEAD + "class Unfreeze(pl.callbacks.BaseFinetuning):\n"
            "    def finetune_function(self, pl_module, epoch, optimizer):\n"
            "        self.unfreeze_and_add_param_group(pl_module.backbone, optimizer)\n",
        ),
        Example(
            HEAD
            + "class C(pl.Callback):\n    def on_pretrain_routine_start(self, trainer, pl_module):\n        print(1)\n",
            HEAD
            + "class C(pl.Callback):\n    def on_fit_start(self, trainer, pl_module):\n        print(1)\n",
        ),
        Example(
            HEAD + "class M(pl.LightningModule):\n    def on_epoch_end(self):\n        print(1)\n",
            HEAD
            + "class M(pl.LightningModule):\n"
            + note_text(_TRAIN_ONLY.format(old="on_epoch_end", new="on_train_epoch_end"), "    ")
            + "    def on_train_epoch_end(self):\n        print(1)\n",
        ),
        Example(
            HEAD
            + "class M(pl.LightningModule):\n    def on_train_epoch_end(self):\n        print(1)\n"
        ),
        Example("class NotLightning:\n    def on_epoch_end(self):\n        pass\n"),
    )

    def applies(self, source: str) -> bool:
        return "class " in source and any(
            hook in source for kind in HOOKS.values() for hook in kind
        )

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _Hooks(context)
