"""Which classes of a file are LightningModules or Callbacks (also through the file's own base classes)."""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import libcst as cst
import libcst.matchers as m

from litgen.convert.names import dotted
from litgen.cst_walk import find, holds_statements
from litgen.upgrade.rule import Kind, ProjectClasses, RuleContext, RuleTransformer

# Lightning's own callbacks users subclass (their 1.x hooks changed like any callback's).
_CALLBACKS = (
    "Callback",
    "ModelCheckpoint",
    "EarlyStopping",
    "ProgressBarBase",
    "ProgressBar",
    "TQDMProgressBar",
    "RichProgressBar",
    "BaseFinetuning",
    "BackboneFinetuning",
    "LearningRateMonitor",
    "StochasticWeightAveraging",
    "GradientAccumulationScheduler",
    "BasePredictionWriter",
    "ModelSummary",
    "RichModelSummary",
    "Timer",
    "LambdaCallback",
    "DeviceStatsMonitor",
)
_ROOT_NAMES: dict[str, Kind] = {
    "LightningModule": "module",
    "LightningDataModule": "datamodule",
    **dict.fromkeys(_CALLBACKS, "callback"),
}
_ROOTS: dict[str, Kind] = {
    "lightning.pytorch.LightningModule": "module",
    "lightning.pytorch.LightningDataModule": "datamodule",
    **{f"lightning.pytorch.callbacks.{name}": "callback" for name in _CALLBACKS},
}
_CLASS = re.compile(r"^([ \t]*)class\s+(\w+)\s*\(([^)]*)\)", re.MULTILINE)
_DEF = re.compile(r"^([ \t]*)(?:async\s+)?def\s+(\w+)", re.MULTILINE)


def _classes_in(sources: Iterable[str]) -> dict[str, tuple[set[str], set[str]]]:
    """Class name -> (the last part of each base's name, the methods it defines), read as text (fast)."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for source in sources:
        for match in _CLASS.finditer(source):
            indent, name, bases = match.groups()
            parents, methods = found.setdefault(name, (set(), set()))
            parents.update(
                part
                for base in bases.split(",")
                if (part := base.strip().rpartition(".")[2]).isidentifier()
            )
            for method in _DEF.finditer(source, match.end()):
                if len(method.group(1)) <= len(indent):
                    break  # a def at the class's own level (or outside it): the class ended
                methods.add(method.group(2))
    return found


def project_classes(sources: Iterable[str]) -> ProjectClasses:
    """The Lightning classes SOURCES define, at any depth and across files.

    A file upgraded on its own cannot see that `Child(Base)` is a LightningModule when `Base` is in
    another file; the files upgraded together tell it.
    """
    sources = list(sources)  # read twice
    classes = _classes_in(sources)
    kinds: dict[str, Kind] = {}
    changed = True
    while changed:
        changed = False
        for name, (parents, _) in classes.items():
            if name in kinds:
                continue
            kind = next(
                (k for p in parents if (k := kinds.get(p) or _ROOT_NAMES.get(p)) is not None), None
            )
            if kind is not None:
                kinds[name] = kind
                changed = True
    inherited = {}
    for name in kinds:
        methods: set[str] = set()
        pending, seen = [name], {name}
        while pending:
            parents, own = classes.get(pending.pop(), (set(), set()))
            methods |= own
            pending += [p for p in parents - seen if p in kinds]
            seen |= parents
        inherited[name] = frozenset(methods)
    return ProjectClasses(
        MappingProxyType(kinds), MappingProxyType(inherited), _trainer_classes(sources, classes)
    )


_TRAINER_IMPORT = re.compile(
    r"^from\s+(?:pytorch_lightning|lightning\.pytorch|lightning)\s+import\s+[^\n]*\bTrainer\b"
    r"(?:\s+as\s+(\w+))?",
    re.MULTILINE,
)
_TRAINER_PATHS = (
    "pl.Trainer",
    "L.Trainer",
    "pytorch_lightning.Trainer",
    "lightning.pytorch.Trainer",
)


def _trainer_classes(
    sources: Iterable[str], classes: Mapping[str, tuple[set[str], set[str]]]
) -> frozenset[str]:
    """Classes deriving from Lightning's Trainer (`class MyTrainer(pl.Trainer)`), at any depth."""
    direct = set()
    for source in sources:
        aliases = {m.group(1) or "Trainer" for m in _TRAINER_IMPORT.finditer(source)}
        for match in _CLASS.finditer(source):
            bases = {base.strip() for base in match.group(3).split(",")}
            if bases & {*_TRAINER_PATHS, *aliases}:
                direct.add(match.group(2))
    found = set(direct)
    changed = True
    while changed:
        grown = {name for name, (parents, _) in classes.items() if parents & found}
        changed = not grown <= found
        found |= grown
    return frozenset(found)


