"""Printed lines compared as a user reads them: same words, same numbers (within a tolerance), any clock."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
# Wall-clock readings differ from run to run and between any two programs: dates and clock times,
# numbers with a unit of time, speed or memory, and numbers right after a word about time.
_CLOCK = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)?|\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
)
_UNIT_AFTER = re.compile(
    r"\s*(?:ms|s|sec|secs|seconds|min|mins|minutes|h|hrs|hours|it/s|s/it|[a-z]+/s|[kmgt]i?b)\b",
    re.IGNORECASE,
)
_TIME_WORDS = re.compile(
    r"time|elapsed|took|duration|eta|speed|throughput|fps|memory|mem\b", re.IGNORECASE
)


@dataclass(frozen=True)
class LineShape:
    """A line split into its words (numbers replaced by #, wall-clock readings by ~) and its numbers."""

    template: str
    numbers: tuple[str, ...]

    @classmethod
    def of(cls, line: str) -> LineShape:
        text = _CLOCK.sub("~", line.strip())
        parts: list[str] = []
        numbers: list[str] = []
        end = 0
        for match in _NUMBER.finditer(text):
            before = text[end : match.start()]
            volatile = bool(_TIME_WORDS.search(before)) or bool(
                _UNIT_AFTER.match(text, match.end())
            )
            parts.append(before + ("~" if volatile else "#"))
            if not volatile:
                numbers.append(match.group())
            end = match.end()
        parts.append(text[end:])
        return cls("".join(parts), tuple(numbers))


def _last_place(text: str) -> float:
    """One unit in the last printed digit: `0.1234` -> 1e-4, `12` -> 1, `1.5e-3` -> 1e-4."""
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.split(".", 1)[1]) if "." in mantissa else 0
    return 10.0 ** (int(exponent or 0) - decimals)


def numbers_agree(expected: str, actual: str, rtol: float) -> bool:
    """Equal within RTOL, or, for decimals, one unit apart in the last printed digit (rounding of
    nearly equal values).
    """
    if expected == actual:
        return True
    try:
        a, b = float(expected), float(actual)
    except ValueError:
        return False
    difference = abs(a - b)
    if difference <= rtol * max(abs(a), abs(b)):
        return True
    # Only a rounded number may be off by its last digit; integers (epochs, counts) must be equal.
    rounded = any(mark in expected.lower() for mark in ".e")
    return rounded and difference <= _last_place(expected) * 1.0000001


def lines_agree(expected: str, actual: str, rtol: float) -> bool:
    want, got = LineShape.of(expected), LineShape.of(actual)
    return (
        want.template == got.template
        and len(want.numbers) == len(got.numbers)
        and all(numbers_agree(a, b, rtol) for a, b in zip(want.numbers, got.numbers, strict=True))
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
            match = next(
                (
                    other
                    for other, n in available.items()
                    if n > 0 and lines_agree(line, other, rtol)
                ),
                None,
            )
            if match is None:
                left.append(line)
            else:
                available[match] -= 1
    return left


def first_out_of_order(
    expected: Sequence[str], actual: Sequence[str], rtol: float
) -> tuple[str, str] | None:
    """(a line of EXPECTED, one it printed before it) where ACTUAL prints them the other way round.

    Each line of EXPECTED takes the first line of ACTUAL it agrees with that no earlier line took;
    lines ACTUAL never prints are left out (`unmatched_lines` names those).
    """
    taken: set[int] = set()
    placed: list[tuple[int, str]] = []  # (position in ACTUAL, the line), in EXPECTED's order
    for line in (line.strip() for line in expected if line.strip()):
        position = next(
            (
                index
                for index, other in enumerate(actual)
                if index not in taken and lines_agree(line, other.strip(), rtol)
            ),
            None,
        )
        if position is None:
            continue
        taken.add(position)
        earlier = next(((p, text) for p, text in placed if p > position), None)
        if earlier is not None:
            return line, earlier[1]
        placed.append((position, line))
    return None


def extra_lines(expected: Sequence[str], actual: Sequence[str], rtol: float) -> list[str]:
    """Lines ACTUAL prints more often than EXPECTED does (a line every process prints, for example)."""
    return unmatched_lines(actual, expected, rtol)
