"""Handlers of the commands that rewrite or compare code: `convert`, `verify` and `upgrade`.

litgen/cli.py registers them on the app; like it, this module imports nothing heavy at module level.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from litgen.cli_check import run_checks
from litgen.cli_options import (
    DevicesOption,
    DiffOption,
    JsonReportOption,
    RtolOption,
    SeedOption,
    StepsOption,
    VerifyTimeoutOption,
    make_verify_options,
    script_args,
)
from litgen.cli_report import (
    print_check_results,
    print_verify_report,
    raise_if_diverged,
    raise_if_failed,
)
from litgen.errors import ConversionError, LitgenError, UsageError


def convert(
    input: Annotated[Path, typer.Argument(metavar="INPUT", help="A raw PyTorch training script.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="OUTPUT",
            help="Where to write (default: <stem>_lightning.py).",
        ),
    ] = None,
    diff: DiffOption = False,
    in_place: Annotated[
        bool,
        typer.Option(
            "--in-place", help="Rewrite INPUT itself; the original is kept as INPUT.orig."
        ),
    ] = False,
    run_check: Annotated[
        bool, typer.Option("--check", help="Run `litgen check` on the converted script.")
    ] = False,
    deep: Annotated[
        bool, typer.Option("--deep", help="With --check: run `litgen check --deep` instead.")
    ] = False,
    run_verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Then run `litgen verify INPUT OUTPUT` (the options below are its own).",
        ),
    ] = False,
    as_json: JsonReportOption = False,
    steps: StepsOption = "5",
    devices: DevicesOption = 1,
    rtol: RtolOption = 1e-5,
    timeout: VerifyTimeoutOption = 300.0,
    seed: SeedOption = 0,
) -> None:
    """Rewrite a raw PyTorch training loop into a LightningModule and a Trainer(...).fit(...) entry point.

    With --verify, arguments after `--` go to both scripts.
    """
    if diff and (in_place or output is not None):
        raise UsageError("--diff writes nothing; it cannot be combined with --in-place or --output")
    if in_place and output is not None:
        raise UsageError("--in-place and --output are exclusive")
    if deep and not run_check:
        raise UsageError("--deep deepens --check; add --check")
    if diff and (run_check or run_verify):
        raise UsageError(
            "--check and --verify run the written output; they cannot be combined with --diff"
        )
    if in_place and run_verify:
        raise UsageError(
            "--verify compares INPUT with its conversion; with --in-place, run `litgen verify INPUT.orig INPUT`"
        )
    verify_options = (
        make_verify_options(steps, devices, rtol, timeout, seed, script_args())
        if run_verify
        else None
    )
    from litgen.convert import convert_path

    try:
        report = convert_path(input, output=output, diff_only=diff, in_place=in_place)
    except LitgenError as refused:
        # scripts reading --json get an object on stdout either way; the exit code says which
        if as_json:
            typer.echo(
                json.dumps(
                    {"input": str(input), "error": refused.reason, "line": refused.line}, indent=2
                )
            )
        raise
    # an input that is already Lightning has no output: checking it is what the user asked for
    results = run_checks([report.output_path or input], deep=deep) if run_check else []
    verified = None
    if (
        verify_options is not None
        and report.output_path is not None
        and not any(not r.ok for r in results)
    ):
        from litgen.verify import verify_programs

        verified = verify_programs(input, report.output_path, verify_options)
    if as_json:
        payload = report.to_json()
        if run_check:
            payload["check"] = [r.to_json() for r in results]
        if verified is not None:
            payload["verify"] = verified.to_json()
        typer.echo(json.dumps(payload, indent=2))
    else:
        if report.diff_text is not None:
            typer.echo(report.diff_text, nl=False)
        for line in report.summary_lines():
            typer.echo(line, err=report.diff_text is not None)
        print_check_results(results)
        if verified is not None:
            print_verify_report(verified)
        elif verify_options is not None and report.output_path is None:
            typer.echo("nothing to verify: the input is already Lightning code", err=True)
    raise_if_failed(results)
    if verified is not None:
        raise_if_diverged(verified)


def verify(
    original: Annotated[Path, typer.Argument(metavar="ORIGINAL", help="The raw PyTorch script.")],
    converted: Annotated[
        Path, typer.Argument(metavar="CONVERTED", help="Its Lightning conversion.")
    ],
    steps: StepsOption = "5",
    devices: DevicesOption = 1,
    rtol: RtolOption = 1e-5,
    timeout: VerifyTimeoutOption = 300.0,
    seed: SeedOption = 0,
    as_json: JsonReportOption = False,
) -> None:
    """Run ORIGINAL and CONVERTED with the same seed and arguments; show they compute the same.

    Compares, step by step, the losses that reach backward, each param group's learning rate and
    the batch trained on; then the trained parameters, the printed lines and, with --devices N,
    the evaluations of N DDP processes against 1. Exit 0: they agree; 1: they diverge (the first
    differing step and its cause are named). Arguments after `--` go to both scripts.
    """
    from litgen.verify import verify_programs

    report = verify_programs(
        original,
        converted,
        make_verify_options(steps, devices, rtol, timeout, seed, script_args()),
    )
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        if report.output_tail:
            typer.echo(report.output_tail.rstrip(), err=True)
    else:
        print_verify_report(report)
    raise_if_diverged(report)


def upgrade(
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="PATH...", help="Python files, YAML configs or folders of them."),
    ],
    diff: DiffOption = False,
    run_check: Annotated[
        bool, typer.Option("--check", help="Run `litgen check` on the upgraded programs.")
    ] = False,
    as_json: JsonReportOption = False,
) -> None:
    """Rewrite Lightning 1.x code (and YAML Trainer configs) so it runs on Lightning 2.x, in place.

    Inside git the work tree must be clean (review with `git diff`, undo with git); other files keep
    a NAME.orig backup. What cannot be rewritten faithfully is marked `# litgen:` and listed as
    "needs you" (exit 1); a rewrite whose meaning shifts slightly gets a "review" note (exit 0).
    """
    if diff and run_check:
        raise UsageError(
            "--check runs the upgraded files; it cannot be combined with --diff, which writes nothing"
        )
    from litgen.upgrade.files import upgrade_paths
    from litgen.upgrade.report import print_report, programs, to_json

    try:
        report = upgrade_paths(paths, diff_only=diff)
    except LitgenError as refused:
        # scripts reading --json get an object on stdout either way; the exit code says which
        if as_json:
            typer.echo(
                json.dumps({"paths": [str(p) for p in paths], "error": str(refused)}, indent=2)
            )
        raise
    results = []
    if run_check and programs(report):
        from litgen.check import check_programs

        results = check_programs(programs(report))
    if as_json:
        typer.echo(
            json.dumps(
                to_json(report, [r.to_json() for r in results] if run_check else None), indent=2
            )
        )
    else:
        print_report(report)
        print_check_results(results)
    raise_if_failed(results)
    if report.failed:
        raise ConversionError(
            "some code could not be upgraded: see the `# litgen:` notes listed above"
        )
