"""What a conversion produced: the new source, where each construct went, and what the user must review."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Note:
    """A remark tied to a line of the original script."""

    line: int | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "message": self.message}


@dataclass(frozen=True)
class Mapped:
    """One construct of the original script and the place it now lives in the converted one."""

    construct: str
    line: int | None
    target: str

    def to_json(self) -> dict[str, Any]:
        return {"construct": self.construct, "line": self.line, "target": self.target}


@dataclass
class Conversion:
    """The result of converting one script in memory (no files involved)."""

    filename: str
    original: str
    converted: str
    already_lightning: bool = False
    lightning_reason: str = ""
    module_class: str | None = None
    mapping: list[Mapped] = field(default_factory=list)
    warnings: list[Note] = field(default_factory=list)
    refused: list[Note] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.converted != self.original


@dataclass
class ConvertReport:
    """What `litgen convert` did with one input file; the CLI prints it or dumps it as JSON."""

    input_path: Path
    conversion: Conversion
    output_path: Path | None = None
    diff_text: str | None = None
    backup_path: Path | None = None

    def summary_lines(self) -> list[str]:
        conversion = self.conversion
        if conversion.already_lightning:
            return [
                f"{self.input_path}: already Lightning ({conversion.lightning_reason}); nothing to do"
            ]
        if self.output_path is not None:
            lines = [f"converted {self.input_path} -> {self.output_path}"]
        else:
            lines = [f"converted {self.input_path} (diff only, nothing written)"]
        if self.backup_path is not None:
            lines.append(f"  original kept as {self.backup_path}")
        for entry in conversion.mapping:
            where = f"line {entry.line}" if entry.line is not None else "script"
            lines.append(f"  {entry.construct} ({where}) -> {entry.target}")
        for note in conversion.refused:
            lines.append(self._located(note, "not converted"))
        for note in conversion.warnings:
            lines.append(self._located(note, "warning"))
        return lines

    def _located(self, note: Note, kind: str) -> str:
        where = f"{self.input_path}:{note.line}" if note.line is not None else str(self.input_path)
        return f"{where}: {kind}: {note.message}"

    def to_json(self) -> dict[str, Any]:
        conversion = self.conversion
        return {
            "input": str(self.input_path),
            "output": str(self.output_path) if self.output_path is not None else None,
            "backup": str(self.backup_path) if self.backup_path is not None else None,
            "already_lightning": conversion.already_lightning,
            "lightning_module": conversion.module_class,
            "mapping": [entry.to_json() for entry in conversion.mapping],
            "warnings": [note.to_json() for note in conversion.warnings],
            "refused": [note.to_json() for note in conversion.refused],
            "diff": self.diff_text,
        }
