"""The shared state of one conversion: the script, its facts, and the notes collected along the way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

import libcst as cst

from litgen.convert.facts import Facts
from litgen.convert.names import ImportTable
from litgen.convert.report import Mapped, Note
from litgen.convert.script import Script
from litgen.convert.symbols import Symbols
from litgen.review import REVIEW_PREFIX, review

__all__ = ["REVIEW_PREFIX", "Ctx", "Schedule", "TrainerOption", "review"]


@dataclass
class TrainerOption:
    """One `Trainer(...)` argument; `condition` makes it `**({key: value} if condition else {})`."""

    key: str
    value: cst.BaseExpression
    condition: cst.BaseExpression | None = None
    line: int | None = None


@dataclass
class Schedule:
    """A scheduler Lightning now steps: `interval` "step" or "epoch", `monitor` for ReduceLROnPlateau."""

    name: str
    interval: str
    monitor: str | None = None
    line: int | None = None


@dataclass
class Ctx:
    script: Script
    facts: Facts
    mapping: list[Mapped] = field(default_factory=list)
    warnings: list[Note] = field(default_factory=list)
    refused: list[Note] = field(default_factory=list)
    trainer: list[TrainerOption] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    scheduler_step_counts: dict[str, int] = field(default_factory=dict)
    review_notes: dict[str, list[str]] = field(default_factory=dict)
    symbols: Symbols = field(default_factory=Symbols)

    @property
    def imports(self) -> ImportTable:
        return self.script.imports

    def line(self, node: cst.CSTNode | None) -> int | None:
        return self.script.line(node)

    def refuse(
        self, reason: str, node: cst.CSTNode | None = None, line: int | None = None
    ) -> NoReturn:
        self.script.refuse(reason, node, line)

    def mapped(self, construct: str, line: int | None, target: str) -> None:
        entry = Mapped(construct, line, target)
        if entry not in self.mapping:
            self.mapping.append(entry)

    def warn(self, message: str, line: int | None, at: str = "trainer") -> None:
        """A warning for the report, also written as a `# litgen:` comment at `at` (the Trainer or a hook)."""
        note = Note(line, message)
        if note not in self.warnings:
            self.warnings.append(note)
            self.review_notes.setdefault(at, []).append(message)

    def keep_unconverted(self, message: str, line: int | None) -> None:
        note = Note(line, message)
        if note not in self.refused:
            self.refused.append(note)

    def option(
        self,
        key: str,
        value: cst.BaseExpression,
        line: int | None,
        condition: cst.BaseExpression | None = None,
    ) -> None:
        for existing in self.trainer:
            if existing.key == key:
                return
        self.trainer.append(TrainerOption(key, value, condition, line))

    def is_model(self, name: str) -> bool:
        return name in self.facts.modules

    def is_optimizer(self, name: str | None) -> bool:
        return name is not None and name in self.facts.optimizers

    def is_scheduler(self, name: str | None) -> bool:
        return name is not None and name in self.facts.schedulers

    def is_scaler(self, name: str | None) -> bool:
        return name is not None and name in self.facts.scalers
