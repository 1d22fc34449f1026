"""The converter's shape: imports flow one way (foundation -> analysis -> planning -> emission), no cycles,
no module over 400 lines. A new module must be placed in a layer here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "litgen" / "convert"
MAX_LINES = 400

# Each module in the layer it belongs to; a module may import its own layer and the ones above it.
LAYERS: dict[str, list[str]] = {
    "foundation": [
        "symbols",
        "names",
        "substitute",
        "script",
        "report",
        "reserved",
        "plan",
        "rewrite",
    ],
    "analysis": [
        "analysis",
        "structure",
        "items",
        "facts",
        "context",
        "desugar",
        "desugar_instances",
        "tensors",
        "rules",
        *(
            f"rules.{path.stem}"
            for path in sorted((PACKAGE / "rules").glob("*.py"))
            if path.stem != "__init__"
        ),
    ],
    "planning": [
        "clean",
        "clean_rules",
        "binding",
        "inline",
        "instances",
        "step",
        "epoch",
        "loop_parts",
        "setup",
        "rebuild_options",
        "rebuild",
        "rebuild_scope",
        "render",
        "scale",
        "planning",
    ],
    "emission": ["emit", "assemble", "imports", "pipeline", "files", ""],
}
ORDER = list(LAYERS)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(part for part in parts if part != "__init__")


def _runtime_imports(path: Path) -> set[str]:
    """litgen.convert modules imported at run time (anywhere in the file; `if TYPE_CHECKING:` blocks excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("litgen.convert")
        ):
            found.add(node.module.removeprefix("litgen.convert").lstrip("."))
        elif isinstance(node, ast.Import):
            found |= {
                a.name.removeprefix("litgen.convert").lstrip(".")
                for a in node.names
                if a.name.startswith("litgen.convert")
            }
    return found


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
GRAPH = {name: _runtime_imports(path) & set(MODULES) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    return next(index for index, name in enumerate(ORDER) if module in LAYERS[name])


def test_every_module_has_a_layer() -> None:
    placed = [module for modules in LAYERS.values() for module in modules]
    assert sorted(placed) == sorted(set(placed)), "a module is listed twice"
    assert set(MODULES) == set(placed), (
        f"unplaced: {set(MODULES) - set(placed)}; gone: {set(placed) - set(MODULES)}"
    )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_flow_from_foundation_to_emission(module: str) -> None:
    upward = [dep for dep in GRAPH[module] if _layer(dep) > _layer(module)]
    assert not upward, (
        f"{module or '__init__'} ({ORDER[_layer(module)]}) imports later layers: {upward}"
    )


def test_the_import_graph_has_no_cycles() -> None:
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in done:
            return
        assert module not in visiting, "import cycle: " + " -> ".join([*path, module])
        visiting.add(module)
        for dep in sorted(GRAPH[module]):
            visit(dep, [*path, module])
        visiting.discard(module)
        done.add(module)

    for module in sorted(GRAPH):
        visit(module, [])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_over_400_lines(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{MODULES[module]} has {lines} lines"


@pytest.mark.parametrize("module", LAYERS["emission"])
def test_refusals_come_from_analysis_and_planning_only(module: str) -> None:
    text = MODULES[module].read_text(encoding="utf-8")
    assert ".refuse(" not in text, (
        f"{module or '__init__'} refuses while emitting: decide that in analysis or planning"
    )
