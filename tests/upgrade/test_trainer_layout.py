"""A Trainer call written one argument per line keeps that layout when an argument becomes two."""

from __future__ import annotations

import pytest

from litgen.upgrade.engine import upgrade_source

HEAD = "from lightning.pytorch import Trainer\n"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            "t = Trainer(\n    max_epochs=3,\n    gpus=1\n    )\n",
            't = Trainer(\n    max_epochs=3,\n    accelerator="cuda",\n    devices=1\n    )\n',
            id="last argument without a comma",
        ),
        pytest.param(
            "t = Trainer(\n    max_epochs=3,\n    gpus=1,\n)\n",
            't = Trainer(\n    max_epochs=3,\n    accelerator="cuda",\n    devices=1,\n)\n',
            id="last argument with a trailing comma",
        ),
        pytest.param(
            "t = Trainer(\n    gpus=1,\n    max_epochs=3,\n)\n",
            't = Trainer(\n    accelerator="cuda",\n    devices=1,\n    max_epochs=3,\n)\n',
            id="first argument",
        ),
        pytest.param(
            "t = Trainer(max_epochs=3, gpus=1)\n",
            't = Trainer(max_epochs=3, accelerator="cuda", devices=1)\n',
            id="one line",
        ),
    ],
)
def test_new_arguments_take_the_calls_layout(before: str, after: str) -> None:
    assert upgrade_source(HEAD + before, "t.py").upgraded == HEAD + after
