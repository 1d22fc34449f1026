"""Printed lines compared as a user reads them: same words, same numbers (within a tolerance)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class LineShape:
    """A line split into its words (numbers replaced by #) and its numbers as printed."""

    template: str
    numbers: tuple[str, ...]

    @classmethod
    def of(cls, line: str) -> LineShape:
        return cls(_NUMBER.sub("#", line.strip()), tuple(_NUMBER.findall(line)))


def _last_place(text: str) -> float:
    """One unit in the last printed digit: `0.1234` -> 1e-4, `12` -> 1, `1.5e-3` -> 1e-4."""
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.split(".", 1)[1]) if "." in mantissa else 0
    return 10.0 ** (int(exponent or 0) - decimals)


def numbers_agree(expected: str, actual: str, rtol: float) -> bool:
    """Equal within RTOL, or one unit apart in the last printed digit (rounding of nearly equal values)."""
    if expected == actual:
        return True
    try:
        a, b = float(expected), float(actual)
    except ValueError:
        return False
    difference = abs(a - b)
    return difference <= rtol * max(abs(a), abs(b)) or difference <= _last_place(expected) * 1.0000001


def lines_agree(expected: str, actual: str, rtol: float) -> bool:
    want, got = LineShape.of(expected), LineShape.of(actual)
    return (
        want.template == got.template
        and len(want.numbers) == len(got.numbers)
        and all(numbers_agree(a, b, rtol) for a, b in zip(want.numbers, got.numbers))
    )


def unmatched_lines(expected: Sequence[str], actual: Sequence[str], rtol: float) -> list[str]:
    """Lines of EXPECTED (as a multiset) that ACTUAL does not print, matching numbers within RTOL."""
    missing = Counter(line.strip() for line in expected if line.strip())
    available = Counter(line.strip() for line in actual if line.strip())
    for line in list(missing):
        exact = min(missing[line], available[line])
        missing[line] -= exact
        available[line] -= exact
    left: list[str] = []
    for line, count in missing.items():
        for _ in range(count):
            match = next((other for other, n in available.items() if n > 0 and lines_agree(line, other, rtol)), None)
            if match is None:
                left.append(line)
            else:
                available[match] -= 1
    return left


def extra_lines(expected: Sequence[str], actual: Sequence[str], rtol: float) -> list[str]:
    """Lines ACTUAL prints more often than EXPECTED does (a line every process prints, for example)."""
    return unmatched_lines(actual, expected, rtol)
