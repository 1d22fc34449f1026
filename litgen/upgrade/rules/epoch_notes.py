"""What the epoch-end rule tells the user where it cannot do what 1.x did by itself."""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst
import libcst.matchers as m

from litgen.convert.names import code
from litgen.cst_walk import find
from litgen.upgrade.rules.step_outputs import STAGES

SHADOW_NOTE = (
    "`{hook}` here replaces any `{hook}` of `{base}` (defined elsewhere), which 1.x still ran after "
    "`{old}`: if `{base}` has one, end this method with `super().{hook}()`"
)
CALLS_REMOVED_NOTE = (
    "this calls `{hook}`, which 2.x removed (it is upgraded to a hook without outputs): pass the "
    "outputs another way"
)
DOUBLE_NOTE = (
    "the base class's `{step}` also appends to `self.{outputs}` (it collects for its own epoch-end "
    "hook): keep one append, or 1.x's outputs are counted twice"
)
SEVERAL_LOADERS_NOTE = (
    "with several dataloaders 1.x passed `{hook}` one list per dataloader; here the outputs of all "
    "of them are in one list, in order"
)
CROSS_CALL_NOTE = (
    "`{caller}` calls `{step}`, which appends to `self.{outputs}`: create that list in __init__ so "
    "the call works before the first {stage} epoch"
)


def calls_left(
    body: list[cst.BaseStatement],
    inherited: frozenset[str],
    note: Callable[[cst.FunctionDef, str], cst.FunctionDef],
) -> list[cst.BaseStatement]:
    """BODY with NOTE on each method that still calls a 1.x epoch-end hook (`super().test_epoch_end(
    outputs)`, `return self.validation_epoch_end(outputs)`), or whose step also appends through
    `super()` to the list a base class (INHERITED: its methods) fills too."""
    removed = {stage.epoch_end for stage in STAGES}
    for index, method in enumerate(body):
        if not isinstance(method, cst.FunctionDef):
            continue
        called = {
            call.func.attr.value
            for call in find(method, cst.Call)
            if isinstance(call.func, cst.Attribute)
            and m.matches(call.func.value, m.Name("self") | m.Call(func=m.Name("super")))
        }
        noted = method
        for name in sorted(called & removed):
            noted = note(noted, CALLS_REMOVED_NOTE.format(hook=name))
        stage = next((s for s in STAGES if s.step == method.name.value), None)
        if (
            stage is not None
            and stage.step in called
            and stage.epoch_end in inherited
            and f"self.{stage.outputs}.append" in code(method)
        ):
            noted = note(noted, DOUBLE_NOTE.format(step=stage.step, outputs=stage.outputs))
        body[index] = noted
    return body
