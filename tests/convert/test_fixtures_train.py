"""Every golden expected.py really trains: one `litgen check` session runs them all (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.convert.helpers import FIXTURES, fixture_cases

CASES = fixture_cases("expected.py")


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    from litgen.check import check_programs

    paths = [FIXTURES / case / "expected.py" for case in CASES]
    return {Path(r.target).parent.name: r for r in check_programs(paths, timeout=240)}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_expected_trains_under_fast_dev_run(case: str, results: dict[str, object]) -> None:
    result = results[case]
    assert result.ok, f"{result.reason}\n{result.output_tail}"  # type: ignore[attr-defined]
    assert result.train_batches >= 1  # type: ignore[attr-defined]
