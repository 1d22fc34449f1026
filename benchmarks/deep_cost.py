"""`make bench` section: `litgen check --deep` wall time against `litgen check` on the default project."""

from __future__ import annotations

from pathlib import Path

from timing import VENV_BIN, Figure, command, median_seconds

GOAL = 3.0  # the extra fits are small and Lightning's import is shared, so deep should cost little more


def bench_deep(project: Path, runs: int) -> list[Figure]:
    """Both through the CLI, as a user runs them: importing Lightning is the common floor."""
    litgen = VENV_BIN / "litgen"
    plain = median_seconds(command([litgen, "check", project]), runs=runs)
    deep = median_seconds(command([litgen, "check", project, "--deep"]), runs=runs)
    ratio = deep / plain
    return [
        Figure(
            "validate: litgen check --deep PROJECT",
            deep,
            "s",
            "litgen check PROJECT",
            plain,
            ratio,
            f"ratio <= {GOAL:g}",
            ratio <= GOAL,
        )
    ]
