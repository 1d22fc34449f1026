"""The verify report: the step table, parameters, printed lines, N-process evaluations, and a verdict."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litgen.verify.compare import (
    DATA_ORDER,
    LOSS,
    LR,
    OPTIMIZER,
    PROGRAM,
    Difference,
    StepRow,
)
from litgen.verify.options import VerifyOptions
from litgen.verify.records import ProgramRun

# Within one step, the cause a reader should fix first: a different batch explains a different loss.
_CAUSE_ORDER = {DATA_ORDER: 0, OPTIMIZER: 1, LOSS: 2, LR: 3}
_MAX_ALSO = 6  # further differences listed after the first; --json has them all
_LOSS_WIDTH = 22  # two losses per step (a GAN's) still line up
_CAUSE_TEXT = {
    DATA_ORDER: "different data order (the batches differ)",
    OPTIMIZER: "a different optimizer stepped",
    LOSS: "different computation (the loss differs on the same batch)",
    LR: "a different learning rate",
}


@dataclass(frozen=True)
class VerifyReport:
    original: Path
    converted: Path
    options: VerifyOptions
    runs: tuple[ProgramRun, ...]
    rows: tuple[StepRow, ...] = ()
    params: str = ""
    printed: str = ""
    devices: tuple[str, ...] = ()
    differences: tuple[Difference, ...] = ()
    notes: tuple[str, ...] = ()
    output_tail: str = field(default="", compare=False)

    def with_failure(self, detail: str, run: ProgramRun) -> VerifyReport:
        return dataclasses.replace(
            self, differences=(Difference(PROGRAM, detail),), output_tail=run.output_tail
        )

    def completed(
        self,
        *,
        rows: Sequence[StepRow],
        params: str,
        printed: str,
        devices: Sequence[str],
        differences: Sequence[Difference],
        notes: Sequence[str],
    ) -> VerifyReport:
        return dataclasses.replace(
            self,
            rows=tuple(rows),
            params=params,
            printed=printed,
            devices=tuple(devices),
            differences=tuple(differences),
            notes=tuple(notes),
        )

    @property
    def agree(self) -> bool:
        return not self.differences

    @property
    def first_difference(self) -> Difference | None:
        """The earliest step's most telling difference; then whatever is not tied to a step."""
        if not self.differences:
            return None
        program = [d for d in self.differences if d.kind == PROGRAM]
        if program:
            return program[0]
        return min(
            self.differences,
            key=lambda d: (d.step if d.step is not None else 1 << 30, _CAUSE_ORDER.get(d.kind, 9)),
        )

    def verdict(self) -> str:
        first = self.first_difference
        if first is None:
            return "AGREE: the conversion computes what the original computes"
        where = f"at step {first.step}: " if first.step is not None else ""
        cause = _CAUSE_TEXT.get(first.kind, first.kind)
        return f"DIVERGE {where}{cause}: {first.detail}"

    def text_lines(self) -> list[str]:
        steps = "all steps" if self.options.steps is None else f"{self.options.steps} steps"
        settings = f"seed {self.options.seed}, {steps}, rtol {self.options.rtol:g}"
        lines = [f"litgen verify: {self.original} vs {self.converted} ({settings})"]
        if self.rows:
            lines.append(
                f"{'step':>4}  {'opt':>3}  "
                f"{'original loss':>{_LOSS_WIDTH}}  {'converted loss':>{_LOSS_WIDTH}}  "
                f"{'rel diff':>8}  {'lr':>10}  batch"
            )
            for row in self.rows:
                lines.append(_row_text(row))
        if self.params:
            lines.append(f"parameters: {self.params}")
        if self.printed:
            lines.append(f"printed lines: {self.printed}")
        for entry in self.devices:
            lines.append(f"{self.options.devices} processes vs 1: {entry}")
        for note in self.notes:
            lines.append(f"note: {note}")
        # The parameter summary line already says what its difference would repeat.
        others = [
            d
            for d in self.differences
            if d is not self.first_difference and d.detail != self.params
        ]
        for difference in others[:_MAX_ALSO]:
            where = f"step {difference.step}: " if difference.step is not None else ""
            lines.append(f"also: {where}{difference.kind}: {difference.detail}")
        if len(others) > _MAX_ALSO:
            lines.append(
                f"also: {len(others) - _MAX_ALSO} more difference(s) (--json lists them all)"
            )
        lines.append(f"verdict: {self.verdict()}")
        return lines

    def to_json(self) -> dict[str, Any]:
        first = self.first_difference
        return {
            "original": str(self.original),
            "converted": str(self.converted),
            "options": {
                "steps": "all" if self.options.steps is None else self.options.steps,
                "devices": self.options.devices,
                "rtol": self.options.rtol,
                "seed": self.options.seed,
                "script_args": list(self.options.script_args),
            },
            "agree": self.agree,
            "verdict": self.verdict(),
            "first_difference": None if first is None else dataclasses.asdict(first),
            "differences": [dataclasses.asdict(d) for d in self.differences],
            "steps": [
                {
                    "step": row.step,
                    "optimizer": row.optimizer,
                    "original_losses": list(row.original_losses),
                    "converted_losses": list(row.converted_losses),
                    "rel_diff": row.rel_diff,
                    "lrs": list(row.lrs),
                    "lrs_agree": row.lrs_agree,
                    "batch": row.batch,
                }
                for row in self.rows
            ],
            "parameters": self.params,
            "printed_lines": self.printed,
            "devices": list(self.devices),
            "notes": list(self.notes),
            "programs": [
                {
                    "role": run.role,
                    "path": str(run.path),
                    "ran": run.ran,
                    "failure": run.failure or None,
                }
                for run in self.runs
            ],
        }


def _row_text(row: StepRow) -> str:
    original = _losses(row.original_losses)
    converted = _losses(row.converted_losses)
    rel = "-" if row.rel_diff is None else f"{row.rel_diff:.1e}" if row.rel_diff else "0"
    lr = "-" if not row.lrs or row.lrs[0] is None else f"{row.lrs[0]:.4g}"
    if not row.lrs_agree:
        lr += " (differs)"
    marker = (
        ""
        if not row.differences
        else "  <-- " + ", ".join(dict.fromkeys(d.kind for d in row.differences))
    )
    optimizer = "-" if row.optimizer is None else str(row.optimizer)
    return (
        f"{row.step:>4}  {optimizer:>3}  "
        f"{original:>{_LOSS_WIDTH}}  {converted:>{_LOSS_WIDTH}}  {rel:>8}  {lr:>10}  {row.batch}{marker}"
    )


def _losses(values: Sequence[float]) -> str:
    if not values:
        return "-"
    return (
        " ".join(f"{value:.8g}" for value in values)
        if len(values) <= 2
        else f"{values[0]:.8g} (+{len(values) - 1})"
    )
