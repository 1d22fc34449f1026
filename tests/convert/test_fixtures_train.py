"""Every golden conversion really trains: one `litgen check` session runs them all (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.convert.helpers import FIXTURES, fixture_cases
from tests.goldens import expected_file

CASES = fixture_cases()


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from litgen.check import check_programs

    root = tmp_path_factory.mktemp("converted")
    paths = [expected_file(FIXTURES / case, root) for case in CASES]
    return {Path(r.target).parent.name: r for r in check_programs(paths, timeout=240)}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_expected_trains_under_fast_dev_run(case: str, results: dict[str, object]) -> None:
    result = results[case]
    assert result.ok, f"{result.reason}\n{result.output_tail}"  # type: ignore[attr-defined]
    assert result.train_batches >= 1  # type: ignore[attr-defined]
