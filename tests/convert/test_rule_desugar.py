"""Hand-written parameter updates that equal plain SGD become that optimizer before analysis."""

from __future__ import annotations

import libcst as cst
import pytest

from litgen.convert.desugar import desugar
from litgen.convert.names import ImportTable
from tests.convert.helpers import converted

HEAD = (
    "import torch\nimport torch.nn as nn\nmodel = nn.Linear(2, 1)\nlr = 0.1\ndata = torch.randn(8, 2)\n"
    "for epoch in range(2):\n    loss = model(data).pow(2).mean()\n    loss.backward()\n"
)


def _desugared(update: str) -> str | None:
    source = HEAD + update
    module = cst.parse_module(source)
    result = desugar(source, module, ImportTable(module))
    return result.source if result is not None else None


@pytest.mark.parametrize(
    "update",
    [
        "    with torch.no_grad():\n        for p in model.parameters():\n            p -= "
        "lr * p.grad\n        model.zero_grad()\n",
        "    with torch.no_grad():\n        for p in model.parameters():\n            "
        "p.sub_(p.grad * lr)\n    model.zero_grad()\n",
        "    with torch.no_grad():\n        for p in model.parameters():\n            "
        "p.add_(p.grad, alpha=-lr)\n    model.zero_grad()\n",
        "    for p in model.parameters():\n        p.data -= lr * p.grad.data\n    model.zero_grad()\n",
        # pytorch/examples' regression: `param.data.add_(-0.1 * param.grad)`
        "    for p in model.parameters():\n        p.data.add_(-lr * p.grad)\n    model.zero_grad()\n",
        "    with torch.no_grad():\n        for p in model.parameters():\n            "
        "p.add_(-(lr * p.grad))\n    model.zero_grad()\n",
    ],
)
def test_an_sgd_update_becomes_an_optimizer_created_before_the_loop(update: str) -> None:
    out = _desugared(update)
    assert out is not None
    assert "optimizer = torch.optim.SGD(model.parameters(), lr=lr)\nfor epoch in range(2):\n" in out
    assert "    optimizer.step()\n" in out and "p.grad" not in out and "no_grad" not in out


def test_per_parameter_zeroing_becomes_optimizer_zero_grad() -> None:
    out = _desugared(
        "    with torch.no_grad():\n        for p in model.parameters():\n            p -= "
        "lr * p.grad\n            p.grad = None\n"
    )
    assert out is not None and "    optimizer.step()\n    optimizer.zero_grad()\n" in out


@pytest.mark.parametrize(
    "update",
    [
        # the loop changes the learning rate: no single optimizer
        "    with torch.no_grad():\n        for p in model.parameters():\n            p -= "
        "lr * p.grad\n    lr *= 0.9\n",
        # not plain SGD arithmetic
        "    with torch.no_grad():\n        for p in model.parameters():\n            p -= lr * p.grad.sign()\n",
        "    with torch.no_grad():\n        for p in model.parameters():\n            p.add_(lr * p.grad)\n",
        # an update outside no_grad on the tensor itself would fail in the script too: left alone
        "    for p in model.parameters():\n        p -= lr * p.grad\n",
        # other work in the update loop
        "    with torch.no_grad():\n        for p in model.parameters():\n            p -= "
        "lr * p.grad\n            print(p)\n",
    ],
)
def test_no_op_when_the_update_is_not_exactly_sgd(update: str) -> None:
    assert _desugared(update) is None


def test_the_no_grad_block_stays_when_it_does_more_than_the_update() -> None:
    out = _desugared(
        "    with torch.no_grad():\n        for p in model.parameters():\n            p -= "
        "lr * p.grad\n        ema = loss.item()\n"
    )
    assert (
        out is not None
        and "    with torch.no_grad():\n        optimizer.step()\n        ema = loss.item()\n"
        in out
    )


def test_the_report_names_the_original_line_and_lines_stay_the_scripts() -> None:
    source = (
        HEAD + "    with torch.no_grad():\n        for p in model.parameters():\n            p -= "
        "lr * p.grad\n        model.zero_grad()\n"
    )
    from litgen.convert import convert_source

    conversion = convert_source(source, "script.py")
    mapped = {entry.construct: entry.line for entry in conversion.mapping}
    assert mapped["hand-written update of `model`'s parameters"] == 9
    assert mapped["epoch loop"] == 6 and conversion.original == source
    assert (
        "return torch.optim.SGD(self.model.parameters(), lr=self.hparams.lr)"
        in conversion.converted
    )


def test_inner_micro_batch_loop_stays_in_a_manual_training_step() -> None:
    source = (
        "import torch\nimport torch.nn as nn\nfrom torch.utils.data import DataLoader, TensorDataset\n"
        "loader = DataLoader(TensorDataset(torch.randn(8, 2), torch.randn(8, 1)), batch_size=4)\n"
        "model = nn.Linear(2, 1)\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for epoch in range(2):\n    for x, y in loader:\n        optimizer.zero_grad()\n"
        "        for mx, my in zip(x.chunk(2), y.chunk(2)):\n            ((model(mx) - my) "
        "** 2).mean().div(2).backward()\n"
        "        optimizer.step()\n"
    )
    out = converted(source)
    assert "self.automatic_optimization = False" in out
    assert (
        "        for mx, my in zip(x.chunk(2), y.chunk(2)):\n            self.manual_backward("
        in out
    )
