"""Per-epoch cost of converted scripts vs the raw scripts they came from, by differential timing.

Two workloads: a small fixture (where Lightning's fixed per-step cost shows) and a CPU-heavy
classifier whose raw step costs at least 20 ms, converted by this checkout of litgen at bench time.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from timing import REPO, Figure, child_seconds, command, write_conversion

CASE = REPO / "tests" / "fixtures" / "convert" / "functions_main"
FEW, MANY = 1, 31  # epochs; the difference cancels interpreter start-up, imports and set-up

HEAVY = Path(__file__).resolve().parent / "workloads" / "heavy_classifier.py"
HEAVY_STEPS = 32  # batches per epoch of the heavy workload
HEAVY_FEW, HEAVY_MANY = 1, 4
GOAL_HEAVY = 1.05  # converted epoch over the raw script's
HEAVY_STEP_MS = 20.0


def _per_epoch_seconds(
    scripts: dict[str, Path], few: int, many: int, runs: int, threads: int
) -> dict[str, list[float]]:
    """Seconds per epoch of each script, one value per round: (run of MANY epochs - of FEW) / (MANY - FEW).

    After one warm-up each, every round runs each script for FEW and MANY epochs in turn, so the
    rounds pair the scripts under the machine's load of the moment. ``OMP_NUM_THREADS`` pins
    torch's intra-op threads, as the in-process training benches do.
    """
    env = {"OMP_NUM_THREADS": str(threads)}

    def seconds(script: Path, epochs: int) -> float:
        return child_seconds(
            command([sys.executable, script, "--epochs", str(epochs)], cwd=script.parent, env=env)
        )

    for script in scripts.values():
        seconds(script, few)
    per_round: dict[str, list[float]] = {name: [] for name in scripts}
    for _ in range(runs):
        for name, script in scripts.items():
            short, long = seconds(script, few), seconds(script, many)
            per_round[name].append((long - short) / (many - few))
    return per_round


def _paired_ratio(values: list[float], baselines: list[float]) -> float:
    return statistics.median(v / b for v, b in zip(values, baselines, strict=True))


def bench_heavy(work: Path, runs: int, threads: int) -> list[Figure]:
    """Converted vs raw per-epoch wall time where a raw step costs >= 20 ms (goal <= 1.05)."""
    work.mkdir(parents=True, exist_ok=True)
    original, converted = work / "heavy.py", work / "heavy_lightning.py"
    write_conversion(HEAVY, original, converted)
    epoch = _per_epoch_seconds(
        {"raw": original, "converted": converted}, HEAVY_FEW, HEAVY_MANY, runs, threads
    )
    raw, lightning = (statistics.median(epoch[name]) * 1000 for name in ("raw", "converted"))
    ratio = _paired_ratio(epoch["converted"], epoch["raw"])
    step_ms = raw / HEAVY_STEPS
    return [
        Figure(
            "train (heavy script): raw step",
            step_ms,
            "ms/step",
            goal=f">= {HEAVY_STEP_MS:g} ms/step (workload check)",
            met=step_ms >= HEAVY_STEP_MS,
        ),
        Figure(
            "train (heavy script): its litgen conversion",
            lightning,
            "ms/epoch",
            "raw epoch",
            raw,
            ratio,
            f"ratio <= {GOAL_HEAVY}",
            ratio <= GOAL_HEAVY,
        ),
    ]


def bench_converted(work: Path, runs: int, threads: int) -> list[Figure]:
    work.mkdir(parents=True, exist_ok=True)
    original, converted = work / "original.py", work / "converted.py"
    write_conversion(CASE / "input.py", original, converted)
    epoch = _per_epoch_seconds({"raw": original, "converted": converted}, FEW, MANY, runs, threads)
    raw, lightning = (statistics.median(epoch[name]) * 1000 for name in ("raw", "converted"))
    return [
        Figure("train: original script (functions_main)", raw, "ms/epoch"),
        Figure(
            "train: its litgen conversion",
            lightning,
            "ms/epoch",
            "original script",
            raw,
            _paired_ratio(epoch["converted"], epoch["raw"]),
        ),
    ]
