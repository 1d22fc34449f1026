"""`add_imports` places imports exactly where libcst's AddImportsVisitor would, without its whole-file walk."""

from __future__ import annotations

import libcst as cst
import pytest
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from litgen.upgrade.added_imports import Needed, add_imports

SOURCES = {
    "docstring": '"""Doc."""\nimport os\n\nx = 1\n',
    "strict flag": "__strict__ = True\nimport os\nx = 1\n",
    "no imports": "x = 1\n",
    "empty": "",
    "only imports": "import os\nfrom a import b\n",
    "merge into a from-import": "from lightning.pytorch.tuner import lr_find\nimport torch\n\n\nclass M:\n    pass\n",
    "comment above the code": "import os\n# the model\nclass M:\n    pass\n",
    "future import": "from __future__ import annotations\n\nimport os\n\nx = 1\n",
    "code then a later import": "import os\nx = 1\nimport sys\n",
    "nested function": "import os\n\n\ndef f():\n    import inspect\n    return inspect\n",
}
NEEDED: list[list[Needed]] = [
    [("inspect", None)],
    [("lightning.pytorch.tuner", "Tuner")],
    [
        ("torchmetrics", None),
        ("lightning.pytorch.callbacks", "StochasticWeightAveraging"),
        ("lightning.pytorch.tuner", "Tuner"),
    ],
]


def libcst_add(source: str, needed: list[Needed]) -> str:
    codemod = CodemodContext()
    for module_name, name in sorted(needed):
        AddImportsVisitor.add_needed_import(codemod, module_name, name)
    return AddImportsVisitor(codemod).transform_module(cst.parse_module(source)).code


@pytest.mark.parametrize("needed", NEEDED, ids=lambda n: "+".join(f"{m}.{o}" for m, o in n))
@pytest.mark.parametrize("case", [c for c in SOURCES if c != "nested function"])
def test_same_placement_as_add_imports_visitor(case: str, needed: list[Needed]) -> None:
    source = SOURCES[case]
    assert add_imports(cst.parse_module(source), needed).code == libcst_add(source, needed)


def test_already_imported_at_top_level_is_not_added_again() -> None:
    source = "import inspect\nfrom lightning.pytorch.tuner import *\nx = 1\n"
    module = cst.parse_module(source)
    assert add_imports(module, [("inspect", None), ("lightning.pytorch.tuner", "Tuner")]) is module


def test_an_import_inside_a_function_does_not_count_for_module_level_use() -> None:
    # AddImportsVisitor counts `import inspect` inside f() as present; code at module level would
    # fail.
    code = add_imports(cst.parse_module(SOURCES["nested function"]), [("inspect", None)]).code
    assert code.startswith("import os\nimport inspect\n")
