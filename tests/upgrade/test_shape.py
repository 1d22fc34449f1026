"""The upgrade package's shape: every rule registered once, small modules, and 2.x code left as it is."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

from litgen.upgrade.engine import upgrade_source
from litgen.upgrade.moves import MOVED_MODULES, MOVED_NAMES
from litgen.upgrade.rule import Rule
from litgen.upgrade.rules import RULES
from tests.goldens import CONVERT, cases_with_golden, expected_text

PACKAGE = Path(__file__).resolve().parents[2] / "litgen" / "upgrade"
LIGHTNING_2 = cases_with_golden(CONVERT)


def test_every_rule_module_is_registered_once() -> None:
    defined = set()
    for path in sorted((PACKAGE / "rules").glob("*.py")):
        if path.stem == "__init__":
            continue
        module = importlib.import_module(f"litgen.upgrade.rules.{path.stem}")
        defined |= {
            c
            for _, c in inspect.getmembers(module, inspect.isclass)
            if issubclass(c, Rule) and c is not Rule and c.__module__ == module.__name__
        }
    registered = [type(rule) for rule in RULES]
    assert sorted(registered, key=str) == sorted(defined, key=str)
    assert len({rule.name for rule in RULES}) == len(RULES)


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_no_module_is_over_400_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400


@pytest.mark.parametrize("case", LIGHTNING_2)
def test_lightning_2_code_is_left_as_it_is(case: str) -> None:
    """litgen's own conversions are 2.x programs: an upgrade must not touch them."""
    source = expected_text(CONVERT / case)
    upgraded = upgrade_source(source, f"{case}/expected.py")
    assert upgraded.upgraded == source and not upgraded.notes


@pytest.mark.slow
def test_every_moved_name_exists_in_the_installed_lightning() -> None:
    """The table's targets are real 2.x names (a typo there would break every upgraded file)."""
    for target in [move.new for move in MOVED_NAMES.values() if move.new is not None] + list(
        MOVED_MODULES.values()
    ):
        try:
            importlib.import_module(target)
            continue
        except ImportError:
            pass
        module, _, name = target.rpartition(".")
        assert hasattr(importlib.import_module(module), name), target
