"""Hook parameters: always Lightning's `batch, batch_idx`; the script's own names are bound inside."""

from __future__ import annotations

from tests.convert.helpers import converted, loop_script

BODY = (
    "        optimizer.zero_grad()\n        loss = ((model(x) - y) ** 2).mean()\n        "
    "loss.backward()\n        optimizer.step()\n"
)


def _with_loop(header: str, body: str = BODY) -> str:
    return loop_script(body).replace("    for x, y in loader:", f"    {header}")


def test_an_enumerate_index_becomes_batch_idx() -> None:
    out = converted(
        _with_loop(
            "for i, (x, y) in enumerate(loader):",
            BODY + "        if i % 2 == 0:\n            print(i)\n",
        )
    )
    assert "def training_step(self, batch, batch_idx):\n        x, y = batch\n" in out
    assert "if batch_idx % 2 == 0:\n            self.print(batch_idx)" in out


def test_an_index_named_batch_frees_the_name_for_the_batch() -> None:
    out = converted(
        _with_loop("for batch, (x, y) in enumerate(loader):", BODY + "        print(batch)\n")
    )
    assert "def training_step(self, batch, batch_idx):\n        x, y = batch\n" in out
    assert "self.print(batch_idx)" in out


def test_a_batch_bound_to_one_name_keeps_that_name() -> None:
    body = "        x, y = data\n" + BODY
    out = converted(_with_loop("for data in loader:", body))
    assert (
        "def training_step(self, batch, batch_idx):\n        data = batch\n        x, y = data\n"
        in out
    )


def test_no_op_when_the_loop_already_uses_lightning_names() -> None:
    out = converted(
        _with_loop("for batch_idx, batch in enumerate(loader):", "        x, y = batch\n" + BODY)
    )
    assert "def training_step(self, batch, batch_idx):\n        x, y = batch\n" in out


def test_a_body_that_uses_batch_idx_for_something_else_keeps_the_script_index() -> None:
    body = BODY + "        batch_idx = i * 2\n        print(batch_idx)\n"
    out = converted(_with_loop("for i, (x, y) in enumerate(loader):", body))
    assert "def training_step(self, batch, i):" in out
