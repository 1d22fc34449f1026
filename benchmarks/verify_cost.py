"""`make bench` section: `litgen verify` wall time against running the original and its conversion yourself."""

from __future__ import annotations

import sys
from pathlib import Path

from timing import REPO, VENV_BIN, Figure, command, median_seconds, write_conversion

# 8 steps, a validation loop, small data
FIXTURE = REPO / "tests" / "fixtures" / "convert" / "quickstart"


def bench_verify(work: Path, runs: int) -> list[Figure]:
    """Both scripts to the end (`--steps all`): the floor is importing torch, then Lightning, once each."""
    work.mkdir(parents=True, exist_ok=True)
    original, converted = work / "train.py", work / "train_lightning.py"
    write_conversion(FIXTURE / "input.py", original, converted)
    run_original = command([sys.executable, original], cwd=work)
    run_converted = command([sys.executable, converted], cwd=work)
    both = median_seconds(run_original, runs=runs) + median_seconds(run_converted, runs=runs)
    verify = median_seconds(
        command([VENV_BIN / "litgen", "verify", original, converted, "--steps", "all"]), runs=runs
    )
    ratio = verify / both
    return [
        Figure(
            "verify: litgen verify --steps all (quickstart)",
            verify,
            "s",
            "python original + python conversion",
            both,
            ratio,
            "ratio <= 1.3",
            ratio <= 1.3,
        )
    ]
