"""The three stages: `analyze` -> frozen `Analysis`, `plan` -> `ConversionPlan`, `emit` -> the converted text."""

from __future__ import annotations

import dataclasses

import pytest

from litgen.convert.analysis import AlreadyLightning, Analysis, analyze
from litgen.convert.assemble import emit
from litgen.convert.planning import plan
from litgen.errors import ConversionError
from tests.convert.helpers import FIXTURES, expected, fixture_cases, loop_script

PLAIN_LOOP = loop_script(
    "        optimizer.zero_grad()\n        loss = ((model(x) - y) ** 2).mean()\n"
    "        loss.backward()\n        optimizer.step()\n"
)


@pytest.mark.parametrize("case", fixture_cases())
def test_planning_leaves_the_analysis_as_it_was(case: str) -> None:
    analysis = analyze((FIXTURES / case / "input.py").read_text(encoding="utf-8"), "input.py")
    assert isinstance(analysis, Analysis)
    before = analysis.facts.derived()
    plan(analysis)
    assert analysis.facts == before


@pytest.mark.parametrize("case", fixture_cases())
def test_emission_only_builds_what_the_plan_decided(case: str) -> None:
    """Emitting twice from one plan gives the same text and adds no note: every decision is the plan's."""
    analysis = analyze((FIXTURES / case / "input.py").read_text(encoding="utf-8"), "input.py")
    assert isinstance(analysis, Analysis)
    planned = plan(analysis)
    notes = (list(planned.ctx.mapping), list(planned.ctx.warnings), list(planned.ctx.refused))
    first, second = emit(planned), emit(planned)
    assert first.converted == second.converted == expected(case)
    assert (
        list(planned.ctx.mapping),
        list(planned.ctx.warnings),
        list(planned.ctx.refused),
    ) == notes


def test_an_analysis_is_frozen() -> None:
    analysis = analyze(PLAIN_LOOP, "train.py")
    assert isinstance(analysis, Analysis)
    with pytest.raises(dataclasses.FrozenInstanceError):
        analysis.facts = analysis.facts.derived()  # type: ignore[misc]


def test_the_derived_facts_are_a_copy_planning_may_extend() -> None:
    analysis = analyze(PLAIN_LOOP, "train.py")
    assert isinstance(analysis, Analysis)
    derived = analysis.facts.derived()
    assert derived == analysis.facts
    derived.entry_locals.add("hoisted")
    derived.bindings.setdefault("optimizer", []).clear()
    assert "hoisted" not in analysis.facts.entry_locals
    assert analysis.facts.bindings["optimizer"]


def test_a_lightning_script_is_recognised_not_analysed() -> None:
    assert analyze("import lightning as L\nloss.backward()\n", "x.py") == AlreadyLightning(
        "lightning"
    )


def test_a_script_without_backward_is_not_a_training_script() -> None:
    with pytest.raises(ConversionError, match="no `loss.backward\\(\\)` call"):
        analyze("print('hello')\n", "x.py")
