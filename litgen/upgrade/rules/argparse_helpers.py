"""`Trainer.add_argparse_args` / `from_argparse_args` (removed in 2.0) -> two small functions in the file.

1.x added every Trainer constructor argument as a `--name` option and built the Trainer from the
parsed namespace, ignoring options it did not take. The functions litgen writes into the script do
the same from the installed Trainer's signature, so `--max_epochs 3 --limit_train_batches 0.1`
keep working, and the result imports nothing of litgen.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import ClassVar

import libcst as cst

from litgen.convert.names import code, dotted
from litgen.review import review_lines
from litgen.upgrade.added_imports import add_imports
from litgen.upgrade.classes import classes_of
from litgen.upgrade.rule import Example, Rule, RuleContext, RuleTransformer, method_name

HELPERS = '''

def add_arguments_of(cls, parser):
    """`--name` options for the constructor arguments of CLS (what `add_argparse_args` did in Lightning 1.x)."""
    group = parser.add_argument_group(cls.__name__)
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        default = None if parameter.default is parameter.empty else parameter.default
        if isinstance(default, bool):
            group.add_argument(f"--{name}", type=command_line_value, nargs="?", const=True, default=default)
        else:
            group.add_argument(f"--{name}", type=command_line_value, default=default)
    return parser


def arguments_of(cls, namespace, **overrides):
    """The parsed options CLS's constructor takes, where they differ from its defaults (as `from_argparse_args` did)."""
    accepted = inspect.signature(cls.__init__).parameters
    given = {k: v for k, v in vars(namespace).items() if k in accepted and v != accepted[k].default}
    return {**given, **overrides}


def command_line_value(text):
    """`3` -> 3, `0.5` -> 0.5, `true` -> True, `none` -> None, anything else stays text."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() == "none":
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text
'''
HELPER_NAMES = ("add_arguments_of", "arguments_of", "command_line_value")
TRAINER = "lightning.pytorch.Trainer"
CLI_NOTE = (
    "the Trainer options on the command line are now 2.x's own (`--gpus` is `--accelerator` and `--devices`); "
    "LightningCLI is the 2.x way to build a command line"
)


PARSER_ELSEWHERE_NOTE = (
    "`arguments_of` passes on only the options 2.x's Trainer takes: a 1.x option such as `--gpus` "
    "from a parser built elsewhere is ignored; give that parser `add_arguments_of(Trainer, parser)`"
)


LIGHTNING_OWNERS = ("module", "datamodule")  # classes that had argparse helpers in 1.x


class _Argparse(RuleTransformer):
    rule = "argparse"

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self.datamodules = classes_of(context, "datamodule", "module")
        self.own_methods = _classes_defining(
            context.module, ("add_argparse_args", "from_argparse_args")
        )
        self.used = False
        self.source = context.original if context.original is not None else context.module.code

    def _owner(self, call: cst.Call) -> str | None:
        """The class whose 1.x helper this call is: the Trainer, or a module/datamodule of this file."""
        if not isinstance(call.func, cst.Attribute):
            return None
        receiver = call.func.value
        if self.context.qualify(receiver) in (TRAINER, "lightning.pytorch.LightningDataModule"):
            return code(receiver)
        name = dotted(receiver)
        if (
            name is not None
            and (
                name in self.datamodules or self.context.project.kinds.get(name) in LIGHTNING_OWNERS
            )
            and name not in self.own_methods
        ):
            return name
        return None

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        method = method_name(original_node)
        if method not in ("add_argparse_args", "from_argparse_args", "parse_argparser"):
            return updated_node
        owner = self._owner(original_node)
        if owner is None:
            if not isinstance(original_node.func, cst.Attribute):
                return updated_node
            receiver = code(
                original_node.func.value
            )  # a class, a variable holding one, an instance
            if receiver not in self.own_methods:
                self.note(
                    f"if `{receiver}` is (or holds) a Lightning class, `{method}` is gone in 2.x "
                    "with Lightning's argparse support: pass the parsed arguments to its constructor",
                    "manual",
                )
            return updated_node
        if method == "parse_argparser":
            self.note(
                "`parse_argparser` was removed in 2.0: parse with the parser itself", "manual"
            )
            return updated_node
        receiver = original_node.func.value  # type: ignore[attr-defined]
        self.used = True
        first = cst.Arg(receiver, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        if method == "add_argparse_args":
            self.change(f"{owner}.add_argparse_args -> add_arguments_of({owner}, ...)")
            if self.context.qualify(receiver) == TRAINER:
                self.note(CLI_NOTE)
            return updated_node.with_changes(
                func=cst.Name("add_arguments_of"), args=[first, *updated_node.args]
            )
        self.change(f"{owner}.from_argparse_args -> {owner}(**arguments_of({owner}, ...))")
        if self.context.qualify(receiver) == TRAINER and "add_argparse_args" not in self.source:
            self.note(PARSER_ELSEWHERE_NOTE)  # the parser is built in another file
        inner = updated_node.with_changes(
            func=cst.Name("arguments_of"), args=[first, *updated_node.args]
        )
        return cst.Call(func=receiver, args=[cst.Arg(inner, star="**")])


def _classes_defining(module: cst.Module, methods: tuple[str, ...]) -> set[str]:
    found = set()
    for statement in module.body:
        if isinstance(statement, cst.ClassDef) and isinstance(statement.body, cst.IndentedBlock):
            if any(
                isinstance(s, cst.FunctionDef) and s.name.value in methods
                for s in statement.body.body
            ):
                found.add(statement.name.value)
    return found


@cache
def _helper_functions() -> Sequence[cst.BaseStatement]:
    return cst.parse_module(HELPERS).body  # nodes are immutable: one parse serves every file


def _with_helpers(module: cst.Module) -> cst.Module:
    """The helper functions after the file's leading imports (once: a second run finds them there)."""
    defined = {s.name.value for s in module.body if isinstance(s, cst.FunctionDef)}
    if set(HELPER_NAMES) <= defined:
        return module
    helpers = list(_helper_functions())
    helpers[0] = helpers[0].with_changes(leading_lines=[cst.EmptyLine(indent=False)] * 2)
    body = list(module.body)
    position = 0
    for index, statement in enumerate(body):
        if isinstance(statement, cst.SimpleStatementLine) and all(
            isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body
        ):
            position = index + 1
        elif (
            index == 0
            and isinstance(statement, cst.SimpleStatementLine)
            and isinstance(statement.body[0], cst.Expr)
        ):
            position = 1  # the module docstring
        elif not isinstance(statement, cst.SimpleStatementLine) or position < index:
            break
    following = body[position:]
    if following:
        kept = list(following[0].leading_lines)
        while kept and kept[0].comment is None:
            kept.pop(0)  # blank lines: two are put back, as after any top-level function
        following[0] = following[0].with_changes(
            leading_lines=[cst.EmptyLine(indent=False)] * 2 + kept
        )
    return module.with_changes(body=[*body[:position], *helpers, *following])