def subclasses_project_class(source: str, project: ProjectClasses) -> bool:
    """Whether SOURCE defines a class deriving from one of PROJECT's (a file without "lightning")."""
    return any(parents & project.kinds.keys() for parents, _ in _classes_in([source]).values())


SUPER_INIT = m.Call(func=m.Attribute(value=m.Call(func=m.Name("super")), attr=m.Name("__init__")))


def after_super_init(init: cst.FunctionDef, line: str) -> cst.FunctionDef:
    """`__init__` with LINE (a statement) right after its `super().__init__(...)`, else first."""
    statements = list(init.body.body)
    position = next(
        (
            index + 1
            for index, statement in enumerate(statements)
            if any(m.matches(call, SUPER_INIT) for call in find(statement, cst.Call))
        ),
        0,
    )
    statements.insert(position, cst.parse_statement(line))
    return init.with_changes(body=init.body.with_changes(body=statements))


@dataclass(frozen=True)
class Ancestry:
    """What a class inherits, as far as the files of the upgrade tell."""

    direct: bool  # one of its bases is Lightning's own class
    inherited: frozenset[str]  # the methods its project bases define
    unseen_base: str | None  # a base no file of the upgrade defines (its methods unknown)


def ancestry(
    node: cst.ClassDef, classes: Mapping[str, cst.ClassDef], context: RuleContext
) -> Ancestry:
    """NODE's ancestry; CLASSES: the classes of its file, by name."""
    inherited: set[str] = set()
    unseen: str | None = None
    pending, seen = [node], set()
    while pending:
        for base in pending.pop().bases:
            name = dotted(base.value)
            name = name.rpartition(".")[2] if name is not None else None
            parent = classes.get(name) if name is not None else None
            known = context.project.methods.get(name) if name is not None else None
            if parent is None and known is not None:  # a class of another file of the upgrade
                inherited |= known
            elif parent is not None and name not in seen:
                seen.add(name)
                inherited |= {
                    s.name.value for s in parent.body.body if isinstance(s, cst.FunctionDef)
                }
                pending.append(parent)
            elif parent is None and context.qualify(base.value) is None and name != "object":
                unseen = unseen or cst.Module([]).code_for_node(base.value)
    return Ancestry(derives_from_lightning(node, context), frozenset(inherited), unseen)


def derives_from_lightning(node: cst.ClassDef, context: RuleContext) -> bool:
    """Whether one of the class's bases is Lightning's own (not a class of the project)."""
    return any(context.qualify(base.value) in _ROOTS for base in node.bases)


def lightning_classes(module: cst.Module, context: RuleContext) -> dict[str, Kind]:
    """Class name -> what it is, for the classes of MODULE that derive from Lightning's (at any depth)."""
    classes: dict[str, list[cst.BaseExpression]] = {}

    for node in find(module, cst.ClassDef, enter=holds_statements):
        classes[node.name.value] = [base.value for base in node.bases]
    found: dict[str, Kind] = {}
    changed = True
    while changed:  # a class deriving from one found earlier (`class Base(pl.LightningModule)`, `class M(Base)`)
        changed = False
        for name, bases in classes.items():
            if name in found:
                continue
            for base in bases:
                kind = _ROOTS.get(context.qualify(base) or "")
                if kind is None and isinstance(base, cst.Name):
                    kind = found.get(base.value) or context.project.kinds.get(base.value)
                if kind is None and isinstance(base, cst.Attribute):  # `models.Base`
                    kind = context.project.kinds.get(base.attr.value)
                if kind is not None:
                    found[name] = kind
                    changed = True
                    break
    return found


def classes_of(context: RuleContext, *kinds: Kind) -> set[str]:
    """The names of the file's Lightning classes of KINDS (`classes_of(context, "module")`)."""
    return {
        name for name, kind in lightning_classes(context.module, context).items() if kind in kinds
    }


class ClassBodyTransformer(RuleTransformer):
    """A rule that rewrites the bodies of the file's Lightning classes of `kinds`, whole."""

    kinds: ClassVar[tuple[Kind, ...]]

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self.targets = classes_of(context, *self.kinds)

    def leave_ClassDef(
        self, original_node: cst.ClassDef, updated_node: cst.ClassDef
    ) -> cst.ClassDef:
        if original_node.name.value not in self.targets or not isinstance(
            updated_node.body, cst.IndentedBlock
        ):
            return updated_node
        body = self.upgrade_body(original_node, list(updated_node.body.body))
        return updated_node.with_changes(body=updated_node.body.with_changes(body=body))

    @abstractmethod
    def upgrade_body(
        self, original_node: cst.ClassDef, body: list[cst.BaseStatement]
    ) -> list[cst.BaseStatement]:
        """The class's statements, upgraded (BODY: as earlier visits left them)."""
