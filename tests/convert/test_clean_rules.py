"""The ordered call rules of the cleaner: each recognises its construct and answers; others pass."""

from __future__ import annotations

import libcst as cst
import pytest

from litgen.convert.clean import Cleaner, CleanOptions, CleanRecord
from litgen.convert.clean_rules import CALL_RULES
from tests.convert.helpers import make_ctx


def _answers(statement: str, mode: str = "auto") -> dict[str, list[str] | None]:
    ctx = make_ctx()
    cleaner = Cleaner(ctx, CleanOptions(mode, backward=lambda b, line: []), CleanRecord())  # type: ignore[arg-type]
    small = cst.parse_statement(statement).body[0]  # type: ignore[attr-defined]
    answers: dict[str, list[str] | None] = {}
    for rule in CALL_RULES:
        kept = rule(cleaner, small, small.value, 1)
        answers[rule.__name__] = (
            None if kept is None else [cst.Module([]).code_for_node(k) for k in kept]
        )
    return answers


@pytest.mark.parametrize(
    ("statement", "rule"),
    [
        ("loss.backward()", "backward"),
        ("optimizer.zero_grad()", "zero_grad"),
        ("optimizer.step()", "optimizer_step"),
        ("scaler.update()", "grad_scaler"),
        ("torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)", "gradient_clipping"),
        ("model.train()", "mode_switch"),
        ("model.to(device)", "device_move"),
        ("torch.distributed.barrier()", "distributed_plumbing"),
    ],
)
def test_exactly_its_own_rule_answers_and_drops_it_under_automatic_optimization(
    statement: str, rule: str
) -> None:
    answers = _answers(statement)
    assert [name for name, kept in answers.items() if kept is not None] == [rule]
    assert answers[rule] == []


def test_manual_optimization_keeps_the_step_and_zero_grad() -> None:
    assert _answers("optimizer.step()", "manual")["optimizer_step"] == ["optimizer.step()"]
    assert _answers("optimizer.zero_grad()", "manual")["zero_grad"] == ["optimizer.zero_grad()"]


def test_no_rule_answers_for_user_code() -> None:
    assert all(kept is None for kept in _answers("print(loss.item())").values())


def test_the_registry_order_is_explicit() -> None:
    assert [rule.__name__ for rule in CALL_RULES][:3] == ["backward", "zero_grad", "optimizer_step"]
