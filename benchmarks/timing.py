"""Timing helpers for `make bench`: medians of repeated runs after a warm-up, and ratios against baselines."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


@dataclass
class Figure:
    """One line of the benchmark table: a measurement, its baseline, their ratio and the goal."""

    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def median_seconds(action: Callable[[], object], *, runs: int, warmup: int = 1) -> float:
    """Median wall time of ACTION over RUNS runs, after WARMUP untimed runs (caches, page cache)."""
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def command(
    argv: Sequence[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Callable[[], None]:
    """An action that runs ARGV and fails loudly if it exits non-zero (a broken run is no timing)."""
    full_env = {**os.environ, **(env or {})}

    def run() -> None:
        result = subprocess.run(
            [str(a) for a in argv], cwd=cwd, env=full_env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(map(str, argv))} exited {result.returncode}:\n{result.stderr[-2000:]}"
            )

    return run


def print_table(figures: Sequence[Figure]) -> None:
    header = f"{'figure':<46} {'value':>12} {'baseline':>12} {'ratio':>7}  goal"
    print(header)
    print("-" * len(header))
    for fig in figures:
        value = f"{fig.value:.4g} {fig.unit}"
        baseline = f"{fig.baseline:.4g} {fig.unit}" if fig.baseline is not None else ""
        ratio = f"{fig.ratio:.2f}" if fig.ratio is not None else ""
        verdict = {True: "met", False: "MISSED", None: ""}[fig.met]
        print(
            f"{fig.name:<46} {value:>12} {baseline:>12} {ratio:>7}  {fig.goal} {verdict}".rstrip()
        )
