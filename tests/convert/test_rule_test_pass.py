"""An evaluation block after training becomes test_step + trainer.test, counters and summary included."""

from __future__ import annotations

from tests.convert.helpers import converted, loop_script

STEP = (
    "        optimizer.zero_grad()\n        loss = ((model(x) - y) ** 2).mean()\n        "
    "loss.backward()\n        optimizer.step()\n"
)

INSIDE_NO_GRAD = """
model.eval()
with torch.no_grad():
    total = 0
    err = 0.0
    for x, y in loader:
        err += (model(x) - y).abs().sum().item()
        total += y.size(0)
    print('mean error {:.4f}'.format(err / total))
"""

OUTSIDE_NO_GRAD = """
model.eval()
total, err = 0, 0.0
with torch.no_grad():
    for x, y in loader:
        err += (model(x) - y).abs().sum().item()
        total += y.size(0)
print(f"mean error {err / total:.4f}")
"""


def _test_hooks(tail: str) -> str:
    out = converted(loop_script(STEP) + tail)
    assert "trainer.test(lit_model, loader)" in out
    return out


def test_counters_and_summary_inside_the_no_grad_block_belong_to_the_test_pass() -> None:
    out = _test_hooks(INSIDE_NO_GRAD)
    assert (
        "    def on_test_epoch_start(self):\n        self.total = 0\n        self.err = 0.0\n"
        in out
    )
    assert "self.print('mean error {:.4f}'.format(self.err / self.total))" in out
    assert "with torch.no_grad()" not in out  # Lightning tests without gradients already


def test_counters_before_the_block_and_a_summary_after_it_belong_to_the_test_pass() -> None:
    out = _test_hooks(OUTSIDE_NO_GRAD)
    assert "    def on_test_epoch_start(self):\n        self.total, self.err = 0, 0.0\n" in out
    assert 'self.print(f"mean error {self.err / self.total:.4f}")' in out


def test_a_block_that_also_does_other_work_is_left_as_written() -> None:
    tail = INSIDE_NO_GRAD.replace(
        "    total = 0\n", "    total = 0\n    torch.save(model.state_dict(), 'm.pt')\n"
    )
    out = converted(loop_script(STEP) + tail)
    assert "trainer.test(" not in out and "with torch.no_grad():\n    total = 0\n" in out
