"""The golden-diff helpers: a diff applies back to what it was made from, and a stale one says where."""

from __future__ import annotations

import pytest

from tests.goldens import GoldenMismatch, apply_diff, golden_diff

BEFORE = "".join(f"line {n}\n" for n in range(1, 21))
AFTER = BEFORE.replace("line 2\n", "line two\n").replace("line 19\n", "") + "line 21\n"


def test_a_diff_turns_its_input_into_its_output() -> None:
    diff = golden_diff(BEFORE, AFTER, "input.py", "expected.py")
    assert diff.count("@@ ") == 2
    assert apply_diff({"input.py": BEFORE}, diff) == {"input.py": AFTER}


def test_an_unchanged_text_has_an_empty_diff() -> None:
    assert golden_diff(BEFORE, BEFORE, "input.py", "expected.py") == ""
    assert apply_diff({"input.py": BEFORE}, "") == {"input.py": BEFORE}


def test_several_files_in_one_diff() -> None:
    diff = golden_diff(BEFORE, AFTER, "a.py", "a.py") + golden_diff("x\n", "y\n", "b.py", "b.py")
    patched = apply_diff({"a.py": BEFORE, "b.py": "x\n", "c.py": "z\n"}, diff)
    assert patched == {"a.py": AFTER, "b.py": "y\n", "c.py": "z\n"}


def test_an_input_edited_since_the_golden_was_written_is_named() -> None:
    diff = golden_diff(BEFORE, AFTER, "input.py", "expected.py")
    with pytest.raises(GoldenMismatch, match=r"input.py:2: the golden expects 'line 2\\n'"):
        apply_diff({"input.py": BEFORE.replace("line 2\n", "line 2 edited\n")}, diff)


def test_a_text_without_a_final_newline_is_refused() -> None:
    with pytest.raises(ValueError, match="end with a newline"):
        golden_diff("x", "y\n", "input.py", "expected.py")


def test_lines_split_at_newlines_only() -> None:
    before = 'x = "a\\x0cb\\rc"\ny = 1\n'
    after = before.replace("y = 1", "y = 2")
    diff = golden_diff(before, after, "input.py", "expected.py")
    assert apply_diff({"input.py": before}, diff) == {"input.py": after}


def test_a_removed_line_that_looks_like_a_file_header_stays_in_its_hunk() -> None:
    before, after = "x = 1\n-- y\n", "x = 1\n"
    diff = golden_diff(before, after, "input.py", "expected.py")
    assert "\n--- y\n" in diff
    assert apply_diff({"input.py": before}, diff) == {"input.py": after}
