"""Every template: a pairwise-covering set of answer combinations renders and trains under fast_dev_run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pairwise import Pair, all_pairs, answers_of, case_file, factors_of, pairs_of, refusal

from litgen.check import check_programs
from litgen.new import TemplateInfo, create_project, list_templates

TEMPLATES = list_templates()
REGENERATE = "regenerate with `.venv/bin/python tests/pairwise.py {name}`"


def _load(info: TemplateInfo) -> dict[str, Any]:
    path = case_file(info.name)
    if not path.exists():
        pytest.fail(f"{path} is missing; {REGENERATE.format(name=info.name)}")
    return json.loads(path.read_text())


def _as_case(answers: dict[str, Any], info: TemplateInfo) -> dict[Any, Any]:
    """Back from copier answers to factor values, so coverage is computed from what will be rendered."""
    factors = factors_of(info)
    case: dict[Any, Any] = {}
    for name, item in factors:
        if item is None:
            case[(name, item)] = answers[name]
        else:
            case[(name, item)] = item in answers[name]
    return case


def _as_data(answers: dict[str, Any]) -> dict[str, str]:
    """The answers as a user would type them after --data."""

    def text(value: Any) -> str:
        if isinstance(value, list):
            return ",".join(value)
        return str(value).lower() if isinstance(value, bool) else str(value)

    return {key: text(value) for key, value in answers.items()}


def _pair(raw: list[list[Any]]) -> Pair:
    (f1, v1), (f2, v2) = raw
    return ((tuple(f1), v1), (tuple(f2), v2))  # type: ignore[return-value]


@pytest.mark.parametrize("info", TEMPLATES, ids=[t.name for t in TEMPLATES])
def test_cases_cover_every_feasible_pair(info: TemplateInfo) -> None:
    data = _load(info)
    factors = factors_of(info)
    for answers in data["cases"]:
        assert set(answers) == {name for name, _ in factors}, (
            f"questions changed; {REGENERATE.format(name=info.name)}"
        )
    covered = set().union(*(pairs_of(_as_case(answers, info)) for answers in data["cases"]))
    infeasible = {_pair(entry["pair"]) for entry in data["infeasible"]}
    missing = all_pairs(factors) - covered - infeasible
    assert not missing, (
        f"{len(missing)} pairs uncovered, e.g. {sorted(missing, key=str)[:3]}; {REGENERATE.format(name=info.name)}"
    )


@pytest.mark.parametrize("info", TEMPLATES, ids=[t.name for t in TEMPLATES])
def test_pairs_called_infeasible_are_refused_by_the_template(info: TemplateInfo) -> None:
    for entry in _load(info)["infeasible"]:
        (f1, v1), (f2, v2) = _pair(entry["pair"])
        answers = answers_of({f1: v1, f2: v2})
        assert refusal(info, answers) is not None, f"{answers} is accepted, so it must be covered"


@pytest.mark.slow
def test_every_pairwise_case_of_every_template_trains(tmp_path: Path) -> None:
    projects: list[Path] = []
    for info in TEMPLATES:
        for index, answers in enumerate(_load(info)["cases"]):
            dest = tmp_path / f"{info.name}-{index}"
            projects.append(
                create_project(
                    dest, template=info.name, answers=_as_data(answers), use_defaults=True
                ).dest
            )
    # One call: the probe imports Lightning once and forks a child per project.
    results = check_programs(projects, timeout=120)
    failed = [f"{r.target.name}: {r.reason}\n{r.output_tail[-1500:]}" for r in results if not r.ok]
    assert not failed, "\n\n".join(failed)
