"""`upgrade_source`: apply every rule, in order, to one file's text; in memory, nothing written."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import libcst as cst

from litgen.convert.script import parse
from litgen.errors import ConversionError
from litgen.upgrade.classes import subclasses_project_class
from litgen.upgrade.rule import NO_PROJECT, Change, ProjectClasses, RuleContext, line_map
from litgen.upgrade.rules import RULES


@dataclass(frozen=True)
class PlacedNote:
    """A note as the report shows it, at its line in the original file (None: the line went)."""

    line: int | None
    message: str
    kind: str
    rule: str


@dataclass(frozen=True)
class Upgraded:
    path: str
    original: str
    upgraded: str
    changes: tuple[Change, ...]
    notes: tuple[PlacedNote, ...]

    @property
    def changed(self) -> bool:
        return self.upgraded != self.original

    @property
    def needs_hands(self) -> bool:
        """Something is left as it was that 2.x rejects or ignores: the user must finish it."""
        return any(note.kind == "manual" for note in self.notes)


def upgrade_source(source: str, filename: str, project: ProjectClasses = NO_PROJECT) -> Upgraded:
    """Upgrade one Python file's text; raises ConversionError (file:line) when it does not parse.

    PROJECT names Lightning classes other files of the same upgrade define (`project_classes`).
    """
    if "lightning" not in source and not subclasses_project_class(source, project):
        return Upgraded(filename, source, source, (), ())
    module = parse(source, filename)  # a ConversionError naming the line Python names
    try:
        return _apply_rules(module, source, filename, project)
    except RecursionError:
        raise ConversionError("the code nests too deeply to be upgraded", path=filename) from None


def _apply_rules(
    module: cst.Module, source: str, filename: str, project: ProjectClasses
) -> Upgraded:
    changes: list[Change] = []
    notes: list[PlacedNote] = []
    moved = False  # whether an earlier rule changed the text (its lines then need mapping back)
    for rule in RULES:
        if not rule.applies(
            source
        ):  # the original text: a rule's construct does not appear from nowhere
            continue
        context = RuleContext(module, filename, project=project, original=source)
        module = rule.apply(module, context)
        if context.changes or context.notes:
            original = _to_original_lines(context, source, moved)
            changes.extend(
                dataclasses.replace(c, line=original(c.at), at=None) for c in context.changes
            )
            notes.extend(
                PlacedNote(original(n.at), n.message, n.kind, n.rule) for n in context.notes
            )
            moved = True
    return Upgraded(
        filename,
        source,
        module.code,
        tuple(sorted(changes, key=_by_line)),
        tuple(sorted(dict.fromkeys(notes), key=_by_line)),
    )


def _to_original_lines(
    context: RuleContext, source: str, moved: bool
) -> Callable[[cst.CSTNode | None], int | None]:
    """The line in SOURCE (the file as read) of a node the rule recorded; MOVED: earlier rules
    changed the text the rule read, so its lines are mapped back."""
    where, read = context.lines()
    to_original = line_map(read, source) if moved else None

    def original(node: cst.CSTNode | None) -> int | None:
        line = where(node)
        return to_original(line) if to_original is not None and line is not None else line

    return original


def _by_line(item: Change | PlacedNote) -> tuple[bool, int]:
    """The report reads top to bottom; `sorted` keeps rule order on one line, unplaced items go last."""
    return item.line is None, item.line or 0
