"""The converted scripts compute what the originals computed: same printed numbers, run for run (slow).

Every fixture's input.py and expected.py run to completion (all inputs in one process, all outputs in
another, so torch and Lightning are imported once each); for seeded scripts every line the original prints
must also be printed by the conversion.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.convert.helpers import FIXTURES, fixture_cases

CASES = fixture_cases("expected.py")
# the originals need a process launcher (mp.spawn on a fixed port, or torchrun): run only their conversions
SPAWNS_PROCESSES = {"ddp_spawn", "ddp_torchrun_trainer"}


def _run(paths: list[Path], out: Path) -> dict[str, dict[str, object]]:
    subprocess.run(
        [sys.executable, "-m", "tests.convert.run_scripts", str(out), *map(str, paths)],
        check=True,
        capture_output=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )
    return {Path(k).parent.name: v for k, v in json.loads(out.read_text(encoding="utf-8")).items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict[str, object]], dict[str, dict[str, object]]]:
    scratch = tmp_path_factory.mktemp("faithfulness")
    originals = _run([FIXTURES / c / "input.py" for c in CASES if c not in SPAWNS_PROCESSES], scratch / "in.json")
    converted = _run([FIXTURES / c / "expected.py" for c in CASES], scratch / "out.json")
    return originals, converted


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_conversion_prints_what_the_original_printed(case: str, runs: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    originals, converted = runs
    assert converted[case]["error"] is None, converted[case]["error"]
    if case in SPAWNS_PROCESSES:
        return
    assert originals[case]["error"] is None, originals[case]["error"]
    if "manual_seed" not in (FIXTURES / case / "input.py").read_text(encoding="utf-8"):
        return
    missing = Counter(originals[case]["lines"]) - Counter(converted[case]["lines"])  # type: ignore[arg-type]
    assert not missing, f"printed by the original only: {sorted(missing)[:5]}"
