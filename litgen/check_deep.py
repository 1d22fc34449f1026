"""`litgen check --deep`: fast_dev_run, then a short real fit, checkpoint loading, resume, determinism and DDP."""

# Never import torch or lightning here. The programs run in check's probe (litgen/check.py) with the
# litgen/_probe_deep.py plugin, which runs the sub-checks inside each program right after its first
# fit and writes their results to a JSON file per program; this module plans those runs and judges
# the files together with the probe's own verdict (a program killed by --timeout still has a file
# that names the sub-check it was in).

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litgen._probe_deep import SUBCHECKS
from litgen.check import CheckResult, Progress, run_probe
from litgen.check_targets import EXPECTED_TARGET, resolve_target
from litgen.errors import UsageError
from litgen.scratch import scratch as scratch_folder
from litgen.wording import plural

PLUGIN = "litgen._probe_deep"
STATUSES = ("pass", "fail", "skipped")


@dataclass(frozen=True)
class SubCheck:
    """One sub-check's verdict: pass, fail or skipped, why in one line, and how long it took."""

    name: str
    status: str
    reason: str
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "elapsed_s": round(self.elapsed_s, 3),
        }


@dataclass(frozen=True)
class DeepResult:
    """The verdict on one program: ok only if no sub-check failed (skipped ones say why they did not run)."""

    target: Path
    ok: bool
    subchecks: tuple[SubCheck, ...]
    base: CheckResult = field(compare=False)
    notes: tuple[str, ...] = ()

    @property
    def elapsed_s(self) -> float:
        return self.base.elapsed_s

    @property
    def first_failure(self) -> SubCheck | None:
        return next((check for check in self.subchecks if check.status == "fail"), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": str(self.target),
            "ok": self.ok,
            "elapsed_s": round(self.elapsed_s, 3),
            "subchecks": [check.to_json() for check in self.subchecks],
            "notes": list(self.notes),
            "output_tail": self.base.output_tail,
        }


def deep_check_programs(
    paths: Sequence[Path],
    *,
    timeout: float = 300.0,
    script_args: Sequence[str] = (),
    cpu_map: bool = False,
    devices: int = 2,
    keep_going: bool = False,
    progress: Progress | None = None,
) -> list[DeepResult]:
    """Check each program under fast_dev_run, then deeply (TIMEOUT s per program for all of it).

    DEVICES: processes of the DDP sub-check (1 skips it). KEEP_GOING: run every sub-check even after one failed.
    """
    if not 0 < timeout < math.inf:
        raise UsageError(f"--timeout must be a positive number of seconds, got {timeout:g}")
    if devices < 1:
        raise UsageError(f"--devices must be a whole number of processes, 1 or more, got {devices}")
    targets = [resolve_target(Path(path), script_args) for path in paths]
    if not targets:
        raise UsageError(f"nothing to check; expected {EXPECTED_TARGET}")
    with scratch_folder("litgen-check-") as scratch:
        extras, reports = [], []
        for index in range(len(targets)):
            folder = scratch / "deep" / str(index)
            (folder / "runs").mkdir(parents=True)
            reports.append(folder / "deep.json")
            options = {
                "report": str(folder / "deep.json"),
                "run_dir": str(folder / "runs"),
                "devices": devices,
                "keep_going": keep_going,
                "timeout": timeout,
                "cpu_map": cpu_map,
            }
            extras.append({"cpu_map": cpu_map, "plugin": PLUGIN, "plugin_options": options})
        results = run_probe(
            targets,
            timeout=timeout,
            scratch=scratch / "probe",
            extras=extras,
            cleanup_dir=scratch,
            progress=progress,
        )
        return [
            judge_deep(result, read_deep_report(path), timeout=timeout)
            for result, path in zip(results, reports, strict=True)
        ]


def read_deep_report(path: Path) -> dict[str, Any] | None:
    """The plugin's sub-check results for one program, or None when missing or unreadable."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or not isinstance(report.get("subchecks"), list):
        return None
    return report


def _entry(raw: Any) -> SubCheck | None:
    if (
        not isinstance(raw, dict)
        or raw.get("name") not in SUBCHECKS
        or raw.get("status") not in STATUSES
    ):
        return None
    return SubCheck(
        str(raw["name"]),
        str(raw["status"]),
        str(raw.get("reason") or ""),
        float(raw.get("elapsed_s") or 0.0),
    )


def judge_deep(base: CheckResult, report: dict[str, Any] | None, *, timeout: float) -> DeepResult:
    """Combine the probe's verdict on a program with the sub-check results its plugin recorded."""
    report = report or {"subchecks": []}
    recorded = {
        entry.name: entry for entry in map(_entry, report["subchecks"]) if entry is not None
    }
    running = report.get("running") if report.get("running") in SUBCHECKS else None
    checks: dict[str, SubCheck] = {}
    fdr = recorded.get("fast_dev_run")
    if base.ok:
        checks["fast_dev_run"] = SubCheck(
            "fast_dev_run",
            "pass",
            _fast_dev_run_summary(base),
            fdr.elapsed_s if fdr else base.elapsed_s,
        )
        if fdr is None:
            checks["fit"] = SubCheck(
                "fit",
                "fail",
                "the program never called Trainer.fit; the deep sub-checks run on the model and data of its first fit",
            )
    elif running not in (None, "fast_dev_run") and fdr is not None and fdr.status == "pass":
        # the fast_dev_run fit passed; the child died (or ran out of time) in the middle of a deep
        # sub-check
        checks["fast_dev_run"] = fdr
        why = (
            f"timed out: the program's --timeout of {timeout:g} s covers the fast_dev_run pass and every sub-check"
            if base.timed_out
            else base.reason
        )
        checks[running] = SubCheck(running, "fail", why)
    else:
        checks["fast_dev_run"] = SubCheck(
            "fast_dev_run", "fail", base.reason, fdr.elapsed_s if fdr else base.elapsed_s
        )
    for name in SUBCHECKS:
        if name not in checks:
            checks[name] = recorded.get(name) or SubCheck(name, "skipped", _not_run_reason(checks))
    ordered = tuple(checks[name] for name in SUBCHECKS)
    ok = base.ok and not any(check.status == "fail" for check in ordered)
    notes = tuple(dict.fromkeys([*base.notes, *(str(note) for note in report.get("notes") or [])]))
    return DeepResult(target=base.target, ok=ok, subchecks=ordered, base=base, notes=notes)


def _not_run_reason(checks: dict[str, SubCheck]) -> str:
    failed = next((name for name, check in checks.items() if check.status == "fail"), None)
    if failed == "fast_dev_run":
        return "the fast_dev_run pass failed"
    return f"not run: {failed} failed" if failed else "not run"


def _fast_dev_run_summary(base: CheckResult) -> str:
    return f"{plural(base.train_batches, 'training step')}, {plural(base.val_batches, 'validation step')}"
