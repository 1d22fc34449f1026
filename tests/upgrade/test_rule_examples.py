"""Every rule's own examples: `before` becomes `after` (or stays), and a second run changes nothing."""

from __future__ import annotations

import libcst as cst
import pytest

from litgen.upgrade.rule import Example, Rule, RuleContext
from litgen.upgrade.rules import RULES

CASES = [
    pytest.param(rule, example, id=f"{rule.name}-{index}")
    for rule in RULES
    for index, example in enumerate(rule.examples)
]


def _apply(rule: Rule, source: str) -> str:
    module = cst.parse_module(source)
    return rule.apply(module, RuleContext(module, "example.py")).code


@pytest.mark.parametrize(("rule", "example"), CASES)
def test_example(rule: Rule, example: Example) -> None:
    expected = example.before if example.after is None else example.after
    assert _apply(rule, example.before) == expected
    assert _apply(rule, expected) == expected, "a second run must change nothing"


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_every_rule_has_a_rewrite_and_a_no_op_example(rule: Rule) -> None:
    assert any(e.after is not None and e.after != e.before for e in rule.examples)
    assert any(e.after is None for e in rule.examples)
