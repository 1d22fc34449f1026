"""Command-line options several commands share (verify's, check's --deep), and the VerifyOptions they make."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the real import happens when the options are used, to keep --help fast
    from litgen.verify import VerifyOptions

StepsOption = Annotated[
    str,
    typer.Option(
        "--steps",
        metavar="N|all",
        help="Optimizer steps to compare, or 'all' to run both to the end.",
    ),
]
DevicesOption = Annotated[
    int,
    typer.Option(
        "--devices",
        metavar="N",
        help="Also run the conversion as N CPU processes (DDP) and check its evaluations.",
    ),
]
RtolOption = Annotated[
    float,
    typer.Option("--rtol", metavar="R", help="Relative tolerance for losses, lrs, parameters."),
]
VerifyTimeoutOption = Annotated[
    float, typer.Option("--timeout", metavar="S", help="Seconds before a program is killed.")
]
SeedOption = Annotated[
    int,
    typer.Option(
        "--seed",
        metavar="SEED",
        help="Seed for torch, numpy and random before each program starts.",
    ),
]


def make_verify_options(
    steps: str, devices: int, rtol: float, timeout: float, seed: int, script_args: Sequence[str]
) -> VerifyOptions:
    from litgen.verify import VerifyOptions, parse_steps

    return VerifyOptions(
        steps=parse_steps(steps),
        devices=devices,
        rtol=rtol,
        timeout=timeout,
        seed=seed,
        script_args=tuple(script_args),
    )


DeepOption = Annotated[
    bool,
    typer.Option(
        "--deep",
        help="Also run a short real fit, load its checkpoint, resume it, repeat it seeded and run it as CPU DDP.",
    ),
]
CheckDevicesOption = Annotated[
    int | None,
    typer.Option(
        "--devices",
        metavar="N",
        help="With --deep: processes of the DDP fit (default 2; 1 skips it).",
    ),
]
KeepGoingOption = Annotated[
    bool,
    typer.Option("--keep-going", help="With --deep: run every sub-check even after one failed."),
]
CheckJsonOption = Annotated[
    bool, typer.Option("--json", help="Print the verdicts as JSON on stdout.")
]


def deep_settings(deep: bool, devices: int | None, keep_going: bool) -> tuple[int, bool]:
    """--devices and --keep-going belong to --deep: refuse them without it; the DDP processes (default 2)."""
    from litgen.errors import UsageError

    if not deep and (devices is not None or keep_going):
        raise UsageError(
            f"{'--devices' if devices is not None else '--keep-going'} only applies to --deep; add --deep"
        )
    if devices is not None and devices < 1:
        raise UsageError(f"--devices must be 1 or more processes, got {devices}")
    return (2 if devices is None else devices), keep_going


JsonReportOption = Annotated[
    bool, typer.Option("--json", help="Print a machine-readable report on stdout.")
]
DiffOption = Annotated[bool, typer.Option("--diff", help="Print a unified diff and write nothing.")]
ProjectArgument = Annotated[
    Path,
    typer.Argument(
        metavar="PATH", help="A project made by `litgen new` (default: the current folder)."
    ),
]

# Set by litgen.cli.main() for each run: --debug, and what followed a bare `--` on the command line.
STATE: dict[str, object] = {"debug": False, "script_args": []}


def script_args() -> tuple[str, ...]:
    """What followed a bare `--` on the command line (main() puts it in STATE)."""
    args = STATE["script_args"]
    return tuple(str(arg) for arg in args) if isinstance(args, (list, tuple)) else ()
