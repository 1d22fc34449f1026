"""A 1.x training-type plugin in `plugins=` (`DDPPlugin(...)`) is a 2.x `strategy=` object.

1.x took a strategy object among its plugins; 2.x's `plugins=` takes only precision, checkpoint-IO,
cluster-environment and layer-sync plugins, and raises on a strategy there.
"""

from __future__ import annotations

import re

from litgen.upgrade.flag_values import Code, Outcome, Unknown, Value

# a strategy class by 2.x name, or by the 1.x name the imports rule has not renamed (`pl.plugins.X`)
_STRATEGY = re.compile(r"(?:^|\.)(\w*(?:Strategy|DDPPlugin|DDPSpawnPlugin|DeepSpeedPlugin))$")
# the 1.x strategy spelling (accelerator= or distributed_backend=) each class family stands for
_FAMILIES = (("DeepSpeed", "deepspeed"), ("FSDP", "fsdp"), ("FullySharded", "fsdp"), ("DDP", "ddp"))


def _sole_call(text: str) -> str | None:
    """TEXT as one call `f(...)`, also as the only item of a list or tuple; None otherwise."""
    text = text.strip()
    if text[:1] in "[(" and text[-1:] in "])" and not text.endswith("))"):
        text = text[1:-1].strip().rstrip(",").strip()
    opening = text.find("(")
    if opening <= 0 or not text.endswith(")"):
        return None
    depth = 0
    for index, character in enumerate(text[opening:], opening):
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth == 0 and index != len(text) - 1:
            return None  # `a(), b()`: several plugins
    return text


def strategy_object(value: Value | None) -> str | None:
    """The strategy object a 1.x `plugins=` value holds alone (its code); None when it holds none."""
    if not isinstance(value, Unknown):
        return None
    call = _sole_call(value.code)
    if call is None or not _STRATEGY.search(call[: call.index("(")].strip()):
        return None
    return call


def same_family(strategy: str, spelling: str) -> bool:
    """Whether a 1.x strategy spelling ("ddp", "ddp_spawn", "deepspeed") names the object's strategy."""
    name = strategy[: strategy.index("(")]
    family = next((short for marker, short in _FAMILIES if marker in name), None)
    return family is not None and spelling.startswith(family)


def plugins_outcome(value: Value, strategy: str | None) -> Outcome | None:
    """`plugins=` with a strategy object alone -> `strategy=`; among other plugins -> a note."""
    if strategy is not None:
        return Outcome((("strategy", Code(strategy)),))
    if holds_strategy(value):
        return Outcome(
            note="a strategy among `plugins=` goes to `strategy=` in 2.x, which refuses it as a plugin",
            manual=True,
        )
    return None


def holds_strategy(value: Value | None) -> bool:
    """Whether a `plugins=` value builds a strategy object, alone or among other plugins."""
    return isinstance(value, Unknown) and any(
        _STRATEGY.search(name) for name in re.findall(r"[\w.]+(?=\()", value.code)
    )
