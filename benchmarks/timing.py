"""Timing helpers for `make bench`: medians of repeated runs after a warm-up, and ratios against baselines."""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# The training sections' clock: "cpu" (this process's CPU time, or its children's) stays put when
# neighbours load the shared cores, where wall time swings by tens of percent; "wall" is elapsed time.
CLOCKS = ("cpu", "wall")
_training_clock = ["cpu"]


def use_clock(name: str) -> None:
    """Choose the clock of ``now`` and ``child_seconds`` (one of CLOCKS)."""
    if name not in CLOCKS:
        raise ValueError(f"clock {name!r}: expected one of {CLOCKS}")
    _training_clock[0] = name


def clock_name() -> str:
    return _training_clock[0]


def now() -> float:
    """Seconds on the chosen clock: process CPU time (all threads) or wall time."""
    return time.process_time() if _training_clock[0] == "cpu" else time.perf_counter()


def child_seconds(action: Callable[[], object]) -> float:
    """Seconds ACTION's subprocesses took on the chosen clock: their user+sys CPU time, or wall time."""
    if _training_clock[0] == "wall":
        start = time.perf_counter()
        action()
        return time.perf_counter() - start
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    action()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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


def write_conversion(script: Path, original: Path, converted: Path) -> None:
    """SCRIPT copied to ORIGINAL, and this checkout's litgen conversion of it written to CONVERTED."""
    sys.path.insert(0, str(REPO))
    from litgen.convert import convert_source

    shutil.copyfile(script, original)
    source = script.read_text(encoding="utf-8")
    converted.write_text(convert_source(source, original.name).converted, encoding="utf-8")


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
