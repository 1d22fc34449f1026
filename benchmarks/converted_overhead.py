"""Per-epoch cost of converted scripts vs the raw scripts they came from, by differential timing.

Two workloads: a small fixture (where Lightning's fixed per-step cost shows) and a CPU-heavy
classifier whose raw step costs at least 20 ms, converted by this checkout of litgen at bench time.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from timing import REPO, Figure, command, median_seconds

CASE = REPO / "tests" / "fixtures" / "convert" / "functions_main"
FEW, MANY = 1, 31  # epochs; the difference cancels interpreter start-up, imports and set-up


def _per_epoch_seconds(script: Path, runs: int) -> float:
    def run(epochs: int) -> float:
        return median_seconds(
            command([sys.executable, script, "--epochs", str(epochs)], cwd=script.parent), runs=runs
        )

    return (run(MANY) - run(FEW)) / (MANY - FEW)


HEAVY = Path(__file__).resolve().parent / "workloads" / "heavy_classifier.py"
HEAVY_STEPS = 32  # batches per epoch of the heavy workload
HEAVY_FEW, HEAVY_MANY = 1, 5


def bench_heavy(work: Path, runs: int) -> list[Figure]:
    """Converted vs raw per-epoch wall time where a raw step costs >= 20 ms (goal <= 1.10)."""
    sys.path.insert(0, str(REPO))
    from litgen.convert import convert_source

    work.mkdir(parents=True, exist_ok=True)
    original, converted = work / "heavy.py", work / "heavy_lightning.py"
    shutil.copyfile(HEAVY, original)
    converted.write_text(
        convert_source(HEAVY.read_text(encoding="utf-8"), "heavy.py").converted, encoding="utf-8"
    )

    def per_epoch(script: Path) -> float:
        def run(epochs: int) -> float:
            return median_seconds(
                command([sys.executable, script, "--epochs", str(epochs)], cwd=work), runs=runs
            )

        return (run(HEAVY_MANY) - run(HEAVY_FEW)) / (HEAVY_MANY - HEAVY_FEW)

    raw = per_epoch(original)
    lightning = per_epoch(converted)
    step = Figure(
        "train (heavy): raw step",
        raw / HEAVY_STEPS * 1000,
        "ms/step",
        goal=">= 20 ms/step (workload check)",
    )
    step.met = raw / HEAVY_STEPS * 1000 >= 20
    ratio = Figure(
        "train (heavy): converted epoch",
        lightning * 1000,
        "ms/epoch",
        "raw epoch",
        raw * 1000,
        lightning / raw,
        "ratio <= 1.10",
        lightning / raw <= 1.10,
    )
    return [step, ratio]


def bench_converted(work: Path, runs: int) -> list[Figure]:
    work.mkdir(parents=True, exist_ok=True)
    original, converted = work / "original.py", work / "converted.py"
    shutil.copyfile(CASE / "input.py", original)
    shutil.copyfile(CASE / "expected.py", converted)
    raw = _per_epoch_seconds(original, runs) * 1000
    lightning = _per_epoch_seconds(converted, runs) * 1000
    return [
        Figure("train: original script (functions_main)", raw, "ms/epoch"),
        Figure(
            "train: its litgen conversion",
            lightning,
            "ms/epoch",
            "original script",
            raw,
            lightning / raw,
        ),
    ]
