"""Printed lines match when their words match and their numbers agree within rtol (or one printed digit)."""

from __future__ import annotations

import pytest

from litgen.verify.lines import LineShape, extra_lines, lines_agree, numbers_agree, unmatched_lines


def test_a_line_splits_into_words_and_numbers() -> None:
    shape = LineShape.of("epoch 3: loss 0.1234, acc 97.5% (1e-3)")
    assert shape.template == "epoch #: loss #, acc #% (#)"
    assert shape.numbers == ("3", "0.1234", "97.5", "1e-3")


@pytest.mark.parametrize(
    ("expected", "actual", "agree"),
    [
        ("0.1234", "0.1234", True),
        ("0.123456789", "0.123456790", True),  # within rtol
        ("0.1234", "0.1235", True),  # one unit in the last printed digit: rounding of nearly equal values
        ("0.1234", "0.1236", False),
        ("12", "13", True),
        ("12", "14", False),
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
