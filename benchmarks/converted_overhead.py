"""Per-epoch cost of a converted fixture vs the raw script it came from, by differential timing."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from timing import REPO, Figure, command, median_seconds

CASE = REPO / "tests" / "fixtures" / "convert" / "functions_main"
FEW, MANY = 1, 31  # epochs; the difference cancels interpreter start-up, imports and set-up


def _per_epoch_seconds(script: Path, runs: int) -> float:
    def run(epochs: int) -> float:
        return median_seconds(command([sys.executable, script, "--epochs", str(epochs)], cwd=script.parent), runs=runs)

    return (run(MANY) - run(FEW)) / (MANY - FEW)


def bench_converted(work: Path, runs: int) -> list[Figure]:
    work.mkdir(parents=True, exist_ok=True)
    original, converted = work / "original.py", work / "converted.py"
    shutil.copyfile(CASE / "input.py", original)
    shutil.copyfile(CASE / "expected.py", converted)
    raw = _per_epoch_seconds(original, runs) * 1000
    lightning = _per_epoch_seconds(converted, runs) * 1000
    return [
        Figure("train: original script (functions_main)", raw, "ms/epoch"),
        Figure("train: its litgen conversion", lightning, "ms/epoch", "original script", raw, lightning / raw),
    ]
