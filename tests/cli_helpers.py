"""Run the litgen CLI as a user does: `python -m litgen ARGS` in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def litgen(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "litgen", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )
