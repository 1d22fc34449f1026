"""`make bench`: time litgen and the code it generates against baselines measured in the same run."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_script import training_script  # noqa: E402
from timing import (  # noqa: E402
    CLOCKS,
    REPO,
    VENV_BIN,
    Figure,
    command,
    median_seconds,
    print_table,
    use_clock,
)

LITGEN = VENV_BIN / "litgen"
PYTHON = Path(sys.executable)
TEMPLATE = "classifier"
SECTIONS = "startup scaffold validate deep convert upgrade verify training heavy".split()


def ratio_figure(
    name: str, value: float, baseline_name: str, baseline: float, goal: float, unit: str = "s"
) -> Figure:
    ratio = value / baseline
    return Figure(
        name, value, unit, baseline_name, baseline, ratio, f"ratio <= {goal}", ratio <= goal
    )


def bench_startup(runs: int) -> list[Figure]:
    floor = median_seconds(command([PYTHON, "-c", "pass"]), runs=runs)
    help_time = median_seconds(command([LITGEN, "--help"]), runs=runs)
    fig = Figure(
        "startup: litgen --help",
        help_time,
        "s",
        "python -c pass",
        floor,
        help_time / floor,
        "< 0.2 s",
    )
    fig.met = help_time < 0.2
    return [fig]


def bench_scaffolding(runs: int, work: Path) -> list[Figure]:
    counter = iter(range(10_000))

    def fresh(prefix: str) -> Path:
        return work / f"{prefix}-{next(counter)}"

    def with_litgen() -> None:
        command([LITGEN, "new", fresh("litgen"), "--defaults", "--no-check"])()

    def with_copier() -> None:
        # The five templates are the tasks of one copier template; `litgen new` answers the task itself.
        shipped = REPO / "templates" / "lightning"
        command(
            [
                VENV_BIN / "copier",
                "copy",
                "--defaults",
                "--quiet",
                "--data",
                f"task={TEMPLATE}",
                shipped,
                fresh("copier"),
            ]
        )()

    copier_time = median_seconds(with_copier, runs=runs)
    litgen_time = median_seconds(with_litgen, runs=runs)
    return [
        ratio_figure(
            "scaffold: litgen new --no-check", litgen_time, "copier copy (CLI)", copier_time, 1.0
        )
    ]


def default_project(work: Path) -> Path:
    project = work / "project"
    command([LITGEN, "new", project, "--defaults", "--no-check"])()
    return project


def bench_validation(runs: int, project: Path, work: Path) -> list[Figure]:
    copies = [project]
    for index in range(4):
        copy = work / f"project-copy-{index}"
        shutil.copytree(project, copy)
        copies.append(copy)
    import_floor = median_seconds(command([PYTHON, "-c", "import lightning"]), runs=runs)
    one = median_seconds(command([LITGEN, "check", project]), runs=runs)
    five = median_seconds(command([LITGEN, "check", *copies]), runs=max(3, runs // 2))
    return [
        ratio_figure(
            "validate: litgen check PROJECT", one, "python -c 'import lightning'", import_floor, 1.3
        ),
        ratio_figure("validate: litgen check x5 vs x1", five, "litgen check PROJECT", one, 2.0),
    ]


def bench_conversion(runs: int, work: Path) -> list[Figure]:
    sys.path.insert(0, str(REPO))
    from litgen.convert import convert_source

    big = training_script(1000)
    lines = big.count("\n")
    per_run = median_seconds(lambda: convert_source(big, "big.py"), runs=runs)
    throughput = lines / per_run
    small = work / "train100.py"
    small.write_text(training_script(100))
    output = work / "train100_lightning.py"

    def convert_small() -> None:
        output.unlink(missing_ok=True)
        command([LITGEN, "convert", small])()

    small_time = median_seconds(convert_small, runs=runs)
    floor = median_seconds(command([PYTHON, "-c", "import libcst"]), runs=runs)
    rate = Figure(
        f"convert: throughput ({lines} lines, in-process)",
        throughput,
        "lines/s",
        goal=">= 3000 lines/s",
    )
    rate.met = throughput >= 3000
    wall = Figure(
        "convert: litgen convert, 100-line script",
        small_time,
        "s",
        "python -c 'import libcst'",
        floor,
        small_time / floor,
        "well under 1 s",
    )
    wall.met = small_time < 1.0
    return [rate, wall]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--runs", type=int, default=5, help="timed runs per figure (median is reported)"
    )
    parser.add_argument(
        "--only",
        nargs="*",
        default=None,
        help=f"sections to run (default: all): {' '.join(SECTIONS)}",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads in the training sections (on shared cores, more measure the neighbours)",
    )
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="cpu",
        help="clock of the training sections: CPU time (default; steady on shared cores) or wall time",
    )
    parser.add_argument("--json", type=Path, default=REPO / ".bench" / "results.json")
    args = parser.parse_args()
    wanted = set(args.only or SECTIONS)
    use_clock(args.clock)
    figures: list[Figure] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="litgen-bench-") as tmp:
        work = Path(tmp)
        if "startup" in wanted:
            figures += bench_startup(args.runs)
        if "scaffold" in wanted:
            figures += bench_scaffolding(args.runs, work / "scaffold")
        (work / "validate").mkdir()
        project = default_project(work / "validate")
        if "validate" in wanted:
            figures += bench_validation(args.runs, project, work / "validate")
        if "deep" in wanted:
            from deep_cost import bench_deep

            figures += bench_deep(project, args.runs)
        if "convert" in wanted:
            (work / "convert").mkdir()
            figures += bench_conversion(args.runs, work / "convert")
        if "upgrade" in wanted:
            from upgrade_cost import bench_upgrade

            figures += bench_upgrade(work / "upgrade", args.runs)
        if "verify" in wanted:
            from verify_cost import bench_verify

            figures += bench_verify(work / "verify", args.runs)
        if "training" in wanted:
            from converted_overhead import bench_converted
            from training_overhead import bench_training

            figures += bench_training(project, work / "training", args.runs, args.threads)
            figures += bench_converted(work / "converted", min(args.runs, 3), args.threads)
        if "heavy" in wanted:
            from converted_overhead import bench_heavy
            from training_overhead import bench_training_heavy

            heavy_runs = min(args.runs, 3)
            figures += bench_training_heavy(project, work / "training", args.runs, args.threads)
            figures += bench_heavy(work / "heavy", heavy_runs, args.threads)
    print_table(figures)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([f.to_json() for f in figures], indent=2) + "\n")
    print(f"\ntraining sections timed on the {args.clock} clock, {args.threads} torch thread(s)")
    print(f"{len(figures)} figures in {time.perf_counter() - started:.0f} s; JSON: {args.json}")


if __name__ == "__main__":
    main()
