"""Schedulers: per batch -> interval "step", per epoch -> "epoch", on a metric -> monitor, odd ones kept."""

from __future__ import annotations

import pytest

from tests.convert.helpers import converted, loop_script

STEP = (
    "        optimizer.zero_grad()\n        loss = ((model(x) - y) ** 2).mean()\n        "
    "loss.backward()\n        optimizer.step()\n"
)


def _configure(out: str) -> str:
    return out.split("def configure_optimizers(self):\n", 1)[1].split("\n\n", 1)[0]


def test_per_batch_scheduler_steps_every_optimizer_step() -> None:
    out = converted(
        loop_script(
            STEP + "        scheduler.step()\n",
            setup="scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 1.0, total_steps=4)\n",
        )
    )
    assert (
        "scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 1.0, total_steps=4)"
        in _configure(out)
    )
    assert '"lr_scheduler": {"scheduler": scheduler, "interval": "step"}' in _configure(out)
    assert "scheduler.step()" not in out


@pytest.mark.parametrize(
    ("setup", "epoch_tail", "expected"),
    [
        pytest.param(
            "sched = torch.optim.lr_scheduler.StepLR(optimizer, 1)\n",
            "    sched.step()\n",
            ['{"scheduler": sched, "interval": "epoch"}'],
            id="stepped once per epoch",
        ),
        pytest.param(
            "plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)\n",
            "    metric = loss.item()\n    plateau.step(metric)\n",
            ['"monitor": "metric"', 'self.log("metric", metric)'],
            id="a plateau scheduler logs and monitors its metric",
        ),
    ],
)
def test_a_scheduler_stepped_per_epoch_becomes_an_epoch_interval(
    setup: str, epoch_tail: str, expected: list[str]
) -> None:
    out = converted(loop_script(STEP, setup=setup, epoch_tail=epoch_tail))
    for fragment in expected:
        assert fragment in out
    assert _configure(out).count('"interval": "epoch"') == 1


def test_scheduler_stepped_before_training_is_kept_where_it_was() -> None:
    source = loop_script(STEP, setup="sched = torch.optim.lr_scheduler.StepLR(optimizer, 1)\n")
    source = source.replace(
        "for epoch in range(2):\n", "for epoch in range(2):\n    sched.step()\n"
    )
    out = converted(source)
    assert "def on_train_epoch_start(self):\n        self.sched.step()" in out
    assert _configure(out).endswith("        return self.optimizer")
    assert "the scheduler `sched` is stepped\n        #   by the script's own code" in _configure(
        out
    )


def test_two_schedulers_on_one_optimizer() -> None:
    out = converted(
        loop_script(
            STEP + "        warm.step()\n",
            setup="warm = torch.optim.lr_scheduler.LinearLR(optimizer)\nsched = "
            "torch.optim.lr_scheduler.StepLR(optimizer, 1)\n",
            epoch_tail="    sched.step()\n",
        )
    )
    assert _configure(out).endswith(
        '        return [optimizer], [{"scheduler": warm, "interval": "step"}, '
        '{"scheduler": sched, "interval": "epoch"}]'
    )