HEAD = "from lightning.pytorch import Trainer\nimport argparse\n"


class ArgparseRule(Rule):
    name = "argparse"
    summary = "Trainer/DataModule add_argparse_args and from_argparse_args -> functions written into the file"
    examples: ClassVar[Sequence[Example]] = (
        Example(  # a class held by a variable: litgen cannot tell, the user is told
            "args = parse()\ndm = dm_cls.from_argparse_args(args)\n",
            "args = parse()\n"
            "# litgen: if `dm_cls` is (or holds) a Lightning class, `from_argparse_args` is gone in 2.x with\n"
            "#   Lightning's argparse support: pass the parsed arguments to its constructor\n"
            "dm = dm_cls.from_argparse_args(args)\n",
        ),
        Example(
            HEAD + "parser = Trainer.add_argparse_args(argparse.ArgumentParser())\n"
            "trainer = Trainer.from_argparse_args(parser.parse_args(), logger=False)\n",
            HEAD
            + "import inspect\n\n\n"
            + HELPERS.strip("\n")
            + "\n\n\n"
            + "\n".join(review_lines(CLI_NOTE))
            + "\n"
            "parser = add_arguments_of(Trainer, argparse.ArgumentParser())\n"
            "trainer = Trainer(**arguments_of(Trainer, parser.parse_args(), logger=False))\n",
        ),
        Example(  # the parser comes from another file: its 1.x options no longer reach the Trainer
            HEAD + "def build(args):\n    return Trainer.from_argparse_args(args)\n",
            HEAD
            + "import inspect\n\n\n"
            + HELPERS.strip("\n")
            + "\n\n\n"
            + "def build(args):\n"
            + "\n".join("    " + line for line in review_lines(PARSER_ELSEWHERE_NOTE))
            + "\n    return Trainer(**arguments_of(Trainer, args))\n",
        ),
        Example(
            "import argparse\nparser = argparse.ArgumentParser()\nargs = parser.parse_args()\n"
        ),
    )

    def applies(self, source: str) -> bool:
        return "argparse_args" in source or "parse_argparser" in source

    def transformer(self, context: RuleContext) -> cst.CSTTransformer:
        return _Argparse(context)

    def apply(self, module: cst.Module, context: RuleContext) -> cst.Module:
        transformer = _Argparse(context)
        module = module.visit(transformer)
        if not transformer.used:
            return module
        return _with_helpers(add_imports(module, [("inspect", None)]))
