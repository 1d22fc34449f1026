"""How `check`, `new` and `convert --check` run `litgen check`: plain (fast_dev_run) or --deep."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litgen.cli_report import progress_line

if TYPE_CHECKING:  # imported when a check runs, never on the --help path
    from litgen.check import CheckResult
    from litgen.check_deep import DeepResult

CHECK_WHAT = {
    False: "one fast_dev_run batch",
    True: "fast_dev_run, then a short fit, resume and DDP",
}


def run_checks(
    paths: Sequence[Path],
    *,
    deep: bool,
    timeout: float = 300.0,
    cpu_map: bool = False,
    devices: int = 2,
    keep_going: bool = False,
    script_args: Sequence[str] = (),
) -> list[CheckResult] | list[DeepResult]:
    """Check PATHS with progress on stderr: CheckResults, or with DEEP the DeepResults of every sub-check."""
    options: dict[str, Any] = {
        "timeout": timeout,
        "script_args": script_args,
        "cpu_map": cpu_map,
        "progress": progress_line,
    }
    if deep:
        from litgen.check_deep import deep_check_programs

        return deep_check_programs(paths, devices=devices, keep_going=keep_going, **options)
    from litgen.check import check_programs

    return check_programs(paths, **options)
