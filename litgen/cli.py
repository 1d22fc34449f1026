"""The thin Typer app: parses arguments, calls one function per command, prints, maps errors to exit codes."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from litgen import __version__
from litgen.cli_check import CHECK_WHAT, run_checks
from litgen.cli_options import CheckDevicesOption, CheckJsonOption, DeepOption, DevicesOption, KeepGoingOption, RtolOption
from litgen.cli_options import SeedOption, StepsOption, VerifyTimeoutOption, deep_settings, make_verify_options
from litgen.cli_report import (
    next_steps,
    print_check_json,
    print_check_results,
    print_verify_report,
    progress_line,
    raise_if_diverged,
    raise_if_failed,
)
from litgen.errors import CheckFailed, ConversionError, Diverged, LitgenError, UsageError

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

_state: dict[str, object] = {"debug": False, "script_args": []}


def _script_args() -> tuple[str, ...]:
    """What followed a bare `--` on the command line (main() puts it in _state)."""
    args = _state["script_args"]
    return tuple(str(arg) for arg in args) if isinstance(args, (list, tuple)) else ()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"litgen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug


@app.command()
def new(
    dest: Annotated[
        Path, typer.Argument(metavar="DEST", help="Folder to create the project in (must be empty unless --force).")
    ],
    template: Annotated[str, typer.Option("--template", "-t", metavar="NAME", help="Template name (see `litgen templates`) or a folder holding a copier.yml.")] = "classifier",
    defaults: Annotated[bool, typer.Option("--defaults", help="Ask nothing: use --data answers, else defaults.")] = False,
    data: Annotated[
        Optional[list[str]], typer.Option("--data", "-d", metavar="KEY=VALUE", help="Answer a question (repeatable).")
    ] = None,
    no_check: Annotated[bool, typer.Option("--no-check", help="Skip the fast_dev_run validation.")] = False,
    deep: DeepOption = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Render into a non-empty DEST; changed files are first saved as *.bak."),
    ] = False,
) -> None:
    """Render a Lightning project from a copier template into DEST, then prove it trains (fast_dev_run)."""
    from litgen.new import create_project, parse_data_pairs

    if deep and no_check:
        raise UsageError("--deep deepens the check that --no-check skips; give one of them")
    answers = parse_data_pairs(data or [])
    created = create_project(dest, template=template, answers=answers, use_defaults=defaults, force=force)
    for backup in created.backups:
        typer.echo(f"kept your previous file as {backup}", err=True)
    typer.echo(f"created {created.dest} from template '{template}'")
    if not no_check:
        typer.echo(f"checking that it trains ({CHECK_WHAT[deep]} on CPU; importing Lightning takes a few seconds) ...")
        results = run_checks([created.dest], deep=deep)
        print_check_results(results)
        raise_if_failed(results)
    for line in next_steps(created.dest):
        typer.echo(line)


@app.command()
def templates(
    as_json: Annotated[bool, typer.Option("--json", help="Print every template and question as JSON.")] = False,
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
    paths: Annotated[list[Path], typer.Argument(metavar="PATH", help="Lightning scripts or generated project folders.")],
    timeout: Annotated[float, typer.Option("--timeout", metavar="S", help="Seconds before a program (all its sub-checks) is killed.")] = 300.0,
    cpu_map: Annotated[
        bool,
        typer.Option(
            "--cpu-map", help="Also map GPU-only settings of a program that sets accelerator='cpu' itself."
        ),
    ] = False,
    deep: DeepOption = False,
    devices: CheckDevicesOption = None,
    keep_going: KeepGoingOption = False,
    as_json: CheckJsonOption = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also show the end of a passing program's output.")
    ] = False,
) -> None:
    """Run programs with fast_dev_run forced (CPU, offline, scratch dir); pass if a training step ran.

    --deep then checks what fast_dev_run hides: a short real fit with checkpoints, loading the
    checkpoint, resuming from it, a seeded repeat and a DDP fit on CPU processes. Arguments after
    `--` are passed to every script; relative paths among them are resolved against the current
    folder. A LightningCLI script without a subcommand runs `fit`.
    """
    ddp_devices, keep_going = deep_settings(deep, devices, keep_going)
    results = run_checks(paths, deep=deep, timeout=timeout, cpu_map=cpu_map, devices=ddp_devices, keep_going=keep_going,
                         script_args=_script_args())
    if as_json:
        print_check_json(results)
    else:
        print_check_results(results, verbose=verbose)
    raise_if_failed(results)


@app.command()
def convert(
    input: Annotated[Path, typer.Argument(metavar="INPUT", help="A raw PyTorch training script.")],
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", metavar="OUTPUT", help="Where to write (default: <stem>_lightning.py).")
    ] = None,
    diff: Annotated[bool, typer.Option("--diff", help="Print a unified diff and write nothing.")] = False,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="Rewrite INPUT itself; the original is kept as INPUT.orig.")
    ] = False,
    run_check: Annotated[bool, typer.Option("--check", help="Run `litgen check` on the converted script.")] = False,
    deep: Annotated[bool, typer.Option("--deep", help="With --check: run `litgen check --deep` instead.")] = False,
    run_verify: Annotated[
        bool, typer.Option("--verify", help="Then run `litgen verify INPUT OUTPUT` (the options below are its own).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable report on stdout.")] = False,
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
        raise UsageError("--check and --verify run the written output; they cannot be combined with --diff")
    if in_place and run_verify:
        raise UsageError("--verify compares INPUT with its conversion; with --in-place, run `litgen verify INPUT.orig INPUT`")
    verify_options = make_verify_options(steps, devices, rtol, timeout, seed, _script_args()) if run_verify else None
    from litgen.convert import convert_path

    try:
        report = convert_path(input, output=output, diff_only=diff, in_place=in_place)
    except LitgenError as refused:
        if as_json:  # scripts reading --json get an object on stdout either way; the exit code says which
            typer.echo(json.dumps({"input": str(input), "error": refused.reason, "line": refused.line}, indent=2))
        raise
    # an input that is already Lightning has no output: checking it is what the user asked for
    results = run_checks([report.output_path or input], deep=deep) if run_check else []
    verified = None
    if verify_options is not None and report.output_path is not None and not any(not r.ok for r in results):
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


@app.command()
def verify(
    original: Annotated[Path, typer.Argument(metavar="ORIGINAL", help="The raw PyTorch script.")],
    converted: Annotated[Path, typer.Argument(metavar="CONVERTED", help="Its Lightning conversion.")],
    steps: StepsOption = "5",
    devices: DevicesOption = 1,
    rtol: RtolOption = 1e-5,
    timeout: VerifyTimeoutOption = 300.0,
    seed: SeedOption = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable report on stdout.")] = False,
) -> None:
    """Run ORIGINAL and CONVERTED with the same seed and arguments; show they compute the same.

    Compares, step by step, the losses that reach backward, each param group's learning rate and
    the batch trained on; then the trained parameters, the printed lines and, with --devices N,
    the evaluations of N DDP processes against 1. Exit 0: they agree; 1: they diverge (the first
    differing step and its cause are named). Arguments after `--` go to both scripts.
    """
    from litgen.verify import verify_programs

    report = verify_programs(original, converted, make_verify_options(steps, devices, rtol, timeout, seed, _script_args()))
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
        if report.output_tail:
            typer.echo(report.output_tail.rstrip(), err=True)
    else:
        print_verify_report(report)
    raise_if_diverged(report)


@app.command()
def upgrade(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH...", help="Python files, YAML configs or folders of them.")],
    diff: Annotated[bool, typer.Option("--diff", help="Print a unified diff and write nothing.")] = False,
    run_check: Annotated[bool, typer.Option("--check", help="Run `litgen check` on the upgraded programs.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable report on stdout.")] = False,
) -> None:
    """Rewrite Lightning 1.x code (and YAML Trainer configs) so it runs on Lightning 2.x, in place.

    Inside git the work tree must be clean (review with `git diff`, undo with git); other files keep
    a NAME.orig backup. What cannot be rewritten faithfully is marked `# litgen:` and listed (exit 1).
    """
    if diff and run_check:
        raise UsageError("--check runs the upgraded files; it cannot be combined with --diff, which writes nothing")
    from litgen.upgrade.files import upgrade_paths
    from litgen.upgrade.report import print_report, programs, to_json

    try:
        report = upgrade_paths(paths, diff_only=diff)
    except LitgenError as refused:
        if as_json:  # scripts reading --json get an object on stdout either way; the exit code says which
            typer.echo(json.dumps({"paths": [str(p) for p in paths], "error": str(refused)}, indent=2))
        raise
    results = []
    if run_check and programs(report):
        from litgen.check import check_programs

        results = check_programs(programs(report))
    if as_json:
        typer.echo(json.dumps(to_json(report, [r.to_json() for r in results] if run_check else None), indent=2))
    else:
        print_report(report)
        print_check_results(results)
    raise_if_failed(results)
    if report.failed:
        raise ConversionError("some code could not be upgraded: see the `# litgen:` notes listed above")


@app.command()
def update(
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="A project made by `litgen new` (default: the current folder).")
    ] = Path("."),
    check_only: Annotated[
        bool, typer.Option("--check", help="Only report whether an update is available (exit 1 if one is).")
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
    component: Annotated[str, typer.Argument(metavar="COMPONENT", help="logger, callback, slurm or export.")],
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="A project made by `litgen new` (default: the current folder).")
    ] = Path("."),
    data: Annotated[
        Optional[list[str]],
        typer.Option(
            "--data", "-d", metavar="KEY=VALUE", help="A component option (repeatable), e.g. kind=tensorboard, name=EpochTimer."
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
    _state.update(debug=False, script_args=[])  # main() may run more than once in a process (tests, embedding)
    if "--" in args:
        cut = args.index("--")
        args, _state["script_args"] = args[:cut], args[cut + 1 :]
    try:
        exit_code = app(args=args, prog_name="litgen", standalone_mode=False)
    except LitgenError as error:
        if _state["debug"]:
            raise
        typer.echo(f"litgen: error: {error}", err=True)
        if isinstance(error, (CheckFailed, Diverged)) and error.output:
            typer.echo(error.output.rstrip(), err=True)
        sys.exit(error.exit_code)
    except typer.Abort:
        typer.echo("litgen: interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.echo("litgen: interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # click's usage errors (typer vendors click) and anything unexpected
        if hasattr(error, "show") and isinstance(getattr(error, "exit_code", None), int):
            error.show()
            sys.exit(error.exit_code)
        if _state["debug"]:
            raise
        typer.echo(f"litgen: error: internal error: {type(error).__name__}: {error} (rerun with --debug)", err=True)
        sys.exit(3)
    # click returns the exit code of --help and typer.Exit when not in standalone mode, and typer
    # returns 130 for a Ctrl-C it caught itself (at a prompt)
    if exit_code == 130:
        typer.echo("litgen: interrupted", err=True)
    sys.exit(exit_code if isinstance(exit_code, int) else 0)
