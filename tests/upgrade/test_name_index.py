"""The table of Lightning 2.x names: an upgraded import of a name 2.x removed is caught, not shipped."""

from __future__ import annotations

import importlib
import warnings

import pytest

from litgen.upgrade.engine import upgrade_source
from litgen.upgrade.name_index import _index, missing_in_2x


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("lightning.pytorch", "Trainer"),
        ("lightning.pytorch.callbacks", "ModelCheckpoint"),
        ("lightning.pytorch", "callbacks"),  # a submodule imported by name
        ("lightning.pytorch.strategies", None),
        ("torch.nn", "Linear"),  # outside Lightning: not this table's to say
    ],
)
def test_names_2x_has_pass(module: str, name: str | None) -> None:
    assert missing_in_2x(module, name) is None


@pytest.mark.parametrize(
    ("module", "name", "why"),
    [
        ("lightning.pytorch.loops", "Loop", "`lightning.pytorch.loops` has no `Loop`"),
        (
            "lightning.pytorch.trainer.progress",
            None,
            "no module `lightning.pytorch.trainer.progress`",
        ),
    ],
)
def test_names_2x_lacks_are_named(module: str, name: str | None, why: str) -> None:
    assert why in (missing_in_2x(module, name) or "")


def test_an_import_of_a_removed_name_gets_a_needs_you_note_at_its_line() -> None:
    source = "import torch\nfrom pytorch_lightning.loops import Loop\n"
    upgraded = upgrade_source(source, "loop.py")
    assert "from lightning.pytorch.loops import Loop" in upgraded.upgraded
    assert [(n.line, n.kind) for n in upgraded.notes] == [(2, "manual")]
    assert "has no `Loop`" in upgraded.notes[0].message


def test_two_1x_names_that_became_one_are_imported_once() -> None:
    source = "from pytorch_lightning.plugins import DDPPlugin, DDPSpawnPlugin\n"
    upgraded = upgrade_source(source, "s.py").upgraded
    assert upgraded.splitlines()[-1] == "from lightning.pytorch.strategies import DDPStrategy"


@pytest.mark.slow
def test_the_table_matches_the_installed_lightning() -> None:
    """Every name the table lists imports from the installed Lightning (rewrite the table with
    `python -m litgen.upgrade.name_index` after changing Lightning's version)."""
    warnings.simplefilter("ignore")
    wrong = []
    for module, names in _index().items():
        if names is None:
            continue
        held = vars(importlib.import_module(module))
        # a submodule is an attribute of its package only once something imported it
        wrong += [
            f"{module}.{name}"
            for name in names
            if name not in held and f"{module}.{name}" not in _index()
        ]
    assert not wrong, wrong[:10]
