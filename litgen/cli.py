"""The thin Typer app: parses arguments, calls one function per command, prints, maps errors to exit codes."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from litgen import __version__
from litgen.cli_check import CHECK_WHAT, run_checks
from litgen.cli_code import convert, upgrade, verify
from litgen.cli_options import (
    STATE,
    CheckDevicesOption,
    CheckJsonOption,
    DeepOption,
    KeepGoingOption,
    ProjectArgument,
    deep_settings,
    script_args,
)
from litgen.cli_report import next_steps, print_check_json, print_check_results, raise_if_failed
from litgen.errors import LitgenError, RunFailed, UsageError

app = typer.Typer(
    name="litgen",
    help=(
        "Scaffold PyTorch Lightning projects and convert raw PyTorch training scripts, "
        "then prove they train with fast_dev_run.\n\n"
        "Each command lives in its own module: new -> litgen/new.py, convert -> litgen/convert/, "
        "check -> litgen/check.py, verify -> litgen/verify/, templates -> litgen/new.py, "
        "update -> litgen/update.py, add -> litgen/add.py, upgrade -> litgen/upgrade/."
    ),
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"litgen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    STATE["debug"] = debug


@app.command()
def new(
    dest: Annotated[
        Path,
        typer.Argument(
            metavar="DEST", help="Folder to create the project in (must be empty unless --force)."
        ),
    ],
    template: Annotated[
        str,
        typer.Option(
            "--template",
            "-t",
            metavar="NAME",
            help="Template name (see `litgen templates`) or a folder holding a copier.yml.",
        ),
    ] = "classifier",
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Ask nothing: use --data answers, else defaults.")
    ] = False,
    data: Annotated[
        list[str] | None,
        typer.Option("--data", "-d", metavar="KEY=VALUE", help="Answer a question (repeatable)."),
    ] = None,
    no_check: Annotated[
        bool, typer.Option("--no-check", help="Skip the fast_dev_run validation.")
    ] = False,
    deep: DeepOption = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Render into a non-empty DEST; changed files are first saved as *.bak."
        ),
    ] = False,
) -> None:
    """Render a Lightning project from a copier template into DEST, then prove it trains (fast_dev_run)."""
    from litgen.new import create_project, parse_data_pairs

    if deep and no_check:
        raise UsageError("--deep deepens the check that --no-check skips; give one of them")
    answers = parse_data_pairs(data or [])
    created = create_project(
        dest, template=template, answers=answers, use_defaults=defaults, force=force
    )
    for backup in created.backups:
        typer.echo(f"kept your previous file as {backup}", err=True)
    typer.echo(f"created {created.dest} from template '{template}'")
    if not no_check:
        typer.echo(
            f"checking that it trains ({CHECK_WHAT[deep]} on CPU; importing Lightning takes a few seconds) ..."
        )
        results = run_checks([created.dest], deep=deep)
        print_check_results(results)
        raise_if_failed(results)
    for line in next_steps(created.dest):
        typer.echo(line)


@app.command()
def templates(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every template and question as JSON.")
    ] = False,
) -> None:
    """List the templates and the questions each asks, with their choices and defaults."""
    from litgen.new import list_templates

    infos = list_templates()
    if as_json:
        typer.echo(json.dumps([info.to_json() for info in infos], indent=2, default=str))
        return
    for info in infos:
        typer.echo(f"{info.name:<14} {info.description}")
        for question in info.questions:
            choices = info.choices.get(question)
            accepts = " | ".join(map(str, choices)) if choices else info.types.get(question, "str")
            if question in info.multiselect:
                accepts += " (several, comma-separated)"
            default = info.defaults.get(question)
            shown = "" if default is None or "{{" in str(default) else f" [default: {default}]"
            typer.echo(f"  {question}: {accepts}{shown}")
        typer.echo("")


@app.command()
def check(
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="PATH", help="Lightning scripts or generated project folders."),
    ],
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="S",
            help="Seconds before a program (all its sub-checks) is killed.",
        ),
    ] = 300.0,
    cpu_map: Annotated[
        bool,
        typer.Option(
            "--cpu-map",
            help="Also map GPU-only settings of a program that sets accelerator='cpu' itself.",
        ),
    ] = False,
    deep: DeepOption = False,
    devices: CheckDevicesOption = None,
    keep_going: KeepGoingOption = False,
    as_json: CheckJsonOption = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Also show the end of a passing program's output."),
    ] = False,
) -> None:
    """Run programs with fast_dev_run forced (CPU, offline, scratch dir); pass if a training step ran.

    --deep then checks what fast_dev_run hides: a short real fit with checkpoints, loading the
    checkpoint, resuming from it, a seeded repeat and a DDP fit on CPU processes. Arguments after
    `--` are passed to every script; relative paths among them are resolved against the current
    folder. A LightningCLI script without a subcommand runs `fit`.
    """
    ddp_devices, keep_going = deep_settings(deep, devices, keep_going)
    results = run_checks(
        paths,
        deep=deep,
        timeout=timeout,
        cpu_map=cpu_map,
        devices=ddp_devices,
        keep_going=keep_going,
        script_args=script_args(),
    )
    if as_json:
        print_check_json(results)
    else:
        print_check_results(results, verbose=verbose)
    raise_if_failed(results)


app.command()(convert)
app.command()(verify)
app.command()(upgrade)


@app.command()
def update(
    path: ProjectArgument = Path("."),
    check_only: Annotated[
        bool,
        typer.Option(
            "--check", help="Only report whether an update is available (exit 1 if one is)."
        ),
    ] = False,
) -> None:
    """Merge the installed litgen's template version into a generated project, keeping your edits.

    The project must be in a git repository without uncommitted changes. Conflicts get
    <<<<<<< markers and exit 1.
    """
    if check_only:
        from litgen.update import check_update

        status = check_update(path)
        typer.echo(status.summary())
        if status.available:
            raise typer.Exit(1)
        return
    from litgen.update import update_project

    report = update_project(path)
    for line in report.summary_lines("updated"):
        typer.echo(line)
    report.raise_for_conflicts()


@app.command()
def add(
    component: Annotated[
        str, typer.Argument(metavar="COMPONENT", help="logger, callback, slurm or export.")
    ],
    path: ProjectArgument = Path("."),
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data",
            "-d",
            metavar="KEY=VALUE",
            help="A component option (repeatable), e.g. kind=tensorboard, name=EpochTimer.",
        ),
    ] = None,
) -> None:
    """Add a component to a generated project without touching the rest.

    logger (kind=csv|tensorboard), callback (name=ClassName), slurm (devices=N, num_nodes=N, strategy=S),
    export (scripts/export.py: checkpoint -> torch.export / TorchScript, with an equivalence test).
    """
    from litgen.add import add_component
    from litgen.new import parse_data_pairs

    report = add_component(path, component, parse_data_pairs(data or []))
    for line in report.summary_lines(f"added {component} to"):
        typer.echo(line)
    report.raise_for_conflicts()


def _exit_on_signal(signum: int, frame: object) -> None:
    # An exception, not an abrupt exit: `finally` blocks still kill the programs litgen started and
    # remove its scratch folders.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; everything after a bare `--` is kept for the scripts that `check` runs."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _exit_on_signal)
    args = list(sys.argv[1:] if argv is None else argv)
    # main() may run more than once in a process (tests, embedding)
    STATE.update(debug=False, script_args=[])
    if "--" in args:
        cut = args.index("--")
        args, STATE["script_args"] = args[:cut], args[cut + 1 :]
    try:
        exit_code = app(args=args, prog_name="litgen", standalone_mode=False)
    except LitgenError as error:
        if STATE["debug"]:
            raise
        typer.echo(f"litgen: error: {error}", err=True)
        if isinstance(error, RunFailed) and error.output:
            typer.echo(error.output.rstrip(), err=True)
        sys.exit(error.exit_code)
    except typer.Abort:
        typer.echo("litgen: interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.echo("litgen: interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # click's usage errors (typer vendors click) and anything unexpected
        show, usage_exit_code = getattr(error, "show", None), getattr(error, "exit_code", None)
        if callable(show) and isinstance(usage_exit_code, int):
            show()
            sys.exit(usage_exit_code)
        if STATE["debug"]:
            raise
        typer.echo(
            f"litgen: error: internal error: {type(error).__name__}: {error} (rerun with --debug)",
            err=True,
        )
        sys.exit(3)
    # click returns the exit code of --help and typer.Exit when not in standalone mode, and typer
    # returns 130 for a Ctrl-C it caught itself (at a prompt)
    if exit_code == 130:
        typer.echo("litgen: interrupted", err=True)
    sys.exit(exit_code if isinstance(exit_code, int) else 0)
