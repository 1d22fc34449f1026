"""How the CLI shows results: progress lines, check verdicts, verify reports, and the next commands to run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from litgen.errors import CheckFailed, Diverged, LitgenError

if TYPE_CHECKING:  # imported by the commands that produce them, never on the --help path
    from litgen.check import CheckResult
    from litgen.verify import VerifyReport


def progress_line(line: str) -> None:
    """One line of progress, on stderr: stdout keeps the results."""
    typer.echo(f"litgen: {line}", err=True)


def print_check_results(results: list[CheckResult], *, verbose: bool = False) -> None:
    """PASS lines on stdout; FAIL lines, the failing output and notes on stderr."""
    for result in results:
        if result.ok:
            typer.echo(f"PASS {result.target} ({result.summary})")
            if verbose and result.output_tail:
                typer.echo(result.output_tail.rstrip())
        else:
            typer.echo(f"FAIL {result.target}: {result.reason}", err=True)
            if result.output_tail:
                typer.echo(result.output_tail.rstrip(), err=True)
        for note in result.notes:
            typer.echo(f"  note: {note}", err=True)


def raise_if_failed(results: list[CheckResult]) -> None:
    """The first failure as the command's one-line error (exit 1)."""
    failed = [r for r in results if not r.ok]
    if failed:
        first = failed[0]
        raise CheckFailed(f"did not train under fast_dev_run: {first.reason}", path=first.target)


def print_verify_report(report: VerifyReport) -> None:
    """The report on stdout; a program's failing output on stderr."""
    for line in report.text_lines():
        typer.echo(line)
    if report.output_tail:
        typer.echo(report.output_tail.rstrip(), err=True)


def raise_if_diverged(report: VerifyReport) -> None:
    """The first difference as the command's one-line error (exit 1)."""
    if not report.agree:
        first = report.first_difference
        detail = first.detail if first is not None else "they differ"
        step = f" at step {first.step}" if first is not None and first.step is not None else ""
        raise Diverged(f"does not compute what {report.original} computes{step}: {detail}", path=report.converted)


def next_steps(project: Path) -> list[str]:
    """The commands a user types next, for a project that says how it runs ([tool.litgen] in pyproject.toml)."""
    from litgen.check_targets import resolve_target

    try:
        target = resolve_target(project)
    except LitgenError:  # a custom template without a [tool.litgen] table: nothing to suggest
        return []
    run = " ".join(["python", "-m", str(target.module), *(arg.replace(f"{project}/", "") for arg in target.argv[1:])])
    return ["next:", f"  cd {project}", "  python -m pip install -e '.[dev]'   # or train from src/ with PYTHONPATH=src", f"  {run}"]
