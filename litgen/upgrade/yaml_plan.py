"""What each Trainer flag of a YAML config becomes: the plan the line-by-line rewrite carries out."""

from __future__ import annotations

import json
import re

from litgen.upgrade.flag_values import Code, NewValue, Outcome, Unknown, Value
from litgen.upgrade.flags import flag_outcome


def plan_flags(
    flags: dict[str, object], callbacks_allowed: bool, read_by_code: frozenset[str] = frozenset()
) -> dict[str, Outcome | str]:
    """What each key becomes: an Outcome to write, or the reason (str) it stays as it is.

    A key the 1.x flags now set (`accelerator: null` beside `gpus: 0`) is dropped when it only said
    "Lightning decides"; two flags that set one key to different values are both left for a person.
    """
    given = {key: flag_value(raw) for key, raw in flags.items()}
    outcomes = {
        key: o for key, value in given.items() if (o := flag_outcome(key, value, given)) is not None
    }
    plan: dict[str, Outcome | str] = {}
    setting: dict[str, tuple[str, object]] = {}  # new key -> (the flag that sets it, the value)
    for key, outcome in outcomes.items():
        if key in read_by_code and outcome.arguments != ((key, flags[key]),):
            plan[key] = (
                f"the project's code reads `{key}` from this config by name: rename it there and "
                "here together"
            )
            continue
        if (
            outcome.manual
            or (outcome.callback is not None and not callbacks_allowed)
            or outcome.to_fit is not None
            or any(isinstance(v, Code) for _, v in outcome.arguments)
        ):
            plan[key] = outcome.note or _why_not(key, outcome, [])
            continue
        clash = [k for k, v in outcome.arguments if k in setting and setting[k][1] != v]
        clash += [
            k
            for k, v in outcome.arguments
            if k in flags
            and k not in outcomes
            and k != key
            and flags[k] not in (None, "auto")
            and flags[k] != v
        ]
        if clash:
            plan[key] = _why_not(key, outcome, clash)
            continue
        plan[key] = outcome
        for k, v in outcome.arguments:
            setting.setdefault(k, (key, v))
    for new_key in setting:
        if (
            new_key in flags
            and new_key not in outcomes
            and not isinstance(plan.get(setting[new_key][0]), str)
        ):
            plan[new_key] = (
                Outcome()
            )  # `accelerator: null` (or the same value): the flag's line says it now
    return plan


def flag_value(raw: object) -> Value:
    if isinstance(raw, (type(None), bool, int, float, str, list, dict)):
        return raw
    return Unknown(repr(raw), pure=False)


def _why_not(key: str, outcome: Outcome, clash: list[str]) -> str:
    if clash:
        return f"`{key}` was removed; its replacement ({', '.join(clash)}) is already set here: merge them by hand"
    if outcome.callback is not None:
        arguments = ", ".join(f"{k}: {yaml_value(v)}" for k, v in outcome.callback.arguments)
        callback = outcome.callback.qualified
        return (
            f"`{key}` was removed: add the callback `{callback}` ({arguments}) to trainer.callbacks"
        )
    if outcome.to_fit is not None:
        return f"`{key}` was removed: give the checkpoint as `ckpt_path` of the fit command"
    return f"`{key}` was removed in 2.x"


def yaml_value(value: NewValue) -> str:
    if isinstance(
        value, dict
    ):  # a flow mapping: JSON would turn `{0: 8}`'s epoch keys into strings
        return "{" + ", ".join(f"{yaml_value(k)}: {yaml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return (
            value
            if re.fullmatch(r"[A-Za-z][\w.-]*", value) and value not in ("true", "false", "null")
            else json.dumps(value)
        )
    return json.dumps(value)
