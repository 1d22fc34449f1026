"""A 1.x strategy object in `plugins=` (`DDPPlugin(...)`) becomes 2.x's `strategy=` object."""

from __future__ import annotations

import pytest

from litgen.upgrade.flag_values import Unknown
from litgen.upgrade.strategy_plugins import holds_strategy, same_family, strategy_object


@pytest.mark.parametrize(
    ("plugins", "strategy"),
    [
        ("DDPStrategy(find_unused_parameters=False)", "DDPStrategy(find_unused_parameters=False)"),
        ("[DDPPlugin()]", "DDPPlugin()"),
        ("(pl.plugins.DeepSpeedPlugin(stage=2),)", "pl.plugins.DeepSpeedPlugin(stage=2)"),
        ("[MyPrecision(), DDPStrategy()]", None),
        ("[MyClusterEnvironment()]", None),
        ("plugins_from_config(cfg)", None),
    ],
)
def test_a_strategy_object_alone_is_recognised(plugins: str, strategy: str | None) -> None:
    assert strategy_object(Unknown(plugins, pure=False)) == strategy


def test_a_strategy_among_other_plugins_is_still_seen() -> None:
    assert holds_strategy(Unknown("[MyPrecision(), DDPStrategy()]", pure=False))
    assert not holds_strategy(Unknown("[MyPrecision()]", pure=False))
    assert not holds_strategy("ddp")


def test_a_1x_strategy_spelling_matches_its_class_family() -> None:
    assert same_family("DDPStrategy(x=1)", "ddp") and same_family("DDPPlugin()", "ddp_spawn")
    assert same_family("DeepSpeedStrategy(stage=2)", "deepspeed")
    assert not same_family("DeepSpeedStrategy(stage=2)", "ddp")
