"""Robustness: standard-library modules are refused with exit 1 (2 if undecodable) and one line, never
a traceback or a file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.convert.stdlib_sweep import convert_one, problems, stdlib_files

ALL = stdlib_files()
TRICKY = [  # a deeply nested literal, Python 2 syntax, undecodable bytes
    "pydoc_data/topics.py",
    "lib2to3/tests/data/py2_test_grammar.py",
    "test/bad_coding.py",
    "test/tokenizedata/bad_coding2.py",
]
SAMPLE = sorted(
    {*ALL[:: max(1, len(ALL) // 40)], *[p for p in ALL if any(str(p).endswith(t) for t in TRICKY)]}
)


@pytest.mark.parametrize("path", SAMPLE, ids=lambda p: str(p.name))
def test_stdlib_module_is_refused_cleanly(path: Path, tmp_path: Path) -> None:
    code, stderr = convert_one(path, tmp_path)
    assert problems(path, code, stderr) is None, stderr
    assert list(tmp_path.iterdir()) == []


def test_sample_covers_syntax_errors_with_their_line(tmp_path: Path) -> None:
    grammar = [p for p in ALL if str(p).endswith("lib2to3/tests/data/py2_test_grammar.py")]
    if not grammar:
        pytest.skip("this Python has no lib2to3 test data")
    code, stderr = convert_one(grammar[0], tmp_path)
    assert code == 1
    assert f"{grammar[0]}:" in stderr and ": not valid Python" in stderr
    line = stderr.split(f"{grammar[0]}:", 1)[1].split(":", 1)[0]
    assert line.isdigit()
