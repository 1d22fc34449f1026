"""Seeding: torch.manual_seed becomes L.seed_everything; the seeds it covers disappear, others stay."""

from __future__ import annotations

from tests.convert.helpers import converted, loop_script

STEP = (
    "        optimizer.zero_grad()\n        loss = ((model(x) - y) ** 2).mean()\n        "
    "loss.backward()\n        optimizer.step()\n"
)


def test_manual_seed_becomes_seed_everything() -> None:
    out = converted(
        "import random\nimport numpy as np\n"
        + loop_script(
            STEP,
            setup="torch.manual_seed(args_seed)\nrandom.seed(args_seed)\nnp.random.seed(args_seed)\nrandom.seed(7)\n",
        )
    )
    assert "L.seed_everything(args_seed, workers=True)\n" in out
    assert "random.seed(args_seed)" not in out and "np.random.seed(args_seed)" not in out
    assert "random.seed(7)\n" in out


def test_no_seed_no_seed_everything() -> None:
    assert "seed_everything" not in converted(loop_script(STEP))
