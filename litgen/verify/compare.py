"""Compare what the original and the conversion recorded; name the first difference and its cause."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from litgen.verify.lines import extra_lines, first_out_of_order, unmatched_lines
from litgen.verify.records import Evaluation, ParamSum, ProgramRecord, ProgramRun, Step

# The kinds of difference, in the order a reader should look at them at one step.
DATA_ORDER = "data order"
OPTIMIZER = "optimizer"
LOSS = "loss"
LR = "learning rate"
STEPS = "number of steps"
PARAMETERS = "parameters"
PRINTED = "printed line"
DDP_METRIC = "DDP metric"
DDP_LINE = "DDP printed line"
PROGRAM = "program"


@dataclass(frozen=True)
class Difference:
    """One way the two programs differ; `step` is 1-based, None when it is not tied to a step."""

    kind: str
    detail: str
    step: int | None = None


@dataclass(frozen=True)
class StepRow:
    """A line of the step table."""

    step: int
    optimizer: int | None
    original_losses: tuple[float, ...]
    converted_losses: tuple[float, ...]
    rel_diff: float | None
    lrs: tuple[float | None, ...]
    lrs_agree: bool
    batch: (
        str  # "same", "differs" or "n/a" (a program's batches were not seen, e.g. manual slicing)
    )
    differences: tuple[Difference, ...]


def relative_difference(a: float, b: float) -> float:
    if a == b:
        return 0.0
    if math.isnan(a) or math.isnan(b):
        return 0.0 if math.isnan(a) and math.isnan(b) else math.inf
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


def compare_step(index: int, original: Step, converted: Step, rtol: float) -> StepRow:
    number = index + 1
    found: list[Difference] = []
    batch = _compare_batches(original.batches, converted.batches)
    if batch == "differs":
        found.append(
            Difference(DATA_ORDER, "the two programs trained on different batches", number)
        )
    # A hand-written update (optimizer None) has no optimizer or lr to compare with.
    both_optimizers = original.optimizer is not None and converted.optimizer is not None
    if both_optimizers and original.optimizer != converted.optimizer:
        found.append(
            Difference(
                OPTIMIZER,
                f"the original stepped optimizer #{original.optimizer}, the conversion #{converted.optimizer}",
                number,
            )
        )
    rel = None
    if len(original.losses) != len(converted.losses):
        found.append(
            Difference(
                LOSS,
                f"{len(original.losses)} backward pass(es) in the original, {len(converted.losses)} in the conversion",
                number,
            )
        )
    elif original.losses:
        rel = max(
            relative_difference(a, b)
            for a, b in zip(original.losses, converted.losses, strict=True)
        )
        if rel > rtol:
            pairs = ", ".join(
                f"{a:.6g} vs {b:.6g}"
                for a, b in zip(original.losses, converted.losses, strict=True)
            )
            found.append(Difference(LOSS, f"loss {pairs} (relative difference {rel:.2g})", number))
    lrs_agree = not both_optimizers or (
        len(original.lrs) == len(converted.lrs)
        and all(
            (a is None and b is None)
            or (a is not None and b is not None and relative_difference(a, b) <= rtol)
            for a, b in zip(original.lrs, converted.lrs, strict=True)
        )
    )
    if not lrs_agree:
        found.append(
            Difference(LR, f"lr {_fmt_lrs(original.lrs)} vs {_fmt_lrs(converted.lrs)}", number)
        )
    return StepRow(
        step=number,
        optimizer=original.optimizer,
        original_losses=original.losses,
        converted_losses=converted.losses,
        rel_diff=rel,
        lrs=original.lrs,
        lrs_agree=lrs_agree,
        batch=batch,
        differences=tuple(found),
    )


def _compare_batches(original: Sequence[str | None], converted: Sequence[str | None]) -> str:
    pairs = [
        (a, b) for a, b in zip(original, converted, strict=False) if a is not None and b is not None
    ]
    if not pairs:
        return "n/a"
    return (
        "same" if all(a == b for a, b in pairs) and len(original) == len(converted) else "differs"
    )


def _fmt_lrs(lrs: Sequence[float | None]) -> str:
    return "[" + ", ".join("-" if lr is None else f"{lr:.6g}" for lr in lrs) + "]"


def compare_steps(
    original: ProgramRecord, converted: ProgramRecord, rtol: float, steps: int | None
) -> tuple[list[StepRow], list[Difference]]:
    rows = [
        compare_step(i, a, b, rtol)
        for i, (a, b) in enumerate(zip(original.steps, converted.steps, strict=False))
    ]
    found = [difference for row in rows for difference in row.differences]
    counts = len(original.steps), len(converted.steps)
    expected_both_to_stop = steps is not None and min(counts) >= steps
    if counts[0] != counts[1] and not expected_both_to_stop and counts[0]:
        found.append(
            Difference(
                STEPS,
                f"the original took {counts[0]} {original.step_unit} step(s), the conversion {counts[1]}",
                min(counts) + 1,
            )
        )
    if counts[0] == 0:
        found.append(
            Difference(
                STEPS,
                "the original took no optimisation step in the process verify ran, so there is nothing to compare "
                "(a script that starts its own processes, with mp.spawn or torchrun, cannot be followed)",
                1,
            )
        )
    return rows, found


def params_agree(original: ParamSum, converted: ParamSum, rtol: float) -> bool:
    if original.shape != converted.shape:
        return False
    scale = max(original.abs_sum, converted.abs_sum)
    return (
        abs(original.norm - converted.norm) <= rtol * max(original.norm, converted.norm) + 1e-12
        and abs(original.probe - converted.probe) <= rtol * scale + 1e-12
    )


def compare_params(
    original: ProgramRecord, converted: ProgramRecord, rtol: float
) -> tuple[str, list[Difference]]:
    a, b = original.params, converted.params
    if not a and not b:
        return "no trained parameters were found", []
    if len(a) != len(b):
        detail = f"the original trains {len(a)} parameter tensors, the conversion {len(b)}"
        return detail, [Difference(PARAMETERS, detail)]
    differing = _unpaired(a, b, rtol)
    if not differing:
        return f"{len(a)} tensors, all equal within rtol", []
    detail = (
        f"{len(differing)} of {len(a)} tensors differ after the last step (first: {differing[0]})"
    )
    return detail, [Difference(PARAMETERS, detail)]


def _unpaired(
    original: Sequence[ParamSum], converted: Sequence[ParamSum], rtol: float
) -> list[str]:
    """Names of the original's tensors no converted tensor equals: paired by position first, then by value,
    because a LightningModule may register the same tensors in another order or under other names."""
    unused = list(range(len(converted)))
    differing: list[str] = []
    for index, param in enumerate(original):
        if index in unused and params_agree(param, converted[index], rtol):
            unused.remove(index)
            continue
        match = next(
            (other for other in unused if params_agree(param, converted[other], rtol)), None
        )
        if match is None:
            differing.append(param.name)
        else:
            unused.remove(match)
    return differing


def compare_printed(
    original: ProgramRecord, converted: ProgramRecord, rtol: float
) -> tuple[str, list[Difference]]:
    missing = unmatched_lines(original.lines, converted.lines, rtol)
    total = sum(1 for line in original.lines if line.strip())
    summary = f"{total - len(missing)} of {total} lines the original printed were printed by the conversion"
    if original.lines_dropped or converted.lines_dropped:
        summary += f" (only each program's first {len(original.lines)} and {len(converted.lines)} lines were kept)"
    if not missing:
        swapped = first_out_of_order(original.lines, converted.lines, rtol)
        if swapped is not None:
            summary += f"; the conversion printed {swapped[0]!r} before {swapped[1]!r}"
        return summary, []
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    return summary, [Difference(PRINTED, f"the conversion never printed {missing[0]!r}{more}")]


def compare_devices(
    runs: Sequence[ProgramRun],
    ddp: Sequence[Evaluation],
    reference: Sequence[Evaluation],
    devices: int,
    rtol: float,
) -> tuple[list[str], list[Difference]]:
    """The N-process evaluations against 1 process evaluating the same weights: metrics and printed lines."""
    failed = [run for run in runs if not run.ran]
    if failed:
        return [], [Difference(PROGRAM, f"the {failed[0].role} run failed: {failed[0].failure}")]
    keys = list(dict.fromkeys(event.key for event in reference))
    ddp_keys = list(dict.fromkeys(event.key for event in ddp))
    if not keys and not ddp_keys:
        return [f"{devices} processes: no evaluation ran, so there are no metrics to compare"], []
    summary: list[str] = []
    found: list[Difference] = []
    if keys != ddp_keys:
        found.append(
            Difference(
                DDP_METRIC,
                f"{devices} processes evaluated {len(ddp_keys)} time(s), 1 process {len(keys)}",
            )
        )
    for key in keys:
        single = next(event for event in reference if event.key == key)
        ranks = sorted((event for event in ddp if event.key == key), key=lambda event: event.rank)
        if not ranks:
            continue
        label = _evaluation_label(key)
        padding = _padding_note(ranks[0])
        for name, value in sorted(single.metrics.items()):
            got = ranks[0].metrics.get(name)
            if got is None:
                found.append(
                    Difference(
                        DDP_METRIC, f"{label}: {name} is not logged with {devices} processes"
                    )
                )
            elif relative_difference(value, got) > rtol:
                found.append(
                    Difference(
                        DDP_METRIC,
                        f"{label}: {name} = {got:.6g} with {devices} processes, {value:.6g} with 1 process "
                        f"evaluating the same weights{padding}",
                    )
                )
        found.extend(
            _compare_eval_lines(
                label,
                single.lines,
                [line for event in ranks for line in event.lines],
                devices,
                rtol,
            )
        )
        metrics = (
            ", ".join(f"{name} {value:.6g}" for name, value in sorted(single.metrics.items()))
            or "no metrics"
        )
        summary.append(f"{label}: {metrics}; {len(single.lines)} printed line(s)")
    return summary, found


def _compare_eval_lines(
    label: str, single: Sequence[str], everything: Sequence[str], devices: int, rtol: float
) -> list[Difference]:
    """Each line 1 process prints must be printed once by the N processes together, with the same numbers."""
    found: list[Difference] = []
    for line in extra_lines(single, everything, rtol)[:1]:
        many = sum(1 for other in everything if other.strip() == line)
        once = sum(1 for other in single if other.strip() == line)
        if once:
            detail = f"{line!r} is printed {many} times by {devices} processes, {once} time(s) by 1 process"
        else:
            detail = f"{devices} processes print {line!r}, which 1 process evaluating the same weights does not print"
        found.append(Difference(DDP_LINE, f"{label}: {detail}"))
    for line in unmatched_lines(single, everything, rtol)[:1]:
        found.append(
            Difference(
                DDP_LINE, f"{label}: 1 process prints {line!r}; {devices} processes never do"
            )
        )
    return found


def _evaluation_label(key: str) -> str:
    _, stage, index = (key.split(".") + ["", ""])[:3]
    return f"{'validation' if stage == 'validate' else stage} run {int(index) + 1 if index.isdigit() else index}"


def _padding_note(event: Evaluation) -> str:
    uneven = [size for size in event.dataset_sizes if size is not None and size % event.world_size]
    if not uneven:
        return ""
    return f" (its {uneven[0]} samples do not split evenly: DistributedSampler repeats some to pad)"
