"""The pieces the flattener produces: environments, moved statements, batch loops, trainer objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import libcst as cst

from litgen.convert.structure import Loop

TRANSPARENT_CONTEXTS = (
    "torch.no_grad",
    "torch.inference_mode",
    "torch.enable_grad",
    "torch.set_grad_enabled",
    "torch.autograd.no_grad",
    "torch.autograd.grad_mode.no_grad",
)


@dataclass
class Instance:
    """An object of a home-made trainer class: what each `self.attr` stands for in the entry scope."""

    name: str
    klass: cst.ClassDef
    statement: cst.BaseStatement
    attrs: dict[str, cst.BaseExpression] = field(default_factory=dict)
    unrolled: list[cst.BaseStatement] = field(default_factory=list)

    def method(self, name: str) -> cst.FunctionDef | None:
        for statement in self.klass.body.body:
            if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
                return statement
        return None


@dataclass
class Env:
    """How names in one inlined function map to the entry scope."""

    scope: int
    label: str
    function: cst.FunctionDef | None
    params: dict[str, cst.BaseExpression] = field(default_factory=dict)
    # helper-local name -> its symbol (symbols.py)
    stand_ins: dict[str, str] = field(default_factory=dict)
    self_name: str | None = None
    instance: Instance | None = None
    instances: dict[str, Instance] = field(default_factory=dict)

    def mapping(self) -> dict[str, cst.BaseExpression]:
        names: dict[str, cst.BaseExpression] = dict(self.params)
        names.update({local: cst.Name(stand_in) for local, stand_in in self.stand_ins.items()})
        return names

    def attributes(self) -> dict[tuple[str, str], cst.BaseExpression]:
        if self.instance is None or self.self_name is None:
            return {}
        return {(self.self_name, attr): value for attr, value in self.instance.attrs.items()}


@dataclass
class Seg:
    """One statement that leaves the user's loop, already in entry-scope terms."""

    node: cst.BaseStatement
    line: int | None
    scope: int


@dataclass
class LoopItem:
    """A loop found while flattening: the training batch loop, an evaluation loop, or the epoch loop."""

    kind: Literal["train", "eval", "epoch"]
    node: Loop
    env: Env
    line: int | None
    target: cst.BaseAssignTargetExpression | None = None
    iterable: cst.BaseExpression | None = None


Item = Seg | LoopItem


def keyword_of(statement: cst.CSTNode) -> str:
    return {cst.If: "if", cst.Try: "try", cst.With: "with", cst.For: "for", cst.While: "while"}.get(
        type(statement), type(statement).__name__
    )


def is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def is_global(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Global, cst.Nonlocal)) for s in statement.body
    )


def single_return(statement: cst.BaseStatement) -> cst.BaseExpression | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if isinstance(small, cst.Return):
            return small.value if small.value is not None else cst.Name("None")
    return None
