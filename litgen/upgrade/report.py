"""What `litgen upgrade` prints: one line per file and per note, a JSON object with --json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from litgen.upgrade.files import FileResult, UpgradeReport
from litgen.wording import plural


def text_lines(report: UpgradeReport) -> list[tuple[str, bool]]:
    """(line, goes to stderr) pairs: what changed, each note at its line, errors, and a summary."""
    lines: list[tuple[str, bool]] = []
    for result in report.files:
        if result.error is not None:
            lines.append((f"{result.error}", True))
            continue
        upgraded = result.upgraded
        if upgraded is None:
            continue
        if result.written:
            kept = f"; the original is {result.backup}" if result.backup is not None else ""
            lines.append(
                (
                    f"upgraded {result.path} ({plural(len(upgraded.changes), 'change')}{kept})",
                    report.diff_only,
                )
            )
        elif result.changed:
            lines.append(
                (f"would upgrade {result.path} ({plural(len(upgraded.changes), 'change')})", True)
            )
        for change in upgraded.changes:
            where = f"{result.path}:{change.line}" if change.line is not None else f"{result.path}"
            lines.append((f"  {where}: {change.rule}: {change.text}", report.diff_only))
        for note in upgraded.notes:
            where = f"{result.path}:{note.line}" if note.line is not None else f"{result.path}"
            label = "needs you" if note.kind == "manual" else "review"
            lines.append((f"{where}: {label}: {note.message}", report.diff_only))
    changed = sum(1 for f in report.files if f.changed)
    manual = sum(
        1
        for f in report.files
        if f.upgraded is not None
        for n in f.upgraded.notes
        if n.kind == "manual"
    )
    errors = sum(1 for f in report.files if f.error is not None)
    verb = "would change" if report.diff_only else "upgraded"
    summary = f"{plural(len(report.files), 'file')} read, {changed} {verb}"
    if manual:
        summary += f", {plural(manual, 'spot')} left for you (marked `# litgen:`)"
    if errors:
        summary += f", {plural(errors, 'file')} could not be read"
    lines.append((summary, True))
    return lines


def print_report(report: UpgradeReport) -> None:
    """Diffs on stdout, then the report lines (stdout, or stderr when stdout carries the diffs)."""
    for result in report.files:
        if result.diff is not None:
            typer.echo(result.diff, nl=False)
    for line, to_stderr in text_lines(report):
        typer.echo(line, err=to_stderr)


def _file_json(result: FileResult) -> dict[str, Any]:
    upgraded = result.upgraded
    return {
        "path": str(result.path),
        "changed": result.changed,
        "written": result.written,
        "backup": str(result.backup) if result.backup is not None else None,
        "changes": [
            {"line": c.line, "rule": c.rule, "change": c.text}
            for c in (upgraded.changes if upgraded else ())
        ],
        "notes": [
            {"line": n.line, "kind": n.kind, "rule": n.rule, "message": n.message}
            for n in (upgraded.notes if upgraded else ())
        ],
        "error": None
        if result.error is None
        else {"line": result.error.line, "reason": result.error.reason},
        "diff": result.diff,
    }


def to_json(report: UpgradeReport, checked: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "files": [_file_json(f) for f in report.files],
        "changed": sum(1 for f in report.files if f.changed),
        "needs_hands": report.failed,
    }
    if checked is not None:
        payload["check"] = checked
    return payload


def programs(report: UpgradeReport) -> list[Path]:
    """Upgraded Python files that run training themselves (what `--check` runs under fast_dev_run)."""
    found = []
    for result in report.files:
        if not result.written or result.upgraded is None or result.path.suffix != ".py":
            continue
        text = result.upgraded.upgraded
        if "__main__" in text or ".fit(" in text or "LightningCLI(" in text:
            found.append(result.path)
    return found
