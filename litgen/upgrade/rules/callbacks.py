"""Lightning's callbacks as 2.x builds them (ModelCheckpoint, EarlyStopping arguments 2.x removed),
and a callback's own state kept the 2.x way (`state_dict`/`load_state_dict`, not hook return values)."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import ClassVar

import libcst as cst
import libcst.matchers as m

from litgen.convert.names import code
from litgen.cst_walk import find
from litgen.upgrade.classes import ClassBodyTransformer
from litgen.upgrade.rule import (
    PL_IMPORT,
    Example,
    Rule,
    RuleContext,
    keyword,
    names_in,
)
from litgen.upgrade.rules.trainer_args import commas

CHECKPOINT = "lightning.pytorch.callbacks.ModelCheckpoint"
EARLY_STOPPING = "lightning.pytorch.callbacks.EarlyStopping"
STATE_NOTE = (
    "2.x ignores what `on_save_checkpoint` returns and passes `on_load_checkpoint` the whole "
    "checkpoint: keep the callback's state in `state_dict()` / `load_state_dict(state_dict)`"
)


def _literal(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString) and isinstance(node.evaluated_value, str):
        return node.evaluated_value
    return None


class _Callbacks(ClassBodyTransformer):
    rule = "callbacks"
    kinds = ("callback",)

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)

    # --- constructor arguments ------------------------------------------------------------------
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        qualified = self.context.qualify(original_node.func)
        if qualified == CHECKPOINT:
            return self._checkpoint(updated_node)
        if qualified == EARLY_STOPPING:
            return self._early_stopping(updated_node)
        return updated_node

    def _checkpoint(self, call: cst.Call) -> cst.Call:
        given = {arg.keyword.value: arg for arg in call.args if arg.keyword is not None}
        new: dict[str, str] = {}  # keyword -> code, replacing the 1.x ones
        gone: list[str] = []
        filepath = _literal(given["filepath"].value) if "filepath" in given else None
        if "filepath" in given:
            if filepath is None or "dirpath" in given or "filename" in given:
                self.note(
                    "`filepath=` was removed: split it into `dirpath=` and `filename=`", "manual"
                )
                return call
            folder, name = posixpath.split(filepath)
            if folder:
                new["dirpath"] = repr(folder)
            if name and name.endswith(".ckpt"):
                name = name[: -len(".ckpt")]  # 2.x adds the extension itself
            if name:
                new["filename"] = repr(name)
            gone.append("filepath")
        for old in ("period", "every_n_val_epochs"):
            if old in given:
                if "every_n_epochs" in given:
                    self.note(
                        f"`{old}=` was removed and `every_n_epochs=` is given too: keep one",
                        "manual",
                    )
                    return call
                new["every_n_epochs"] = code(given[old].value)
                gone.append(old)
        if "prefix" in given:
            prefix = _literal(given["prefix"].value)
            filename = (
                _literal(cst.parse_expression(new["filename"])) if "filename" in new else None
            )
            if "filename" in given:
                filename = _literal(given["filename"].value)
            if prefix is None or ("filename" in given and filename is None):
                self.note("`prefix=` was removed: put the prefix in `filename=`", "manual")
                return call
            # 1.x joined the prefix to the name with "-"; its default name was "{epoch}-{step}"
            new["filename"] = repr(f"{prefix}-{filename or '{epoch}-{step}'}")
            gone.append("prefix")
        if not gone:
            return call
        args = [a for a in call.args if a.keyword is None or a.keyword.value not in (*gone, *new)]
        template = call.args[-1]
        args += [
            template.with_changes(keyword=cst.Name(key), value=cst.parse_expression(value))
            for key, value in new.items()
        ]
        self.change(f"ModelCheckpoint({', '.join(gone)}) -> {', '.join(new) or 'removed'}")
        return call.with_changes(args=commas(args, call))

    def _early_stopping(self, call: cst.Call) -> cst.Call:
        mode = keyword(call, "mode")
        if mode is None or _literal(mode.value) != "auto":
            return call
        monitor_arg = keyword(call, "monitor")
        monitor = _literal(monitor_arg.value) if monitor_arg is not None else "early_stop_on"
        if monitor is None:
            self.note(
                '`mode="auto"` was removed: set "min" or "max" for what is monitored', "manual"
            )
            return call
        # 1.x's "auto": "max" for an accuracy or an F-measure, "min" for anything else
        chosen = "max" if "acc" in monitor or monitor.startswith("fmeasure") else "min"
        self.change(f'EarlyStopping(mode="auto") -> mode="{chosen}"')
        args = [
            a.with_changes(value=cst.SimpleString(f'"{chosen}"')) if a is mode else a
            for a in call.args
        ]
        return call.with_changes(args=args)

    # --- a callback's own state -----------------------------------------------------------------
    def upgrade_body(
        self, original_node: cst.ClassDef, body: list[cst.BaseStatement]
    ) -> list[cst.BaseStatement]:
        names = {s.name.value for s in body if isinstance(s, cst.FunctionDef)}
        for index, method in enumerate(body):
            if not isinstance(method, cst.FunctionDef):
                continue
            renamed = self._stateful(method, names)
            if renamed is not None:
                body[index] = renamed
        return body

    def _stateful(self, method: cst.FunctionDef, names: set[str]) -> cst.FunctionDef | None:
        """1.x's callback-state hooks -> `state_dict` / `load_state_dict`, when they are those."""
        params = [p.name.value for p in method.params.params]
        name = method.name.value
        if name == "on_save_checkpoint" and _returns_value(method):
            new, kept = "state_dict", params[:1]
        elif name == "on_load_checkpoint" and params[3:4] == ["callback_state"]:
            new, kept = "load_state_dict", [params[0], "callback_state"]
        else:
            return None
        used = names_in(method.body) & set(params) - set(kept)
        if used or new in names or len(params) != 4:
            return self.noted(method, STATE_NOTE, "manual")
        self.change(f"Callback.{name} (1.x callback state) -> {new}")
        kept_params = [p for p in method.params.params if p.name.value in kept]
        kept_params = [
            p.with_changes(
                comma=cst.MaybeSentinel.DEFAULT if i == len(kept_params) - 1 else p.comma
            )
            for i, p in enumerate(kept_params)
        ]
        return method.with_changes(
            name=cst.Name(new), params=method.params.with_changes(params=kept_params)
        )


