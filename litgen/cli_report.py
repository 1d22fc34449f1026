"""How the CLI shows results: progress lines, check verdicts, verify reports, and the next commands to run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from litgen.errors import CheckFailed, Diverged, LitgenError

if TYPE_CHECKING:  # imported by the commands that produce them, never on the --help path
    from collections.abc import Sequence

    from litgen.check import CheckResult
    from litgen.check_deep import DeepResult
    from litgen.verify import VerifyReport


def progress_line(line: str) -> None:
    """One line of progress, on stderr: stdout keeps the results."""
    typer.echo(f"litgen: {line}", err=True)


def print_check_results(
    results: Sequence[CheckResult | DeepResult], *, verbose: bool = False
) -> None:
    """PASS lines on stdout; FAIL lines, the failing output and notes on stderr (deep results as tables)."""
    from litgen.check_deep import DeepResult

    for result in results:
        if isinstance(result, DeepResult):
            _print_deep(result, verbose=verbose)
            continue
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
    deep = [result for result in results if isinstance(result, DeepResult)]
    if len(deep) > 1:
        _print_deep_table(deep)


def _print_deep(result: DeepResult, *, verbose: bool) -> None:
    failed = result.first_failure
    if failed is None:
        typer.echo(f"PASS {result.target} (deep check in {result.elapsed_s:.1f} s)")
    else:
        typer.echo(f"FAIL {result.target}: {failed.name}: {failed.reason}", err=True)
    width = max(len(check.name) for check in result.subchecks)
    for check in result.subchecks:
        took = f"{check.elapsed_s:5.1f} s" if check.status != "skipped" else "      -"
        typer.echo(
            f"  {check.name:<{width}}  {check.status:<7}  {took}  {check.reason}",
            err=failed is not None,
        )
    tail = result.base.output_tail
    if tail and (verbose or (failed is not None and failed.name == "fast_dev_run")):
        typer.echo(tail.rstrip(), err=failed is not None)
    for note in result.notes:
        typer.echo(f"  note: {note}", err=True)


def _print_deep_table(results: Sequence[DeepResult]) -> None:
    """One row per program, one column per sub-check: the overview of several programs."""
    names = [check.name for check in results[0].subchecks]
    width = max(len(str(result.target)) for result in results)
    columns = [max(len(name), 7) for name in names]
    typer.echo("")
    typer.echo(
        "  ".join(
            [
                f"{'program':<{width}}",
                *(f"{name:<{size}}" for name, size in zip(names, columns, strict=True)),
                "time",
            ]
        )
    )
    for result in results:
        cells = [
            f"{check.status:<{size}}"
            for check, size in zip(result.subchecks, columns, strict=False)
        ]
        typer.echo("  ".join([f"{result.target!s:<{width}}", *cells, f"{result.elapsed_s:.1f} s"]))


def raise_if_failed(results: Sequence[CheckResult | DeepResult]) -> None:
    """The first failure as the command's one-line error (exit 1)."""
    from litgen.check_deep import DeepResult

    failed = [r for r in results if not r.ok]
    if not failed:
        return
    first = failed[0]
    if isinstance(first, DeepResult):
        check = first.first_failure
        if check is not None and check.name != "fast_dev_run":
            raise CheckFailed(
                f"failed the deep check at {check.name}: {check.reason}", path=first.target
            )
        reason = check.reason if check is not None else first.base.reason
    else:
        reason = first.reason
    raise CheckFailed(f"did not train under fast_dev_run: {reason}", path=first.target)


def print_check_json(results: Sequence[CheckResult | DeepResult]) -> None:
    """Every verdict as one JSON list on stdout (what --json promises scripts, pass or fail)."""
    import json

    typer.echo(json.dumps([result.to_json() for result in results], indent=2))


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
        raise Diverged(
            f"does not compute what {report.original} computes{step}: {detail}",
            path=report.converted,
        )


def next_steps(project: Path) -> list[str]:
    """The commands a user types next, for a project that says how it runs ([tool.litgen] in pyproject.toml)."""
    from litgen.check_targets import resolve_target

    try:
        target = resolve_target(project)
    except LitgenError:  # a custom template without a [tool.litgen] table: nothing to suggest
        return []
    run = " ".join(
        [
            "python",
            "-m",
            str(target.module),
            *(arg.replace(f"{project}/", "") for arg in target.argv[1:]),
        ]
    )
    return [
        "next:",
        f"  cd {project}",
        "  python -m pip install -e '.[dev]'   # or train from src/ with PYTHONPATH=src",
        f"  {run}",
    ]
