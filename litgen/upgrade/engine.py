"""`upgrade_source`: apply every rule, in order, to one file's text; in memory, nothing written."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from litgen.convert.script import parse
from litgen.errors import ConversionError
from litgen.review import review_lines
from litgen.upgrade.rule import Note, RuleContext
from litgen.upgrade.rules import RULES


@dataclass(frozen=True)
class PlacedNote:
    """A note as the report shows it: the line of its `# litgen:` comment in the upgraded text."""

    line: int | None
    message: str
    kind: str
    rule: str


@dataclass(frozen=True)
class Upgraded:
    path: str
    original: str
    upgraded: str
    changes: tuple[str, ...]
    notes: tuple[PlacedNote, ...]

    @property
    def changed(self) -> bool:
        return self.upgraded != self.original

    @property
    def needs_hands(self) -> bool:
        """Something is left as it was that 2.x rejects or ignores: the user must finish it."""
        return any(note.kind == "manual" for note in self.notes)


def upgrade_source(source: str, filename: str) -> Upgraded:
    """Upgrade one Python file's text; raises ConversionError (file:line) when it does not parse."""
    if "lightning" not in source:
        return Upgraded(filename, source, source, (), ())
    module = parse(source, filename)  # a ConversionError naming the line Python names
    try:
        return _apply_rules(module, source, filename)
    except RecursionError:
        raise ConversionError("the code nests too deeply to be upgraded", path=filename) from None


def _apply_rules(module: cst.Module, source: str, filename: str) -> Upgraded:
    changes: list[str] = []
    notes: list[Note] = []
    unplaced: list[Note] = []
    for rule in RULES:
        if not rule.applies(module.code):
            continue
        context = RuleContext(module, filename)
        module = rule.apply(module, context)
        changes.extend(f"{rule.name}: {change}" for change in context.changes)
        notes.extend(context.notes)
        unplaced.extend(context.unplaced)
    upgraded = module.code
    return Upgraded(filename, source, upgraded, tuple(changes), _place(upgraded, notes, unplaced))


def _place(upgraded: str, notes: list[Note], unplaced: list[Note]) -> tuple[PlacedNote, ...]:
    """Each note with the line of its `# litgen:` comment in the upgraded text (None: its statement went)."""
    lines = [text.strip() for text in upgraded.splitlines()]
    used: set[int] = set()
    placed: list[PlacedNote] = []
    for note in notes:
        line = None
        if not any(note is other for other in unplaced):
            first = review_lines(note.message)[0]
            line = next((n for n, text in enumerate(lines, start=1) if text == first and n not in used), None)
            if line is not None:
                used.add(line)
        placed.append(PlacedNote(line, note.message, note.kind, note.rule))
    return tuple(dict.fromkeys(placed))
