"""Run Python and the litgen CLI as a user does: `python ARGS`, `python -m litgen ARGS` in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def python(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python ARGS` with this interpreter, its output captured as text; the caller judges the exit."""
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def litgen(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return python("-m", "litgen", *args, cwd=cwd, timeout=timeout)
