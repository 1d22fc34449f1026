"""Gradient clipping: whole-model norm/value clipping becomes a Trainer setting, the rest a hook."""

from __future__ import annotations

import libcst as cst

from litgen.convert.rules.clipping import clip_of
from tests.convert.helpers import converted, loop_script, make_ctx


def _clip(text: str):  # type: ignore[no-untyped-def]
    return clip_of(make_ctx(), cst.parse_expression(text))


def test_recognizer() -> None:
    norm = _clip("torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)")
    assert norm is not None and norm.algorithm == "norm" and norm.standard
    value = _clip("torch.nn.utils.clip_grad_value_(model.parameters(), 1.0)")
    assert value is not None and value.algorithm == "value" and value.standard
    assert not _clip(
        "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, norm_type=1)"
    ).standard  # type: ignore[union-attr]
    assert not _clip("torch.nn.utils.clip_grad_norm_(model.weight, 1.0)").standard  # type: ignore[union-attr]
    assert _clip("torch.nn.functional.relu(x)") is None


def _script(clip: str) -> str:
    return loop_script(
        "        optimizer.zero_grad()\n        loss = ((model(x) - y) ** 2).mean()\n        loss.backward()\n"
        f"        {clip}\n        optimizer.step()\n"
    )


def test_norm_clipping_is_a_trainer_setting() -> None:
    out = converted(_script("torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)"))
    assert "L.Trainer(max_epochs=2, gradient_clip_val=2.0)" in out
    assert "clip_grad" not in out


def test_value_clipping_is_a_trainer_setting() -> None:
    out = converted(_script("torch.nn.utils.clip_grad_value_(model.parameters(), clip_value=0.1)"))
    assert 'gradient_clip_val=0.1, gradient_clip_algorithm="value"' in out


def test_partial_clipping_moves_to_configure_gradient_clipping() -> None:
    out = converted(_script("torch.nn.utils.clip_grad_norm_([model.weight], 1.0)"))
    assert (
        "    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):\n"
        "        torch.nn.utils.clip_grad_norm_([self.model.weight], 1.0)\n"
    ) in out
    assert "gradient_clip_val=" not in out.split("L.Trainer(", 1)[1].split(")", 1)[0]
