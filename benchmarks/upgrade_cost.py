"""`make bench` upgrade figures: lines per second on a generated 1.x project, against parsing it alone."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from timing import REPO, Figure, median_seconds

FIXTURES = REPO / "tests" / "fixtures" / "upgrade"
COPIES = 20
# The goal is a ratio to parsing the same files in the same run (this machine's noise cancels): 16x a
# libcst parse was ~1000 lines/s here when it was set, i.e. about two parses' worth per rule.
GOAL_PARSE_RATIO = 16


def one_x_project(work: Path) -> tuple[Path, int]:
    """COPIES packages of 1.x code (the upgrade fixtures: a project with its YAML config, a classifier, a GAN)."""
    root = work / "project-1x"
    work.mkdir(parents=True, exist_ok=True)
    for index in range(COPIES):
        package = root / f"part{index}"
        shutil.copytree(FIXTURES / "project_1x", package)
        shutil.copy(FIXTURES / "classifier_1x" / "input.py", package / "classifier.py")
        shutil.copy(FIXTURES / "gan_1x" / "input.py", package / "gan.py")
    lines = sum(
        path.read_text(encoding="utf-8").count("\n")
        for path in root.rglob("*")
        if path.suffix in (".py", ".yaml")
    )
    return root, lines


def bench_upgrade(work: Path, runs: int) -> list[Figure]:
    sys.path.insert(0, str(REPO))
    import libcst as cst

    from litgen.upgrade.files import upgrade_paths

    root, lines = one_x_project(work)
    sources = [path.read_text(encoding="utf-8") for path in sorted(root.rglob("*.py"))]
    parse_only = median_seconds(lambda: [cst.parse_module(source) for source in sources], runs=runs)
    per_run = median_seconds(lambda: upgrade_paths([root], diff_only=True), runs=runs)
    rate = lines / per_run
    figure = Figure(
        f"upgrade: throughput ({lines} lines of 1.x code, --diff, in-process)",
        rate,
        "lines/s",
        "libcst parse of the same files",
        parse_only,
        per_run / parse_only,
        f"ratio <= {GOAL_PARSE_RATIO}",
    )
    figure.met = per_run / parse_only <= GOAL_PARSE_RATIO
    return [figure]
