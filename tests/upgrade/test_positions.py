"""`start_lines` gives the lines libcst's PositionProvider gives, for every kind of node a rule may name."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from litgen.cst_walk import walk
from litgen.upgrade.positions import start_lines

FIXTURES = Path(__file__).parent.parent / "fixtures"
# The 1.x fixtures, and the converter's raw scripts for the variety of their statements.
SOURCES = sorted((FIXTURES / "upgrade").rglob("*.py")) + [
    p
    for p in sorted((FIXTURES / "convert").glob("*/input.py"))
    if "syntax_error" not in p.parent.name
]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_node_starts_where_position_provider_says(path: Path) -> None:
    module = cst.parse_module(path.read_text(encoding="utf-8"))
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    nodes = [node for node in walk(module) if node in expected]
    found, code = start_lines(module, nodes)
    assert code == module.code
    assert {node: found[node] for node in nodes} == {
        node: expected[node].start.line for node in nodes
    }


def test_only_the_asked_nodes_are_recorded() -> None:
    module = cst.parse_module("# a comment\n\nx = 1\nif x:\n    y = f(x)\n")
    call = next(node for node in walk(module) if isinstance(node, cst.Call))
    found, _ = start_lines(module, [call])
    assert found == {call: 5}
