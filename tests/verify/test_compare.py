"""The comparison names the first difference and its cause, from records built by hand (no torch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from litgen.verify.compare import (
    DATA_ORDER,
    DDP_LINE,
    DDP_METRIC,
    LOSS,
    LR,
    OPTIMIZER,
    PARAMETERS,
    PRINTED,
    STEPS,
    compare_devices,
    compare_params,
    compare_printed,
    compare_step,
    compare_steps,
)
from litgen.verify.options import VerifyOptions
from litgen.verify.records import (
    Evaluation,
    ParamSum,
    ProgramRecord,
    ProgramRun,
    Step,
    record_from_json,
)
from litgen.verify.report import VerifyReport

RTOL = 1e-5


def step(
    loss: float = 1.0, lr: float = 0.1, batch: str | None = "b1", optimizer: int | None = 0
) -> Step:
    return Step(optimizer=optimizer, losses=(loss,), lrs=(lr,), batches=(batch,))


def record(
    steps: list[Step], lines: tuple[str, ...] = (), params: tuple[ParamSum, ...] = ()
) -> ProgramRecord:
    return ProgramRecord("x", "optimizer", tuple(steps), False, params, lines, 0, ())


def kinds(differences: list) -> list[str]:  # type: ignore[type-arg]
    return [difference.kind for difference in differences]


def test_equal_steps_agree() -> None:
    row = compare_step(0, step(), step(), RTOL)
    assert row.differences == () and row.batch == "same" and row.rel_diff == 0.0 and row.lrs_agree


@pytest.mark.parametrize(
    ("converted", "kind"),
    [
        (step(batch="b2"), DATA_ORDER),
        (step(loss=1.001), LOSS),
        (step(lr=0.2), LR),
        (step(optimizer=1), OPTIMIZER),
        (Step(0, (1.0, 1.0), (0.1,), ("b1", "b1")), LOSS),  # two backward passes instead of one
    ],
)
def test_each_kind_of_difference_is_named(converted: Step, kind: str) -> None:
    row = compare_step(0, step(), converted, RTOL)
    assert kind in kinds(list(row.differences))
    assert all(difference.step == 1 for difference in row.differences)


def test_a_loss_within_rtol_agrees_and_batches_unseen_on_one_side_are_not_compared() -> None:
    row = compare_step(0, step(loss=1.0, batch=None), step(loss=1.000001), RTOL)
    assert row.differences == () and row.batch == "n/a"


def test_step_counts_must_match_unless_both_reached_the_requested_steps() -> None:
    original, converted = record([step()] * 5), record([step()] * 3)
    assert kinds(compare_steps(original, converted, RTOL, steps=None)[1]) == [STEPS]
    assert kinds(compare_steps(original, converted, RTOL, steps=5)[1]) == [STEPS]
    assert compare_steps(record([step()] * 5), record([step()] * 5), RTOL, steps=5)[1] == []
    _, nothing = compare_steps(record([]), record([]), RTOL, steps=5)
    assert "no optimisation step" in nothing[0].detail


def param(name: str = "layer.weight", norm: float = 2.0, probe: float = 0.5) -> ParamSum:
    return ParamSum(name, (2, 2), norm, 4.0, probe)


def test_parameters_are_compared_by_position_and_named_by_the_original() -> None:
    same, found = compare_params(
        record([], params=(param(), param("b"))), record([], params=(param(), param("b"))), RTOL
    )
    assert found == [] and same.startswith("2 tensors")
    _, found = compare_params(
        record([], params=(param(), param("b"))),
        record([], params=(param(), param("b", probe=0.6))),
        RTOL,
    )
    assert kinds(found) == [PARAMETERS] and "first: b" in found[0].detail
    _, found = compare_params(record([], params=(param(),)), record([], params=()), RTOL)
    assert "1 parameter tensors, the conversion 0" in found[0].detail


def test_every_line_the_original_printed_must_be_printed_by_the_conversion() -> None:
    summary, found = compare_printed(
        record([], lines=("a 1", "b 2")), record([], lines=("b 2", "a 1", "c")), RTOL
    )
    assert found == [] and summary.startswith("2 of 2")
    _, found = compare_printed(record([], lines=("a 1", "Done!")), record([], lines=("a 1",)), RTOL)
    assert kinds(found) == [PRINTED] and "'Done!'" in found[0].detail


def evaluation(
    rank: int, metrics: dict[str, float], lines: tuple[str, ...], world: int = 2, size: int = 32
) -> Evaluation:
    return Evaluation("1.validate.0", rank, world, metrics, lines, (size,))


def ran(role: str) -> ProgramRun:
    return ProgramRun(role, Path("x.py"), True, "", "", None)


def test_devices_agree_when_rank_zero_logs_the_reduced_metric_and_prints_once() -> None:
    reference = [evaluation(0, {"val_loss": 0.5}, ("val 0.5",), world=1)]
    ddp = [evaluation(0, {"val_loss": 0.5}, ("val 0.5",)), evaluation(1, {"val_loss": 0.5}, ())]
    summary, found = compare_devices([ran("ddp"), ran("reference")], ddp, reference, 2, RTOL)
    assert found == [] and "val_loss 0.5" in summary[0]


def test_devices_catch_per_process_metrics_and_lines_printed_by_every_rank() -> None:
    reference = [evaluation(0, {"val_loss": 0.5}, ("val 0.5",), world=1)]
    ddp = [
        evaluation(0, {"val_loss": 0.25}, ("val 0.5",)),
        evaluation(1, {"val_loss": 0.75}, ("val 0.5",)),
    ]
    _, found = compare_devices([ran("ddp"), ran("reference")], ddp, reference, 2, RTOL)
    assert kinds(found) == [DDP_METRIC, DDP_LINE]
    assert "0.25 with 2 processes, 0.5 with 1 process" in found[0].detail
    assert "printed 2 times by 2 processes, 1 time(s) by 1 process" in found[1].detail


def test_devices_name_uneven_splits_as_a_possible_cause() -> None:
    reference = [evaluation(0, {"val_loss": 0.5}, (), world=1, size=33)]
    ddp = [evaluation(0, {"val_loss": 0.51}, (), size=33)]
    _, found = compare_devices([ran("ddp"), ran("reference")], ddp, reference, 2, RTOL)
    assert "33 samples do not split evenly" in found[0].detail


def test_devices_without_evaluations_have_nothing_to_compare() -> None:
    summary, found = compare_devices([ran("ddp"), ran("reference")], [], [], 2, RTOL)
    assert found == [] and "no evaluation ran" in summary[0]


def test_the_verdict_names_the_earliest_step_and_prefers_data_order_over_loss() -> None:
    rows, found = compare_steps(
        record([step(), step(loss=2.0), step()]),
        record([step(), step(loss=3.0, batch="b9"), step(lr=1.0)]),
        RTOL,
        3,
    )
    report = VerifyReport(Path("a.py"), Path("b.py"), VerifyOptions(steps=3), ()).completed(
        rows=rows, params="", printed="", devices=(), differences=found, notes=()
    )
    assert not report.agree
    assert report.first_difference is not None and report.first_difference.kind == DATA_ORDER
    assert report.verdict().startswith("DIVERGE at step 2: different data order")
    payload = report.to_json()
    assert payload["agree"] is False and payload["first_difference"]["step"] == 2
    assert [row["batch"] for row in payload["steps"]] == ["same", "differs", "same"]
    assert report.text_lines()[-1].startswith("verdict: DIVERGE at step 2")


def test_records_read_back_from_the_probe_json() -> None:
    data = {
        "role": "original",
        "step_unit": "backward",
        "steps": [{"optimizer": None, "losses": [1], "lrs": [], "batches": [None]}],
        "params": [{"name": "w", "shape": [2], "norm": 1, "abs_sum": 1, "probe": 0.5}],
        "lines": [{"text": "hi", "phase": "main"}],
    }
    parsed = record_from_json(data)
    assert (
        parsed.step_unit == "backward"
        and parsed.steps[0].losses == (1.0,)
        and parsed.lines == ("hi",)
    )
    assert parsed.params[0].shape == (2,)
