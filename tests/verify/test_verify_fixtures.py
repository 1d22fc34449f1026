"""Every runnable conversion fixture verifies against its original (slow: runs torch and Lightning).

Each option set is one probe session (Lightning imported once for every pair in it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from litgen.verify import VerifyOptions, VerifyReport, verify_pairs
from tests.convert.helpers import FIXTURES, expected, fixture_cases
from tests.goldens import expected_file

VERIFY_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "verify"
# Their originals start their own processes (mp.spawn, torchrun), which a 1-process verify cannot
# follow.
LAUNCHES_PROCESSES = {"ddp_spawn", "ddp_torchrun_trainer"}
CASES = [case for case in fixture_cases() if case not in LAUNCHES_PROCESSES]
# Hand-written reference pairs, kept independent of the converter: a DDP-correct evaluation written
# as an expert would (one tensor of sums reduced once), and hand-written updates of raw tensors (no
# nn.Module, which the converter refuses) in an original that never seeds.
PAIRS = sorted(path.name for path in VERIFY_FIXTURES.iterdir() if (path / "original.py").exists())


def _pair(case: str, scratch: Path) -> tuple[Path, Path]:
    """The original and its conversion: a hand-written pair, or a fixture's input and its golden."""
    if case in PAIRS:
        return VERIFY_FIXTURES / case / "original.py", VERIFY_FIXTURES / case / "converted.py"
    return FIXTURES / case / "input.py", expected_file(FIXTURES / case, scratch)


def _run(cases: list[str], scratch: Path, **options: object) -> dict[str, VerifyReport]:
    pairs = [_pair(case, scratch) for case in cases]
    reports = verify_pairs(pairs, VerifyOptions(timeout=240, **options))  # type: ignore[arg-type]
    return dict(zip(cases, reports, strict=True))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("converted")


@pytest.fixture(scope="module")
def five_steps(scratch: Path) -> dict[str, VerifyReport]:
    return _run(CASES + PAIRS, scratch, steps=5)


@pytest.fixture(scope="module")
def all_steps(scratch: Path) -> dict[str, VerifyReport]:
    return _run(CASES + PAIRS, scratch, steps=None)


def _explain(report: VerifyReport) -> str:
    return "\n".join(report.text_lines()) + "\n" + report.output_tail


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES + PAIRS)
def test_the_first_five_steps_agree(case: str, five_steps: dict[str, VerifyReport]) -> None:
    report = five_steps[case]
    assert report.agree, _explain(report)
    assert report.rows and all(row.batch in ("same", "n/a") for row in report.rows)
    assert len(report.rows) == 5 or not any(
        run.record and run.record.stopped for run in report.runs
    )


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES + PAIRS)
def test_whole_runs_agree_and_the_conversion_prints_every_line_of_the_original(
    case: str, all_steps: dict[str, VerifyReport]
) -> None:
    report = all_steps[case]
    assert report.agree, _explain(report)
    original = next(run.record for run in report.runs if run.role == "original")
    assert original is not None and not original.stopped and len(report.rows) == len(original.steps)
    assert report.params.endswith("all equal within rtol")


def _evaluates(case: str) -> bool:
    converted = expected(case)
    return "def validation_step(" in converted or "def test_step(" in converted


# DistributedSampler pads an evaluation set that does not split evenly by repeating samples, so
# 2 processes evaluate a few samples twice: Lightning's documented behaviour, named by verify.
UNEVEN_EVALUATION_SETS = {"test_after_training"}
EVALUATING = [case for case in CASES if _evaluates(case) and case not in UNEVEN_EVALUATION_SETS]


@pytest.fixture(scope="module")
def two_processes(scratch: Path) -> dict[str, VerifyReport]:
    return _run(EVALUATING + sorted(UNEVEN_EVALUATION_SETS), scratch, steps=3, devices=2)


@pytest.mark.slow
@pytest.mark.parametrize("case", EVALUATING)
def test_conversions_evaluate_on_two_processes_as_on_one(
    case: str, two_processes: dict[str, VerifyReport]
) -> None:
    report = two_processes[case]
    assert report.agree, _explain(report)
    assert report.devices and "no evaluation ran" not in report.devices[0]


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(UNEVEN_EVALUATION_SETS))
def test_uneven_evaluation_sets_differ_only_by_sampler_padding(
    case: str, two_processes: dict[str, VerifyReport]
) -> None:
    report = two_processes[case]
    differences = list(report.differences)
    assert differences and all(
        "DistributedSampler repeats some to pad" in d.detail for d in differences
    ), _explain(report)


@pytest.mark.slow
def test_two_processes_evaluate_like_one_on_a_ddp_correct_conversion(tmp_path: Path) -> None:
    cases = ["classifier", "accumulation", "manual_update", "scheduler_per_batch"]
    reports = _run(cases, tmp_path, steps=3, devices=2)
    for report in reports.values():
        assert report.agree, _explain(report)
    assert any("validation run 2: val_acc" in entry for entry in reports["classifier"].devices)
    assert "no evaluation ran" in reports["accumulation"].devices[0]
