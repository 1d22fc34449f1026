"""Tensors the hooks read become buffers; code after training gets the model back on the script's device."""

from __future__ import annotations

import libcst as cst

from litgen.convert.tensors import is_tensor_value
from tests.convert.helpers import converted, loop_script, make_ctx

STEP = (
    "        optimizer.zero_grad()\n        loss = (((model(x) - mean) / std - y) ** "
    "2).mean()\n        loss.backward()\n        optimizer.step()\n"
)


def test_recognizer() -> None:
    ctx = make_ctx("stats = torch.randn(3, 2)\nmean = stats.mean(0).to(device)\nn = len(loader)\n")
    for expression in (
        "torch.zeros(2)",
        "stats.mean(0)",
        "mean",
        "torch.sin(3 * mean)",
        "mean[0] * 2",
    ):
        assert is_tensor_value(ctx.imports, ctx.facts, cst.parse_expression(expression)), expression
    for expression in ("n", "torch.device('cpu')", "model", "loader", "torch.load('x.pt')"):
        assert not is_tensor_value(ctx.imports, ctx.facts, cst.parse_expression(expression)), (
            expression
        )


def test_constant_tensors_read_in_hooks_become_non_persistent_buffers() -> None:
    setup = (
        "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\nmean = "
        "torch.zeros(1).to(device)\nstd = torch.ones(1)\n"
    )
    out = converted(loop_script(STEP, setup=setup))
    assert 'self.register_buffer("mean", mean, persistent=False)' in out
    assert 'self.register_buffer("std", std, persistent=False)' in out
    assert "loss = (((self.model(x) - self.mean) / self.std - y) ** 2).mean()" in out


def test_a_tensor_the_hook_moves_itself_stays_where_the_script_keeps_it() -> None:
    setup = "device = torch.device('cpu')\ntable = torch.randn(8, 1)\n"
    step = STEP.replace(
        "(((model(x) - mean) / std - y) ** 2)", "((model(x) - table[:4].to(device)) ** 2)"
    )
    out = converted(loop_script(step, setup=setup))
    assert "register_buffer" not in out and "table[:4].to(self.device)" in out


def test_code_after_training_that_uses_the_device_gets_the_model_back_there() -> None:
    setup = "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\nmodel = model.to(device)\n"
    step = STEP.replace("(((model(x) - mean) / std - y) ** 2)", "((model(x) - y) ** 2)")
    tail = "print(model(torch.ones(1, 2).to(device)).item())\n"
    out = converted(loop_script(step, setup=setup, epoch_tail="") + tail)
    assert (
        "trainer.fit(lit_model, loader)\nmodel.to(device)\nprint(model(torch.ones(1, 2).to(device)).item())"
        in out
    )


def test_a_tensor_rebound_through_cuda_and_variable_is_still_a_tensor() -> None:
    ctx = make_ctx(
        "from torch.autograd import Variable\nbuf = torch.FloatTensor(4)\nbuf = buf.cuda()\nbuf = Variable(buf)\n"
    )
    assert is_tensor_value(ctx.imports, ctx.facts, cst.parse_expression("buf"))


def test_mode_switches_and_moves_after_training_stay() -> None:
    tail = "model.eval()\nmodel.to('cpu')\nprint(model(torch.ones(1, 2)).item())\n"
    out = converted(
        loop_script(STEP.replace("(((model(x) - mean) / std - y) ** 2)", "((model(x) - y) ** 2)"))
        + tail
    )
    assert out.endswith(
        "trainer.fit(lit_model, loader)\nmodel.eval()\nmodel.to('cpu')\nprint(model(torch.ones(1, 2)).item())\n"
    )


def test_a_model_built_on_the_device_gets_back_there_and_one_never_moved_does_not() -> None:
    step = STEP.replace("(((model(x) - mean) / std - y) ** 2)", "((model(x) - y) ** 2)")
    setup = "device = torch.device('cpu')\nmodel = nn.Linear(2, 1).to(device)\n"
    tail = "print(model(torch.ones(1, 2).to(device)).item())\n"
    assert "trainer.fit(lit_model, loader)\nmodel.to(device)\n" in converted(
        loop_script(step, setup=setup) + tail
    )
    unmoved = loop_script(step, setup="device = torch.device('cpu')\n") + tail
    assert "model.to(device)" not in converted(unmoved)
