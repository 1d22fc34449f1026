"""Stage 1, `analyze`: read a script once into a frozen `Analysis` that the planning stage never changes."""

from __future__ import annotations

from dataclasses import dataclass

from litgen.convert.desugar import desugar
from litgen.convert.desugar_instances import name_instances
from litgen.convert.facts import Facts, collect_facts
from litgen.convert.names import ImportTable
from litgen.convert.rules.refuse import check_refusals
from litgen.convert.script import Script, Tree, lightning_import, parse
from litgen.convert.structure import Shape, ShapeFinder
from litgen.errors import ConversionError

NOT_TRAINING = (
    "not a PyTorch training script: no `loss.backward()` call found "
    "(litgen converts loops that call backward() and step an optimizer)"
)


@dataclass(frozen=True)
class AlreadyLightning:
    """The script uses Lightning already; `package` names the import that says so."""

    package: str


@dataclass(frozen=True)
class Analysis:
    """What the script is: its parsed form, its training shape, and the facts about its names.

    Planning starts from a copy of `facts` (`Facts.derived`) when it learns more from inlined helpers,
    so an `Analysis` reads the same before and after a conversion is planned.
    """

    script: Script
    shape: Shape
    facts: Facts
    desugared: tuple[tuple[int, str, str], ...]  # (line, construct, what it became) for the report


def analyze(source: str, filename: str) -> Analysis | AlreadyLightning:
    """Parse, normalise (desugar), refuse what cannot convert, find the training shape and the facts."""
    module = parse(source, filename)
    tree = Tree.walk(module) if "backward" in source else None
    imports = ImportTable(module, tree.nodes if tree is not None else None)
    package = lightning_import(imports)
    if package is not None:
        return AlreadyLightning(package)
    found = tree.backward_calls() if tree is not None else []
    if tree is None or not found:
        raise ConversionError(NOT_TRAINING, path=filename)
    original_line: dict[int, int] | None = None  # rewritten source's line -> the user's
    named = name_instances(source, module)
    if named is not None:
        # not renumbered: the two statements would share the user's line, and analysis tells
        # statements apart by line; the split is the script's entry call, lines above it are exact
        source, module, _ = named
        original_line = {}
    desugared = desugar(source, module, imports)
    if desugared is not None:
        source, module = desugared.source, desugared.module
        earlier = original_line or {}
        original_line = {new: earlier.get(old, old) for new, old in desugared.original_line.items()}
    if original_line is not None:
        tree = Tree.walk(module)
        found = tree.backward_calls()
    script = Script.build(source, filename, module, imports, tree)
    if original_line is not None:
        script.lines.renumber(original_line)
    script._backward = found
    check_refusals(script)
    shape = ShapeFinder(script).find()
    return Analysis(
        script,
        shape,
        collect_facts(script, shape),
        desugared.notes if desugared is not None else (),
    )
