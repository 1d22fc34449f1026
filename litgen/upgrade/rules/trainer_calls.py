"""Calls on a Trainer 2.x changed: `fit`/`validate`/`test` keywords, `ckpt_path=` from the Trainer, `tune()`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import libcst as cst

from litgen.convert.names import code, dotted
from litgen.cst_walk import find
from litgen.upgrade.flag_values import Unknown, Value
from litgen.upgrade.rule import RuleContext, RuleTransformer, keyword, method_name
from litgen.upgrade.rules.trainer_args import commas, python

# `trainer.<method>(old=...)` keyword renames (1.x -> 2.x).
CALL_KEYWORDS: dict[str, dict[str, str]] = {
    "fit": {"train_dataloader": "train_dataloaders", "val_dataloader": "val_dataloaders"},
    "validate": {"val_dataloaders": "dataloaders", "test_dataloaders": "dataloaders"},
    "test": {"test_dataloaders": "dataloaders"},
    "predict": {"test_dataloaders": "dataloaders"},
    "lr_find": {"train_dataloader": "train_dataloaders", "val_dataloader": "val_dataloaders"},
    "scale_batch_size": {
        "train_dataloader": "train_dataloaders",
        "val_dataloader": "val_dataloaders",
    },
}


@dataclass
class TrainerFacts:
    """What the Trainer constructions told the call rewrites."""

    fitted: set[str] = field(
        default_factory=set
    )  # names whose `.fit(...)`/`.tune(...)` the script calls
    trainers: set[str] = field(default_factory=set)  # names a `Trainer(...)` is assigned to
    resume: dict[str, cst.BaseExpression] = field(
        default_factory=dict
    )  # trainer -> checkpoint its fit resumes from
    tuning: dict[str, dict[str, Value]] = field(
        default_factory=dict
    )  # trainer -> auto_lr_find / auto_scale_batch_size


class TrainerCalls(RuleTransformer):
    """`trainer.fit(train_dataloader=...)` keyword renames, `ckpt_path=` from the Trainer, `tune()` -> Tuner."""

    rule = "trainer"

    def __init__(self, context: RuleContext, found: TrainerFacts) -> None:
        super().__init__(context)
        self.found = found
        self.tuner_needed = False

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        method = method_name(original_node)
        receiver = (
            dotted(original_node.func.value)
            if isinstance(original_node.func, cst.Attribute)
            else None
        )
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
        if (
            method == "fit"
            and receiver in self.found.resume
            and keyword(updated_node, "ckpt_path") is None
        ):
            template = args[-1] if args else cst.Arg(cst.Name("x"))
            checkpoint = template.with_changes(
                keyword=cst.Name("ckpt_path"),
                value=self.found.resume[receiver],
                equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
            )
            args = commas([*args, checkpoint], updated_node)
            self.change("fit(ckpt_path=...) from Trainer(resume_from_checkpoint=...)")
        return updated_node.with_changes(args=args)

    def leave_Attribute(
        self, original_node: cst.Attribute, updated_node: cst.Attribute
    ) -> cst.BaseExpression:
        """`trainer.tuner` (gone in 2.x) -> `Tuner(trainer)`."""
        receiver = dotted(original_node.value)
        if (
            original_node.attr.value != "tuner"
            or receiver is None
            or not self._is_trainer(receiver, None)
        ):
            return updated_node
        self.tuner_needed = True
        self.change(f"{receiver}.tuner -> Tuner({receiver})")
        return cst.Call(func=cst.Name("Tuner"), args=[cst.Arg(original_node.value)])

    def _is_trainer(self, receiver: str, call: cst.Call | None) -> bool:
        return receiver in self.found.trainers or "trainer" in receiver.lower()

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement] | cst.RemovalSentinel:
        """`trainer.tune(model, ...)`, alone or assigned -> the Tuner calls its Trainer flags asked for."""
        statement = updated_node.body[0] if len(updated_node.body) == 1 else None
        target: str | None = None
        if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
            target, call = code(statement.targets[0].target), statement.value
        elif isinstance(statement, cst.Expr):
            call = statement.value
        else:
            return updated_node
        if (
            not isinstance(call, cst.Call)
            or method_name(call) != "tune"
            or not isinstance(call.func, cst.Attribute)
        ):
            return updated_node
        receiver = dotted(call.func.value)
        if receiver is None or receiver not in self.found.trainers:
            if receiver is not None and "trainer" in receiver.lower():
                self.note(TUNE_NOTE, "manual")
            return updated_node
        flags = self.found.tuning.get(receiver, {})
        if not any(value not in (None, False) for value in flags.values()):
            if target is not None:
                self.note(TUNE_NOTE, "manual")
                return updated_node
            self.change(
                "trainer.tune(...) removed: its Trainer asked for no tuning, so 1.x did nothing there"
            )
            return cst.RemovalSentinel.REMOVE
        searches = _searches(call, flags)
        if any(isinstance(value, Unknown) for value in flags.values()):
            self.note(
                "the Trainer's tuning flags were expressions: the Tuner runs both searches; drop what you do not need"
            )
        self.tuner_needed = True
        self.change("trainer.tune(...) -> Tuner(trainer)")
        statements = [f"tuner = Tuner({receiver})"]
        if target is None:
            statements += [f"tuner.{search}" for _, search in searches]
        else:  # 1.x returned {"scale_batch_size": new size, "lr_find": the LR finder}
            entries = ", ".join(f'"{key}": tuner.{search}' for key, search in searches)
            statements.append(f"{target} = {{{entries}}}")
        nodes = [cst.parse_statement(text + "\n") for text in statements]
        nodes[0] = nodes[0].with_changes(leading_lines=updated_node.leading_lines)
        return cst.FlattenSentinel(nodes)


TUNE_NOTE = (
    "`Trainer.tune()` was removed: run `Tuner(trainer).lr_find(model)` or "
    "`.scale_batch_size(model)` (from lightning.pytorch.tuner)"
)
# tune()'s own keywords: the arguments of each search (`lr_find_kwargs={"max_lr": 0.1}`)
_SEARCH_KEYWORDS = {"scale_batch_size_kwargs": "scale_batch_size", "lr_find_kwargs": "lr_find"}


def _keyword_pairs(node: cst.BaseExpression) -> list[str] | None:
    """`{"max_lr": 0.1}` -> ["max_lr=0.1"]; None when NODE is not a dict literal of string keys."""
    if not isinstance(node, cst.Dict):
        return None
    pairs = []
    for element in node.elements:
        if not isinstance(element, cst.DictElement) or not isinstance(
            element.key, cst.SimpleString
        ):
            return None
        key = element.key.evaluated_value
        if not isinstance(key, str) or not key.isidentifier():
            return None
        pairs.append(f"{key}={code(element.value)}")
    return pairs


def _searches(call: cst.Call, flags: dict[str, Value]) -> list[tuple[str, str]]:
    """(result key, the Tuner call) for each search the Trainer's flags asked for, in 1.x's order
    (the batch size first, then the learning rate)."""
    common: list[str] = []
    own: dict[str, list[str]] = {"scale_batch_size": [], "lr_find": []}
    for arg in call.args:
        name = arg.keyword.value if arg.keyword is not None else None
        value = code(arg.value)
        if name in _SEARCH_KEYWORDS:
            search = _SEARCH_KEYWORDS[name]
            pairs = _keyword_pairs(arg.value)
            own[search] += pairs if pairs is not None else [f"**{value}"]
            continue
        renamed = CALL_KEYWORDS["lr_find"].get(name or "", name)
        common.append(f"{renamed}={value}" if renamed is not None else f"{arg.star}{value}")
    found = []
    size = flags.get("auto_scale_batch_size")
    if size not in (None, False):
        mode = [f"mode={python(size)}"] if isinstance(size, str) else []
        found.append(
            (
                "scale_batch_size",
                f"scale_batch_size({', '.join(common + mode + own['scale_batch_size'])})",
            )
        )
    lr = flags.get("auto_lr_find")
    if lr not in (None, False):
        attribute = [f"attr_name={python(lr)}"] if isinstance(lr, str) else []
        found.append(("lr_find", f"lr_find({', '.join(common + attribute + own['lr_find'])})"))
    return found


def fit_receivers(calls: Iterable[cst.Call]) -> set[str]:
    """Names whose `fit`/`tune` CALLS call (`trainer.fit(...)`: `trainer`)."""
    names = set()
    for call in calls:
        if method_name(call) in ("fit", "tune") and isinstance(call.func, cst.Attribute):
            receiver = dotted(call.func.value)
            if receiver is not None:
                names.add(receiver)
    return names


def spread_names(calls: Sequence[cst.Call], context: RuleContext, trainer: str) -> set[str]:
    """Names spread into a Trainer call (`Trainer(**params)`), and the mappings such a name is
    built from by key (`params = {n: args[n] for n in ...}`): their keys are Trainer arguments too."""
    names = set()
    for call in calls:
        # also `arguments_of(Trainer, args, **params)`, the argparse rule's from_argparse_args
        if context.qualify(call.func) == trainer or (
            dotted(call.func) == "arguments_of"
            and bool(call.args)
            and context.qualify(call.args[0].value) == trainer
        ):
            names |= {
                name for a in call.args if a.star == "**" and (name := dotted(a.value)) is not None
            }
    sources = set()
    for assign in find(context.module, cst.Assign):
        if any(dotted(target.target) in names for target in assign.targets):
            sources |= {
                name
                for subscript in find(assign.value, cst.Subscript)
                if (name := dotted(subscript.value)) is not None
            }
    return names | sources
