"""What every upgrade rule shares: its examples, the context it reports into, and notes at the spot."""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar, Literal

import libcst as cst

from litgen.convert.names import ImportTable, dotted
from litgen.cst_walk import find, holds_statements, is_statement
from litgen.review import StatementT, review, review_lines
from litgen.upgrade.name_index import has_name
from litgen.upgrade.positions import start_lines

# The import the rules' examples start from: the imports rule has already run when the others do.
PL_IMPORT = "import lightning.pytorch as pl\n"

NoteKind = Literal["review", "manual"]
Kind = Literal["module", "datamodule", "callback"]  # what a Lightning class of the user's is

# Names Lightning 2.x exports from `lightning` itself as well as from `lightning.pytorch`.
_TOP_LEVEL = ("Trainer", "LightningModule", "LightningDataModule", "Callback", "seed_everything")
# Where 1.x defined the core classes; code may import them from there.
_CORE_HOMES = {
    "lightning.pytorch.core.lightning.LightningModule": "lightning.pytorch.LightningModule",
    "lightning.pytorch.core.module.LightningModule": "lightning.pytorch.LightningModule",
    "lightning.pytorch.core.LightningModule": "lightning.pytorch.LightningModule",
    "lightning.pytorch.core.datamodule.LightningDataModule": "lightning.pytorch.LightningDataModule",
    "lightning.pytorch.core.LightningDataModule": "lightning.pytorch.LightningDataModule",
    "lightning.pytorch.trainer.trainer.Trainer": "lightning.pytorch.Trainer",
    "lightning.pytorch.trainer.Trainer": "lightning.pytorch.Trainer",
    "lightning.pytorch.callbacks.base.Callback": "lightning.pytorch.callbacks.Callback",
    "lightning.pytorch.Callback": "lightning.pytorch.callbacks.Callback",
}


def namespace(qualified: str) -> str:
    """The 2.x namespace for a name: `pytorch_lightning.x` and `lightning.Trainer` read `lightning.pytorch...`."""
    if qualified == "pytorch_lightning" or qualified.startswith("pytorch_lightning."):
        qualified = "lightning.pytorch" + qualified.removeprefix("pytorch_lightning")
    head, _, rest = qualified.partition(".")
    if head == "lightning" and rest in _TOP_LEVEL:
        qualified = f"lightning.pytorch.{rest}"
    return qualified


def canonical(qualified: str | None) -> str | None:
    """One spelling for a Lightning name, whichever namespace or 1.x module the script reached it by."""
    if qualified is None:
        return None
    qualified = namespace(qualified)
    return _CORE_HOMES.get(qualified, qualified)


def note_text(message: str, indent: str = "") -> str:
    """The `# litgen:` comment lines an example expects above a statement indented by INDENT."""
    return "".join(f"{indent}{line}\n" for line in review_lines(message))


@dataclass(frozen=True)
class Example:
    """A rule's own test case: `before` becomes `after`; `after=None` means the rule leaves it alone."""

    before: str
    after: str | None = None


@dataclass(frozen=True)
class ProjectClasses:
    """The Lightning classes the files of one upgrade define, at any depth (`classes.project_classes`)."""

    kinds: Mapping[str, Kind]  # name -> what it is
    methods: Mapping[str, frozenset[str]]  # name -> the methods it and its project bases define
    trainers: frozenset[str] = frozenset()  # subclasses of Lightning's Trainer


NO_PROJECT = ProjectClasses(MappingProxyType({}), MappingProxyType({}))


@dataclass
class Note:
    message: str
    kind: NoteKind
    rule: str
    line: int | None = None  # in the original file (the engine fills it in from `at`)
    at: cst.CSTNode | None = field(
        default=None, compare=False, repr=False
    )  # the node, in the text the rule read


@dataclass(frozen=True)
class Change:
    text: str
    rule: str
    line: int | None = None
    at: cst.CSTNode | None = field(default=None, compare=False, repr=False)


