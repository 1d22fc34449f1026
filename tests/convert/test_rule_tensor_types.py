"""CUDA tensor classes and Variable wrappers in hooks -> dtypes on self.device."""

from __future__ import annotations

import libcst as cst
import pytest

from litgen.convert.rules.tensor_types import DeviceAgnosticTypes, tensor_aliases
from tests.convert.helpers import make_ctx

EXTRA = (
    "import numpy as np\nfrom torch.autograd import Variable\nTensor = torch.cuda.FloatTensor "
    "if cuda else torch.FloatTensor\n"
)


def _rewrite(expression: str) -> str:
    ctx = make_ctx(EXTRA)
    transformer = DeviceAgnosticTypes(ctx.imports, tensor_aliases(ctx.imports, ctx.facts), "torch")
    return cst.Module([]).code_for_node(cst.parse_expression(expression).visit(transformer))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("x.type(Tensor)", "x.to(self.device, torch.float32)"),
        ("x.type(torch.cuda.LongTensor)", "x.to(self.device, torch.int64)"),
        (
            "Tensor(n, 1).fill_(1.0)",
            "torch.empty(n, 1, dtype=torch.float32, device=self.device).fill_(1.0)",
        ),
        (
            "Tensor(np.random.normal(0, 1, (n, 4)))",
            "torch.tensor(np.random.normal(0, 1, (n, 4)), dtype=torch.float32, device=self.device)",
        ),
        (
            "torch.cuda.LongTensor([1, 2])",
            "torch.tensor([1, 2], dtype=torch.int64, device=self.device)",
        ),
        ("Variable(x)", "x"),
        (
            "Variable(Tensor(n), requires_grad=False)",
            "torch.empty(n, dtype=torch.float32, device=self.device)",
        ),
        ("Variable(z, requires_grad=True)", "z.requires_grad_()"),
        # a tensor made in a hook meets the batch on the process's device
        ("torch.randn(4, 2)", "torch.randn(4, 2, device=self.device)"),
        (
            "torch.zeros(n, dtype=torch.long)",
            "torch.zeros(n, dtype=torch.long, device=self.device)",
        ),
        ("torch.arange(n,)", "torch.arange(n, device=self.device)"),
    ],
)
def test_rewrites(before: str, after: str) -> None:
    assert _rewrite(before) == after


@pytest.mark.parametrize(
    "unchanged",
    [
        "x.type(torch.float32)",
        "torch.tensor([1.0])",
        "Other(n)",
        "x.to(self.device)",
        "torch.randn(4, device=x.device)",
        "torch.randn(4, generator=g)",
        "torch.zeros(*shape)",
        "torch.randperm(n)",
        "torch.randn_like(x)",
    ],
)
def test_no_op(unchanged: str) -> None:
    assert _rewrite(unchanged) == unchanged


def test_an_alias_bound_to_different_dtypes_is_not_an_alias() -> None:
    ctx = make_ctx("T = torch.cuda.FloatTensor if cuda else torch.LongTensor\n")
    assert "T" not in tensor_aliases(ctx.imports, ctx.facts)


def test_variable_wrappers_of_the_batch_leave_no_self_assignment_behind() -> None:
    from tests.convert.helpers import converted, loop_script

    step = (
        "        x, y = Variable(x), Variable(y)\n        optimizer.zero_grad()\n"
        "        loss = ((model(x) - y) ** 2).mean()\n        loss.backward()\n        optimizer.step()\n"
    )
    out = converted("from torch.autograd import Variable\n" + loop_script(step))
    assert "x, y = x, y" not in out and "Variable(" not in out.split("class ", 1)[1]
