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


def _seeded(setup: str) -> str:
    return converted("import random\nimport numpy as np\n" + loop_script(STEP, setup=setup))


def test_numpy_seeded_with_another_value_keeps_the_torch_seed_as_it_is() -> None:
    """seed_everything(0) would reseed numpy with 0: the data drawn from it would change."""
    out = _seeded("np.random.seed(42)\ntorch.manual_seed(0)\nX = np.random.randn(4)\n")
    assert "seed_everything" not in out
    assert "np.random.seed(42)\ntorch.manual_seed(0)\n" in out


def test_a_draw_between_the_same_seeds_keeps_the_torch_seed_as_it_is() -> None:
    out = _seeded("random.seed(0)\nnoise = random.random()\ntorch.manual_seed(0)\n")
    assert "seed_everything" not in out and "torch.manual_seed(0)\n" in out


def test_the_same_seed_just_before_the_torch_seed_is_covered_by_seed_everything() -> None:
    out = _seeded("np.random.seed(3)\nrandom.seed(3)\ntorch.manual_seed(3)\n")
    assert "L.seed_everything(3, workers=True)\n" in out
