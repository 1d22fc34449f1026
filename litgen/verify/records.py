"""What a verify run recorded, as typed immutable data read from the probe's JSON files."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Step:
    """One optimisation step: the losses that reached backward, the lr of each param group, the batches."""

    # which optimizer stepped (in order of first step); None: a hand-written update
    optimizer: int | None
    losses: tuple[float, ...]
    lrs: tuple[float | None, ...]
    batches: tuple[str | None, ...]  # a fingerprint of the batch each backward trained on


@dataclass(frozen=True)
class ParamSum:
    """A trained parameter's checksum: its shape, L2 and L1 norms and a position-weighted sum."""

    name: str
    shape: tuple[int, ...]
    norm: float
    abs_sum: float
    probe: float


@dataclass(frozen=True)
class ProgramRecord:
    """Everything recorded about one program run (original, conversion, or one of the --devices runs)."""

    role: str
    step_unit: str  # "optimizer" or "backward" (a program that never created an optimizer)
    steps: tuple[Step, ...]
    stopped: bool  # litgen stopped it after the requested number of steps
    params: tuple[ParamSum, ...]
    lines: tuple[str, ...]
    lines_dropped: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Evaluation:
    """One evaluation (a validation epoch or a test run) as seen by one process."""

    key: str  # "<fit/validate/test call>.<stage>.<index>": the same evaluation in every run
    rank: int
    world_size: int
    metrics: Mapping[str, float]
    lines: tuple[str, ...]
    dataset_sizes: tuple[int | None, ...]


@dataclass(frozen=True)
class ProgramRun:
    """A program as it ran: whether it ended cleanly, why not, and what it recorded."""

    role: str
    path: Path
    ran: bool
    failure: str
    output_tail: str
    record: ProgramRecord | None
    notes: tuple[str, ...] = ()


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(value) for value in values or ())


def _optional_floats(values: Any) -> tuple[float | None, ...]:
    return tuple(None if value is None else float(value) for value in values or ())


def record_from_json(data: Mapping[str, Any]) -> ProgramRecord:
    """Build a ProgramRecord from the probe's JSON (litgen/_verify_record.py, Recorder.as_json)."""
    steps = tuple(
        Step(
            optimizer=step.get("optimizer"),
            losses=_floats(step.get("losses")),
            lrs=_optional_floats(step.get("lrs")),
            batches=tuple(step.get("batches") or ()),
        )
        for step in data.get("steps", ())
    )
    params = tuple(
        ParamSum(
            name=str(param.get("name", "?")),
            shape=tuple(int(size) for size in param.get("shape", ())),
            norm=float(param.get("norm", 0.0)),
            abs_sum=float(param.get("abs_sum", 0.0)),
            probe=float(param.get("probe", 0.0)),
        )
        for param in data.get("params", ())
    )
    return ProgramRecord(
        role=str(data.get("role", "?")),
        step_unit=str(data.get("step_unit", "optimizer")),
        steps=steps,
        stopped=bool(data.get("stopped")),
        params=params,
        lines=tuple(str(line.get("text", "")) for line in data.get("lines", ())),
        lines_dropped=int(data.get("lines_dropped", 0)),
        notes=tuple(str(note) for note in data.get("notes", ())),
    )


def load_record(path: Path) -> ProgramRecord | None:
    """The record a program left, or None when it left none (it never started, or was killed)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record_from_json(data) if isinstance(data, dict) else None


def load_evaluations(folder: Path) -> tuple[Evaluation, ...]:
    """Every evaluation event the processes of one run wrote (one JSON line per evaluation and process)."""
    events: list[Evaluation] = []
    for path in sorted(folder.glob("evals-*.jsonl")) if folder.is_dir() else ():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue  # a process killed mid-write leaves a partial last line
            events.append(
                Evaluation(
                    key=str(data.get("key")),
                    rank=int(data.get("rank", 0)),
                    world_size=int(data.get("world_size", 1)),
                    metrics={str(k): float(v) for k, v in (data.get("metrics") or {}).items()},
                    lines=tuple(str(text) for text in data.get("lines", ())),
                    dataset_sizes=tuple(data.get("dataset_sizes") or ()),
                )
            )
    return tuple(events)
