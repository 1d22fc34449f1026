"""Imports only the replaced training code used are removed; the user's other imports stay."""

from __future__ import annotations

import libcst as cst

from litgen.convert.imports import drop_imports_made_unused

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