@dataclass
class RuleContext:
    """What a rule sees of the file: its imports (both namespaces), and where changes and notes go."""

    module: cst.Module
    filename: str
    changes: list[Change] = field(default_factory=list)
    notes: list[Note] = field(
        default_factory=list
    )  # also written as comments, except where noted `unplaced`
    unplaced: list[Note] = field(default_factory=list)
    project: ProjectClasses = field(default_factory=lambda: NO_PROJECT)
    original: str | None = None  # the file as read, before any rule (None: the module's own text)
    passes: list[cst.Module] = field(
        default_factory=list
    )  # the texts a rule's later passes read (`rebase`)

    def __post_init__(self) -> None:
        self.imports = ImportTable(self.module)
        # `from pytorch_lightning import *`: Lightning's own names are bound without an alias
        self.star_modules = [
            namespace(dotted(node.module) or "")
            for node in find(self.module, cst.ImportFrom, enter=holds_statements)
            if isinstance(node.names, cst.ImportStar)
            and node.module is not None
            and not node.relative
            and (dotted(node.module) or "").startswith(("pytorch_lightning", "lightning"))
        ]

    @property
    def source(self) -> str:
        """The user's text: what a rule asks about the program itself, not earlier rules' output."""
        return self.original if self.original is not None else self.module.code

    def rebase(self, module: cst.Module) -> None:
        """A rule's second pass reads MODULE, its first pass's output; the engine still finds its lines."""
        self.passes.append(module)

    def lines(self) -> tuple[Callable[[cst.CSTNode | None], int | None], str]:
        """Where the nodes the rule recorded are, in the text it read, and that text.

        Computed only when something was recorded: it costs a code generation pass per text read.
        """
        found: dict[cst.CSTNode, int] = {}
        recorded = [c.at for c in self.changes if c.at is not None] + [
            n.at for n in self.notes if n.at is not None
        ]
        read = ""
        for index, module in enumerate([self.module, *self.passes]):
            starts, code = start_lines(module, [node for node in recorded if node not in found])
            if not index:
                read = code
                found.update(starts)
                continue
            translate = line_map(code, read)
            for node, line in starts.items():
                mapped = translate(line)
                if mapped is not None:
                    found[node] = mapped
        return (lambda node: found.get(node) if node is not None else None), read

    def imported(self, node: cst.CSTNode | None) -> str | None:
        """The full dotted name of something the script imported (`pl.Trainer` -> `pytorch_lightning.Trainer`)."""
        root = node
        while isinstance(root, cst.Attribute):
            root = root.value
        if not isinstance(root, cst.Name):
            return None
        if root.value not in self.imports.aliases:
            star = next((m for m in self.star_modules if has_name(m, root.value)), None)
            if star is None:
                return None  # a local name, not something the script imported
            rest = dotted(node) if isinstance(node, cst.BaseExpression) else None
            return f"{star}.{rest}" if rest is not None else None
        return self.imports.qualify(node)

    def qualify(self, node: cst.CSTNode | None) -> str | None:
        """`pl.Trainer`, `Trainer`, `L.Trainer` all read `lightning.pytorch.Trainer`."""
        return canonical(self.imported(node))

    def is_(self, node: cst.CSTNode | None, *qualified: str) -> bool:
        return self.qualify(node) in qualified


class Rule(ABC):
    """One Lightning API break: recognise it, rewrite it, or mark it with a `# litgen:` note."""

    name: ClassVar[str]
    summary: ClassVar[str]
    examples: ClassVar[Sequence[Example]]

    def applies(self, source: str) -> bool:
        """A cheap text test: False when the file cannot hold this rule's construct."""
        return True

    @abstractmethod
    def transformer(self, context: RuleContext) -> cst.CSTTransformer: ...

    def apply(self, module: cst.Module, context: RuleContext) -> cst.Module:
        return module.visit(self.transformer(context))


