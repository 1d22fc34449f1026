"""Evaluation sums become logged metrics: derived values first, the sums themselves otherwise."""

from __future__ import annotations

from litgen.convert.rules.metrics import insert_logs, metric_key, metric_logs
from litgen.convert.symbols import Symbols
from tests.convert.helpers import render, statements


def test_keys_drop_stage_prefixes_and_stay_unique() -> None:
    taken: set[str] = set()
    assert metric_key("val", "test_loss", taken) == "val_loss"
    assert metric_key("val", "val_loss", taken) == "val_loss_2"
    assert metric_key("test", "correct", taken) == "test_correct"


def test_derived_metrics_are_logged_after_they_are_computed() -> None:
    step = statements(
        "loss_sum += criterion(out, y).item()\ncorrect += (out.argmax(1) == y).sum().item()\ntotal += y.size(0)\n"
    )
    start = statements("loss_sum, correct, total = 0.0, 0, 0\n")
    end = statements("accuracy = correct / total\nprint(accuracy)\n")
    logs = metric_logs(step, start, end, "val", Symbols())
    assert render(logs) == 'self.log("val_accuracy", accuracy)\n'
    assert (
        render(insert_logs(end, logs))
        == 'accuracy = correct / total\nself.log("val_accuracy", accuracy)\nprint(accuracy)\n'
    )


def test_sums_are_logged_when_nothing_is_derived() -> None:
    step = statements("test_loss += loss.item()\nbatches += 1\n")
    logs = metric_logs(
        step,
        statements("test_loss = 0\nbatches = 0\n"),
        statements("test_loss /= batches\n"),
        "test",
        Symbols(),
    )
    assert render(logs) == 'self.log("test_loss", test_loss)\n'


def test_nothing_to_log_without_initialised_sums() -> None:
    assert metric_logs(statements("out = model(x)\n"), [], [], "val", Symbols()) == []


def test_a_helper_local_sum_is_logged_under_its_own_name() -> None:
    symbols = Symbols()
    total = symbols.local("total_loss", "evaluate")
    step = statements(f"{total} += loss.item()\n")
    start = statements(f"{total} = 0.0\n")
    end = statements(f"print({total})\n")
    logs = metric_logs(step, start, end, "val", symbols)
    # the script's name, `total_` prefix dropped
    assert render(logs) == f'self.log("val_loss", {total})\n'
