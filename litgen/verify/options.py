"""The settings of one `litgen verify` run, checked once where they enter."""

from __future__ import annotations

import math
from dataclasses import dataclass

from litgen.errors import UsageError

DEFAULT_STEPS = 5
DEFAULT_RTOL = 1e-5
DEFAULT_SEED = 0
DEFAULT_TIMEOUT_S = 300.0
MAX_DEVICES = 8  # CPU processes; each is a full copy of the program


@dataclass(frozen=True)
class VerifyOptions:
    """steps=None means run both programs to the end (`--steps all`)."""

    steps: int | None = DEFAULT_STEPS
    devices: int = 1
    rtol: float = DEFAULT_RTOL
    timeout: float = DEFAULT_TIMEOUT_S
    seed: int = DEFAULT_SEED
    script_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.steps is not None and self.steps < 1:
            raise UsageError(
                f"--steps must be a positive number of optimizer steps or 'all', got {self.steps}"
            )
        if not 1 <= self.devices <= MAX_DEVICES:
            raise UsageError(
                f"--devices must be a number of CPU processes from 1 to {MAX_DEVICES}, got {self.devices}"
            )
        if not (0 <= self.rtol < 1):
            raise UsageError(f"--rtol must be a relative tolerance in [0, 1), got {self.rtol:g}")
        if not 0 < self.timeout < math.inf:
            raise UsageError(
                f"--timeout must be a positive number of seconds, got {self.timeout:g}"
            )


def parse_steps(text: str) -> int | None:
    """`--steps`: a positive integer, or `all`."""
    if text.strip().lower() == "all":
        return None
    try:
        steps = int(text)
    except ValueError:
        raise UsageError(f"--steps must be a positive integer or 'all', got {text!r}") from None
    if steps < 1:
        raise UsageError(f"--steps must be a positive integer or 'all', got {text!r}")
    return steps