class RuleTransformer(cst.CSTTransformer):
    """A transformer whose `note(...)` lands as a `# litgen:` comment above the innermost statement."""

    rule: ClassVar[str] = ""

    def __init__(self, context: RuleContext) -> None:
        super().__init__()
        self.context = context
        self._pending: list[list[Note]] = []
        self._statements: list[cst.CSTNode] = []  # the statements being visited, innermost last
        self.class_names: list[str] = []  # the classes being visited, innermost last
        self.function_names: list[str] = []  # the functions (methods) being visited, innermost last

    def _where(self, at: cst.CSTNode | None) -> cst.CSTNode | None:
        return at if at is not None else (self._statements[-1] if self._statements else None)

    def change(self, what: str, at: cst.CSTNode | None = None) -> None:
        """Record a rewrite, at AT (a node the rule read) or at the statement being visited."""
        self.context.changes.append(Change(what, self.rule, at=self._where(at)))

    def note(self, message: str, kind: NoteKind = "review") -> None:
        note = Note(message, kind, self.rule, at=self._where(None))
        self.context.notes.append(note)
        if self._pending:
            self._pending[-1].append(note)
        else:
            self.context.unplaced.append(note)

    def noted(
        self,
        statement: StatementT,
        message: str,
        kind: NoteKind = "review",
        at: cst.CSTNode | None = None,
    ) -> StatementT:
        """STATEMENT with the note as a comment above it (for rules that rebuild statements themselves)."""
        self.context.notes.append(
            Note(message, kind, self.rule, at=self._where(at if at is not None else statement))
        )
        return review(statement, [message])

    # on_visit and on_leave run for every node of the file, once per rule: they test the node's
    # exact type (cheap) rather than isinstance against libcst's abstract classes (an ABC check).
    def on_visit(self, node: cst.CSTNode) -> bool:
        kind = type(node)
        if is_statement(kind):
            self._pending.append([])
            self._statements.append(node)
            if kind is cst.ClassDef:
                self.class_names.append(node.name.value)  # type: ignore[attr-defined]
            elif kind is cst.FunctionDef:
                self.function_names.append(node.name.value)  # type: ignore[attr-defined]
        return super().on_visit(node)

    def on_leave(  # type: ignore[override]
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNode]:
        result = super().on_leave(original_node, updated_node)
        kind = type(original_node)
        if is_statement(kind):
            if kind is cst.ClassDef:
                self.class_names.pop()
            elif kind is cst.FunctionDef:
                self.function_names.pop()
            self._statements.pop()
            notes = self._pending.pop()
            if notes:
                result = _with_notes(result, [note.message for note in notes], self.context, notes)
        return result


def _with_notes(
    result: cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNode],
    messages: list[str],
    context: RuleContext,
    notes: list[Note],
) -> cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel[cst.CSTNode]:
    if isinstance(result, cst.BaseStatement):
        return review(result, messages)
    if (
        isinstance(result, cst.FlattenSentinel)
        and result.nodes
        and isinstance(result.nodes[0], cst.BaseStatement)
    ):
        first = review(result.nodes[0], messages)
        return cst.FlattenSentinel([first, *result.nodes[1:]])
    context.unplaced.extend(notes)  # the statement went away: the report still says it
    return result


def names_in(node: cst.CSTNode) -> set[str]:
    """Every identifier NODE mentions (what a new name must not clash with, what a body reads)."""
    return {name.value for name in find(node, cst.Name)}


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next(
        (arg for arg in call.args if arg.keyword is not None and arg.keyword.value == name), None
    )


def method_name(call: cst.Call) -> str | None:
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


__all__ = [
    "Change",
    "Example",
    "Note",
    "Rule",
    "RuleContext",
    "RuleTransformer",
    "canonical",
    "dotted",
    "keyword",
    "line_map",
    "method_name",
    "names_in",
    "namespace",
]


def line_map(later: str, earlier: str) -> Callable[[int], int | None]:
    """Map a line of LATER (an intermediate text) to the same line of EARLIER (the original file)."""
    matcher = difflib.SequenceMatcher(
        None, earlier.splitlines(), later.splitlines(), autojunk=False
    )
    blocks = matcher.get_opcodes()

    def lookup(line: int) -> int | None:
        index = line - 1
        for tag, i1, i2, j1, j2 in blocks:
            if j1 <= index < j2:
                if tag == "equal":
                    return i1 + (index - j1) + 1
                return (
                    min(i1 + (index - j1), max(i2 - 1, i1)) + 1
                )  # a changed line: where the old lines were
        return None

    return lookup
