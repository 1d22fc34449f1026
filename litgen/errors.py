"""The user-facing error classes; the CLI catches LitgenError once and maps it to an exit code."""

from __future__ import annotations

from pathlib import Path


class LitgenError(Exception):
    """An error the user can fix: printed as one line, never as a traceback."""

    exit_code: int = 2

    def __init__(
        self, reason: str, *, path: Path | str | None = None, line: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line is not None else f"{self.path}: "
        return f"{where}{self.reason}"


class UsageError(LitgenError):
    """Bad arguments, bad answers, unreadable input or a destination we refuse to touch (exit 2)."""

    exit_code = 2


class RunFailed(LitgenError):
    """A program litgen ran did not do what it must (exit 1); ``output`` holds the tail of its output."""

    exit_code = 1

    def __init__(self, reason: str, *, path: Path | str | None = None, output: str = "") -> None:
        super().__init__(reason, path=path)
        self.output = output


class CheckFailed(RunFailed):
    """A program did not train under fast_dev_run (exit 1)."""


class InternalError(LitgenError):
    """litgen failed at its own work, a bug to report (exit 3): for example it generated invalid code."""

    exit_code = 3


class ConversionError(LitgenError):
    """A script that cannot be converted faithfully (exit 1); names the construct and its line."""

    exit_code = 1


class Diverged(RunFailed):
    """`litgen verify` found that a conversion does not compute what the original computed (exit 1)."""
