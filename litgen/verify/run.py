"""`litgen verify`: run the original and the conversion under the recording probe, then compare them."""

# Never import torch or lightning here: the programs run in litgen check's probe subprocess with
# the litgen/_verify_probe.py plugin. Per pair, the probe runs (in this order, sharing one import
# of Lightning): the conversion, then the original (which learns from the conversion's record how
# it seeded), then for --devices N the conversion on N processes and once more on 1 process that
# evaluates the weights each N-process evaluation started from.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litgen.check import FORCED_ENV, CheckResult, run_probe
from litgen.check_targets import CheckTarget, resolve_target
from litgen.errors import UsageError
from litgen.scratch import scratch as scratch_folder
from litgen.verify.compare import (
    compare_devices,
    compare_params,
    compare_printed,
    compare_steps,
)
from litgen.verify.options import VerifyOptions
from litgen.verify.records import ProgramRun, load_evaluations, load_record
from litgen.verify.report import VerifyReport

PLUGIN = "litgen._verify_probe"
# check's environment without fast_dev_run: a verify run trains for real (the plugin stops it).
VERIFY_ENV = {key: value for key, value in FORCED_ENV.items() if key != "PL_TRAINER_FAST_DEV_RUN"}


@dataclass(frozen=True)
class _Planned:
    role: str
    target: CheckTarget
    extra: dict[str, Any]


def verify_programs(original: Path, converted: Path, options: VerifyOptions) -> VerifyReport:
    """Run ORIGINAL and CONVERTED with the same seed and arguments; report whether they compute the same."""
    return verify_pairs([(original, converted)], options)[0]


def verify_pairs(pairs: Sequence[tuple[Path, Path]], options: VerifyOptions) -> list[VerifyReport]:
    """Verify several pairs in one probe session (Lightning is imported once for all of them)."""
    resolved = [
        (_script(Path(original), options), _script(Path(converted), options))
        for original, converted in pairs
    ]
    with scratch_folder("litgen-verify-") as scratch:
        plans = [
            _plan_pair(*pair, options, scratch / f"pair{index}")
            for index, pair in enumerate(resolved)
        ]
        flat = [planned for plan in plans for planned in plan]
        results = run_probe(
            [planned.target for planned in flat],
            timeout=options.timeout,
            scratch=scratch / "probe",
            env=VERIFY_ENV,
            extras=[planned.extra for planned in flat],
            cleanup_dir=scratch,
        )
        outcomes = iter(results)
        return [
            _judge_pair(pair, plan, [next(outcomes) for _ in plan], options)
            for pair, plan in zip(pairs, plans, strict=True)
        ]


def _script(path: Path, options: VerifyOptions) -> CheckTarget:
    if not path.exists():
        raise UsageError("no such file; verify compares two Python scripts (.py)", path=path)
    if path.is_dir():
        raise UsageError("verify compares two Python scripts (.py); this is a folder", path=path)
    return resolve_target(path, options.script_args)


def _plan_pair(
    original: CheckTarget, converted: CheckTarget, options: VerifyOptions, folder: Path
) -> list[_Planned]:
    folder.mkdir(parents=True)
    common = {"seed": options.seed, "steps": options.steps}

    def planned(role: str, target: CheckTarget, **extra: Any) -> _Planned:
        plugin_options = {**common, "role": role, "record": str(folder / f"{role}.json"), **extra}
        return _Planned(role, target, {"plugin": PLUGIN, "plugin_options": plugin_options})

    plan = [
        planned("converted", converted, snapshot_every_step=options.steps is None),
        planned(
            "original",
            original,
            seed_plan_from=str(folder / "converted.json"),
            snapshot_every_step=options.steps is None,
        ),
    ]
    if options.devices > 1:
        weights = folder / "weights"
        weights.mkdir()
        for role in ("ddp", "reference"):
            (folder / f"events-{role}").mkdir()
        devices_options = {
            "steps": None,  # evaluations need whole epochs: training is shortened by limit_train_batches
            "limit_train_batches": options.steps,
            "weights_dir": str(weights),
        }
        plan.append(
            planned(
                "ddp",
                converted,
                devices=options.devices,
                events_dir=str(folder / "events-ddp"),
                **devices_options,
            )
        )
        plan.append(
            planned(
                "reference",
                converted,
                devices=1,
                events_dir=str(folder / "events-reference"),
                **devices_options,
            )
        )
    return plan


def _program_run(planned: _Planned, result: CheckResult) -> ProgramRun:
    record_path = Path(planned.extra["plugin_options"]["record"])
    ran = result.exit_code == 0 and not result.timed_out
    failure = "" if ran else (result.reason or f"exited with code {result.exit_code}")
    return ProgramRun(
        role=planned.role,
        path=planned.target.given,
        ran=ran,
        failure=failure,
        output_tail=result.output_tail,
        record=load_record(record_path),
        notes=tuple(result.notes),
    )


def _judge_pair(
    pair: tuple[Path, Path],
    plan: list[_Planned],
    results: list[CheckResult],
    options: VerifyOptions,
) -> VerifyReport:
    runs = [_program_run(planned, result) for planned, result in zip(plan, results, strict=True)]
    by_role = {run.role: run for run in runs}
    original, converted = by_role["original"], by_role["converted"]
    report = VerifyReport(
        original=Path(pair[0]), converted=Path(pair[1]), options=options, runs=tuple(runs)
    )
    broken = [run for run in (original, converted) if not run.ran or run.record is None]
    if broken:
        run = broken[0]
        reason = run.failure or "it left no record of its steps"
        return report.with_failure(f"the {_label(run.role)} did not run to the end: {reason}", run)
    assert original.record is not None and converted.record is not None
    rows, differences = compare_steps(
        original.record, converted.record, options.rtol, options.steps
    )
    params_summary, params_differences = compare_params(
        original.record, converted.record, options.rtol
    )
    printed_summary, printed_differences = compare_printed(
        original.record, converted.record, options.rtol
    )
    devices_summary: list[str] = []
    if options.devices > 1:
        folder = Path(plan[0].extra["plugin_options"]["record"]).parent
        devices_summary, devices_differences = compare_devices(
            [by_role["ddp"], by_role["reference"]],
            load_evaluations(folder / "events-ddp"),
            load_evaluations(folder / "events-reference"),
            options.devices,
            options.rtol,
        )
    else:
        devices_differences = []
    notes = [*original.record.notes, *converted.record.notes]
    return report.completed(
        rows=rows,
        params=params_summary,
        printed=printed_summary,
        devices=devices_summary,
        differences=[*differences, *params_differences, *printed_differences, *devices_differences],
        notes=list(dict.fromkeys(notes)),
    )


def _label(role: str) -> str:
    return {"original": "original", "converted": "conversion"}.get(role, f"{role} run")
