"""Command-line options `convert --verify` and `verify` share, and the VerifyOptions they make."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the real import happens when the options are used, to keep --help fast
    from litgen.verify import VerifyOptions

StepsOption = Annotated[
    str, typer.Option("--steps", metavar="N|all", help="Optimizer steps to compare, or 'all' to run both to the end.")
]
DevicesOption = Annotated[
    int,
    typer.Option(
        "--devices", metavar="N", help="Also run the conversion as N CPU processes (DDP) and check its evaluations."
    ),
]
RtolOption = Annotated[float, typer.Option("--rtol", metavar="R", help="Relative tolerance for losses, lrs, parameters.")]
VerifyTimeoutOption = Annotated[float, typer.Option("--timeout", metavar="S", help="Seconds before a program is killed.")]
SeedOption = Annotated[int, typer.Option("--seed", metavar="SEED", help="Seed for torch, numpy and random before each program starts.")]


def make_verify_options(
    steps: str, devices: int, rtol: float, timeout: float, seed: int, script_args: Sequence[str]
) -> VerifyOptions:
    from litgen.verify import VerifyOptions, parse_steps

    return VerifyOptions(
        steps=parse_steps(steps), devices=devices, rtol=rtol, timeout=timeout, seed=seed, script_args=tuple(script_args)
    )
