"""The optimization protocol: zero_grad/backward/step go away (automatic) or are kept (manual)."""

from __future__ import annotations

import libcst as cst
import pytest

from litgen.convert.rules.optim import backward_of, scaler_call, step_of, zero_grad_of
from tests.convert.helpers import converted, loop_script, make_ctx


def _call(text: str) -> cst.Call:
    node = cst.parse_expression(text)
    assert isinstance(node, cst.Call)
    return node


def test_recognizers() -> None:
    ctx = make_ctx()
    assert backward_of(ctx, _call("loss.backward()")) is not None
    scaled = backward_of(ctx, _call("scaler.scale(loss).backward()"))
    assert (
        scaled is not None and scaled.scaled and cst.Module([]).code_for_node(scaled.loss) == "loss"
    )
    assert step_of(ctx, _call("optimizer.step()")).optimizer == "optimizer"  # type: ignore[union-attr]
    assert step_of(ctx, _call("scaler.step(optimizer)")).scaled  # type: ignore[union-attr]
    assert step_of(ctx, _call("scheduler.step()")) is None
    assert zero_grad_of(ctx, _call("model.zero_grad()")) == "model"
    assert scaler_call(ctx, _call("scaler.update()")) == "update"


def test_zero_grad_after_step_and_on_the_model() -> None:
    out = converted(
        loop_script(
            "        loss = ((model(x) - y) ** 2).mean()\n        loss.backward()\n"
            "        optimizer.step()\n        model.zero_grad()\n"
        )
    )
    body = out.split("def training_step(self, batch, batch_idx):\n", 1)[1].split("\n\n", 1)[0]
    assert body == (
        "        x, y = batch\n"
        "        loss = ((self.model(x) - y) ** 2).mean()\n"
        '        self.log("train_loss", loss, prog_bar=True)\n'
        "        return loss"
    )


def test_backward_on_an_expression_gets_a_name() -> None:
    out = converted(
        loop_script(
            "        optimizer.zero_grad()\n        ((model(x) - y) ** 2).mean().backward()\n"
            "        optimizer.step()\n"
        )
    )
    assert (
        '        loss = ((self.model(x) - y) ** 2).mean()\n        self.log("train_loss", loss'
        in out
    )
    assert "        return loss\n" in out


def test_two_backward_passes_use_manual_optimization() -> None:
    out = converted(
        loop_script(
            "        optimizer.zero_grad()\n        a = model(x).mean()\n        a.backward(retain_graph=True)\n"
            "        b = model(x).pow(2).mean()\n        b.backward()\n        optimizer.step()\n"
        )
    )
    assert "self.automatic_optimization = False" in out
    assert "optimizer = self.optimizers()" in out
    assert "self.manual_backward(a, retain_graph=True)" in out and "self.manual_backward(b)" in out
    assert "optimizer.step()" in out and "optimizer.zero_grad()" in out


@pytest.mark.parametrize(
    ("call", "loss"),
    [
        ("torch.autograd.backward(out)", "out"),
        ("torch.autograd.backward([out])", "out"),
        ("torch.autograd.backward(tensors=out)", "out"),
        ("torch.autograd.backward([out, extra])", "out + extra"),
    ],
)
def test_autograd_backward_names_its_tensor_as_the_loss(call: str, loss: str) -> None:
    out = converted(
        loop_script(
            "        optimizer.zero_grad()\n        out = ((model(x) - y) ** 2).mean()\n"
            f"        extra = out * 0\n        {call}\n        optimizer.step()\n"
        )
    )
    assert f"return {loss}" in out or f"loss = {loss}" in out
    assert "torch.autograd" not in out
