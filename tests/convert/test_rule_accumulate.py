"""Gradient accumulation: a divided loss plus a modulo step becomes accumulate_grad_batches."""

from __future__ import annotations

import libcst as cst

from litgen.convert.rules.accumulate import accumulation_steps, divided_by
from tests.convert.helpers import converted, loop_script


def _steps(test: str) -> str | None:
    found = accumulation_steps(cst.parse_expression(test), {"i"})
    return cst.Module([]).code_for_node(found) if found is not None else None


def test_recognizer() -> None:
    assert _steps("(i + 1) % accum == 0") == "accum"
    assert _steps("(i + 1) % 4 == 0 or (i + 1) == len(loader)") == "4"
    assert _steps("i % 2") is None
    undivided = divided_by(cst.parse_expression("loss / accum"), cst.Name("accum"))
    assert undivided is not None and cst.Module([]).code_for_node(undivided) == "loss"


def _script(division: str) -> str:
    source = loop_script(
        f"        loss = ((model(x) - y) ** 2).mean(){division}\n        loss.backward()\n"
        "        if (i + 1) % 2 == 0:\n            optimizer.step()\n            optimizer.zero_grad()\n"
    )
    return source.replace("for x, y in loader:", "for i, (x, y) in enumerate(loader):")


def test_divided_loss_becomes_accumulate_grad_batches() -> None:
    out = converted(_script(" / 2"))
    assert "L.Trainer(max_epochs=2, accumulate_grad_batches=2)" in out
    assert "        loss = ((self.model(x) - y) ** 2).mean()\n" in out


def test_undivided_accumulation_stays_manual() -> None:
    out = converted(_script(""))
    assert "self.automatic_optimization = False" in out
    assert "if (batch_idx + 1) % 2 == 0:" in out and "accumulate_grad_batches" not in out
