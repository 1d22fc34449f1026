"""Imports only the replaced training code used are removed; the user's other imports stay."""

from __future__ import annotations

import re

import libcst as cst
import pytest
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from litgen.convert.imports import drop_imports_made_unused
from tests.convert.helpers import expected, fixture_cases

ORIGINAL = '''"""Mentions tqdm in a docstring."""
import os
import sys
from tqdm import tqdm
import torch

for x in tqdm(range(3)):
    print(torch.zeros(1), sys.argv)
'''
CONVERTED = '''"""Mentions tqdm in a docstring."""
import os
import sys
from tqdm import tqdm
import torch

print(torch.zeros(1), sys.argv)
'''


def test_an_import_only_the_replaced_code_used_goes() -> None:
    out = drop_imports_made_unused(ORIGINAL, cst.parse_module(CONVERTED))
    assert "from tqdm import tqdm" not in out
    assert '"""Mentions tqdm in a docstring."""' in out and "import sys\nimport torch" in out


def test_an_import_the_user_left_unused_stays() -> None:
    assert "import os\n" in drop_imports_made_unused(ORIGINAL, cst.parse_module(CONVERTED))


def test_no_op_when_everything_is_still_used() -> None:
    assert drop_imports_made_unused(ORIGINAL, cst.parse_module(ORIGINAL)) == ORIGINAL


@pytest.mark.parametrize("case", fixture_cases())
def test_the_lightning_import_goes_where_libcst_would_put_it(case: str) -> None:
    """litgen places `import lightning as L` itself (libcst's AddImportsVisitor costs more than a whole
    conversion on a long script); this pins the placement to libcst's on every fixture."""
    converted = expected(case)
    found = re.search(r"^import lightning(?: as (\w+))?\n", converted, re.MULTILINE)
    assert found is not None
    context = CodemodContext()
    AddImportsVisitor.add_needed_import(context, "lightning", asname=found.group(1))
    without = cst.parse_module(converted[: found.start()] + converted[found.end() :])
    assert AddImportsVisitor(context).transform_module(without).code == converted
