"""`LightningCLI(...)` arguments 2.x moved into `save_config_kwargs` / `parser_kwargs` or removed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import libcst as cst

from litgen.convert.names import code
from litgen.upgrade.rule import Example, Rule, RuleContext, RuleTransformer
from litgen.upgrade.rules.trainer_args import commas

CLI = "lightning.pytorch.cli.LightningCLI"
# 1.x keyword -> (the 2.x dict argument it moved into, its key there)
MOVED: dict[str, tuple[str, str]] = {
    "save_config_filename": ("save_config_kwargs", "config_filename"),
    "save_config_overwrite": ("save_config_kwargs", "overwrite"),
    "save_config_multifile": ("save_config_kwargs", "multifile"),
    "description": ("parser_kwargs", "description"),
    "env_prefix": ("parser_kwargs", "env_prefix"),
    "env_parse": ("parser_kwargs", "default_env"),
}
REMOVED = ("auto_registry",)  # 2.x registers subclasses by itself
POSITIONAL = 3  # (model_class, datamodule_class, save_config_callback): the same in 1.x and 2.x


class _Cli(RuleTransformer):
    rule = "cli"

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if self.context.qualify(original_node.func) != CLI:
            return updated_node
        if sum(1 for a in updated_node.args if a.keyword is None and not a.star) > POSITIONAL:
            self.note(
                "1.x's LightningCLI took other arguments after the third: pass them by keyword "
                "(2.x moved several into `save_config_kwargs` and `parser_kwargs`)",
                "manual",
            )
            return updated_node
        given = {a.keyword.value for a in updated_node.args if a.keyword is not None}
        moved = [a for a in updated_node.args if a.keyword is not None and a.keyword.value in MOVED]
        if {MOVED[code(a.keyword)][0] for a in moved if a.keyword is not None} & given:
            self.note(
                "1.x's LightningCLI arguments beside `save_config_kwargs`/`parser_kwargs`: move "
                "them into those by hand",
                "manual",
            )
            return updated_node
        groups: dict[str, list[str]] = {}
        for arg in moved:
            assert arg.keyword is not None
            target, key = MOVED[arg.keyword.value]
            groups.setdefault(target, []).append(f'"{key}": {code(arg.value)}')
        dropped = [
            a.keyword.value
            for a in updated_node.args
            if a.keyword is not None and a.keyword.value in REMOVED
        ]
        if not moved and not dropped:
            return updated_node
        kept = [
            a
            for a in updated_node.args
            if a.keyword is None or a.keyword.value not in (*MOVED, *REMOVED)
        ]
        template = updated_node.args[-1]
        kept += [
            template.with_changes(
                keyword=cst.Name(target), value=cst.parse_expression("{" + ", ".join(items) + "}")
            )
            for target, items in groups.items()
        ]
        self.change(
            f"LightningCLI({', '.join(a.keyword.value for a in moved if a.keyword)}"
            f"{', ' if moved and dropped else ''}{', '.join(dropped)}) -> "
            f"{', '.join(groups) or 'removed'}"
        )
        return updated_node.with_changes(args=commas(kept, updated_node))


HEAD = "from lightning.pytorch.cli import LightningCLI\n"


class CliRule(Rule):
    name = "cli"
    summary = "LightningCLI arguments 2.x moved into save_config_kwargs / parser_kwargs or removed"
    examples: ClassVar[Sequence[Example]] = (
        Example(
            HEAD + "cli = LightningCLI(Net, save_config_overwrite=True, description='train',"
            " auto_registry=True)\n",
            HEAD + 'cli = LightningCLI(Net, save_config_kwargs={"overwrite": True}, '
            "parser_kwargs={\"description\": 'train'})\n",
        ),
        Example(HEAD + "cli = LightningCLI(Net, save_config_kwargs={'overwrite': True})\n"),
    )

    def applies(self, source: str) -> bool:
        return "LightningCLI" in source

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _Cli(context)
