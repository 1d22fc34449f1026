"""Printed lines match when their words match and their numbers agree within rtol (or one printed digit)."""

from __future__ import annotations

import pytest

from litgen.verify.lines import (
    LineShape,
    extra_lines,
    first_out_of_order,
    lines_agree,
    numbers_agree,
    unmatched_lines,
)


def test_a_line_splits_into_words_and_numbers() -> None:
    shape = LineShape.of("epoch 3: loss 0.1234, acc 97.5% (1e-3)")
    assert shape.template == "epoch #: loss #, acc #% (#)"
    assert shape.numbers == ("3", "0.1234", "97.5", "1e-3")


@pytest.mark.parametrize(
    ("original", "converted"),
    [
        ("Epoch 1 loss 0.5000 time 3.21s", "Epoch 1 loss 0.5000 time 4.02s"),
        ("epoch 2 took 12.5 seconds", "epoch 2 took 9.1 seconds"),
        ("[2026-12-02 14:01:10,123] loss 0.25", "[2026-12-03 09:00:00,001] loss 0.25"),
        ("4/4 [00:01<00:00, 3.20it/s]", "4/4 [00:02<00:00, 1.90it/s]"),
        ("step 10 | 1520 samples/s | mem 812MB", "step 10 | 990 samples/s | mem 1024MB"),
    ],
)
def test_wall_clock_readings_are_not_compared(original: str, converted: str) -> None:
    assert lines_agree(original, converted, 1e-5)
    assert unmatched_lines([original], [converted], 1e-5) == []


def test_the_other_numbers_of_a_line_with_a_time_still_count() -> None:
    assert not lines_agree("Epoch 1 loss 0.5000 time 3.21s", "Epoch 1 loss 0.6000 time 3.21s", 1e-5)
    assert not lines_agree("Epoch 1 loss 0.5 time 3s", "Epoch 2 loss 0.5 time 3s", 1e-5)
    assert LineShape.of("3 steps, 10 samples").numbers == ("3", "10")  # words, not units


@pytest.mark.parametrize(
    ("expected", "actual", "agree"),
    [
        ("0.1234", "0.1234", True),
        ("0.123456789", "0.123456790", True),  # within rtol
        (
            "0.1234",
            "0.1235",
            True,
        ),  # one unit in the last printed digit: rounding of nearly equal values
        ("0.1234", "0.1236", False),
        ("12", "13", False),  # integers count things: they must be equal
        ("12.0", "12.1", True),
        ("2.5e-3", "2.6e-3", True),
        ("2.5e-3", "2.7e-3", False),
        ("1.0", "x", False),
    ],
)
def test_numbers_agree(expected: str, actual: str, agree: bool) -> None:
    assert numbers_agree(expected, actual, rtol=1e-5) is agree


def test_lines_agree_needs_the_same_words_and_as_many_numbers() -> None:
    assert lines_agree("loss 0.5000", "loss 0.5000", 1e-5)
    assert not lines_agree("loss 0.5000", "val_loss 0.5000", 1e-5)
    assert not lines_agree("loss 0.5", "loss 0.5 0.5", 1e-5)


def test_unmatched_lines_counts_repeats_and_ignores_blank_lines() -> None:
    original = ["Done!", "loss 0.5", "loss 0.5", "", "acc 0.9"]
    converted = ["loss 0.5", "acc 0.9000001", "extra line", "Done!"]
    assert unmatched_lines(original, converted, 1e-5) == ["loss 0.5"]
    assert unmatched_lines(converted, converted, 1e-5) == []


def test_extra_lines_finds_what_is_printed_too_often() -> None:
    assert extra_lines(["val 0.5"], ["val 0.5", "val 0.5"], 1e-5) == ["val 0.5"]
    assert extra_lines(["val 0.5"], ["val 0.5"], 1e-5) == []


def test_lines_printed_in_another_order_are_named() -> None:
    original = ["epoch 1: loss 0.5", "test loss 0.4", "epoch 2: loss 0.3", "test loss 0.2"]
    converted = ["test loss 0.4", "epoch 1: loss 0.5", "epoch 2: loss 0.3", "test loss 0.2"]
    assert first_out_of_order(original, converted, 1e-5) == ("test loss 0.4", "epoch 1: loss 0.5")
    assert first_out_of_order(original, original, 1e-5) is None
    repeated = ["step", "step", "done"]
    assert first_out_of_order(repeated, ["step", "step", "done", "extra"], 1e-5) is None
    assert first_out_of_order(["a 1", "b 2"], ["b 2"], 1e-5) is None, (
        "a missing line is not an order"
    )