def _returns_value(method: cst.FunctionDef) -> bool:
    """Whether METHOD itself (not a function nested in it) returns something other than None."""

    def enter(node: cst.CSTNode) -> bool:
        return node is method or not isinstance(node, cst.FunctionDef | cst.Lambda)

    return any(
        r.value is not None and not m.matches(r.value, m.Name("None"))
        for r in find(method, cst.Return, enter=enter)
    )


HEAD = PL_IMPORT + "from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint\n"


class CallbacksRule(Rule):
    name = "callbacks"
    summary = "ModelCheckpoint/EarlyStopping arguments 2.x removed; callback state via state_dict"
    examples: ClassVar[Sequence[Example]] = (
        Example(
            HEAD
            + "ckpt = ModelCheckpoint(filepath='ckpts/{epoch}.ckpt', period=2, monitor='val_loss')\n",
            HEAD
            + "ckpt = ModelCheckpoint(monitor='val_loss', dirpath='ckpts', filename='{epoch}', "
            "every_n_epochs=2)\n",
        ),
        Example(
            HEAD + "ckpt = ModelCheckpoint(dirpath='out', prefix='run')\n",
            HEAD + "ckpt = ModelCheckpoint(dirpath='out', filename='run-{epoch}-{step}')\n",
        ),
        Example(
            HEAD + "stop = EarlyStopping(monitor='val_acc', mode='auto')\n",
            HEAD + "stop = EarlyStopping(monitor='val_acc', mode=\"max\")\n",
        ),
        Example(HEAD + "ckpt = ModelCheckpoint(dirpath='out', every_n_epochs=2)\n"),
        Example(
            PL_IMPORT + "class Counter(pl.Callback):\n"
            "    def on_save_checkpoint(self, trainer, pl_module, checkpoint):\n"
            "        return {'count': self.count}\n\n"
            "    def on_load_checkpoint(self, trainer, pl_module, callback_state):\n"
            "        self.count = callback_state['count']\n",
            PL_IMPORT + "class Counter(pl.Callback):\n"
            "    def state_dict(self):\n"
            "        return {'count': self.count}\n\n"
            "    def load_state_dict(self, callback_state):\n"
            "        self.count = callback_state['count']\n",
        ),
        Example(  # the 2.x form of the hook: nothing returned
            PL_IMPORT + "class Tag(pl.Callback):\n"
            "    def on_save_checkpoint(self, trainer, pl_module, checkpoint):\n"
            "        checkpoint['tag'] = 1\n"
        ),
    )

    def applies(self, source: str) -> bool:
        return any(
            needle in source
            for needle in (
                "ModelCheckpoint",
                "EarlyStopping",
                "on_save_checkpoint",
                "callback_state",
            )
        )

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _Callbacks(context)
