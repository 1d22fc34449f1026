"""An evaluation pass in the epoch loop: what belongs to validation_step and the hooks around it."""

from __future__ import annotations

from tests.convert.helpers import converted, loop_script

STEP = (
    "        optimizer.zero_grad()\n        loss = ((model(x) - y) ** 2).mean()\n        "
    "loss.backward()\n        optimizer.step()\n"
)
EVALUATION = (
    "    avg_loss = loss.item()\n"
    "    model.train(False)\n"
    "    running = 0.0\n"
    "    for i, (vx, vy) in enumerate(loader):\n"
    "        running += ((model(vx) - vy) ** 2).mean().item()\n"
    "    avg = running / (i + 1)\n"
    "    print('train', avg_loss, 'valid', avg)\n"
)


def _hook(out: str, name: str) -> str:
    return out.split(f"def {name}(self", 1)[1].split("\n\n    def ", 1)[0]


def test_the_loop_index_read_after_the_loop_becomes_a_batch_count_summed_over_processes() -> None:
    out = converted(loop_script(STEP, epoch_tail=EVALUATION))
    assert "self.batches = 0" in _hook(out, "on_validation_epoch_start")
    assert "self.batches += 1" in _hook(out, "validation_step")
    end = _hook(out, "on_validation_epoch_end")
    assert "self.batches = self._sum_over_processes(self.batches)" in end
    assert "avg = self.running / self.batches" in end and "i + 1" not in out


def test_code_between_training_and_evaluation_that_the_summary_reads_runs_before_validation() -> (
    None
):
    """Lightning runs on_train_epoch_end after the validation epoch: too late for the summary."""
    out = converted(loop_script(STEP, epoch_tail=EVALUATION))
    assert "self.avg_loss = self.loss.item()" in _hook(out, "on_validation_epoch_start")
    assert (
        "avg_loss" not in _hook(out, "on_train_epoch_end") if "on_train_epoch_end" in out else True
    )


def test_a_helper_that_switches_its_model_argument_to_eval_is_followed() -> None:
    helper = "def report(net):\n    net.eval()\n    print(net(torch.ones(1, 2)).item())\n\n\n"
    body = "        model.train()\n" + STEP
    out = converted(helper + loop_script(body, epoch_tail="    report(model)\n"))
    assert _hook(out, "on_train_epoch_end").rstrip().endswith("self.model.train()")
