"""Reading and writing Trainer arguments as code: literal values, new keyword arguments, commas."""

from __future__ import annotations

import ast
import json

import libcst as cst

from litgen.convert.names import code, dotted
from litgen.upgrade.flags import Callback, Code, NewValue, Unknown, Value


def read_value(node: cst.BaseExpression) -> Value:
    """A literal's value, or Unknown(code) for an expression litgen cannot evaluate."""
    text = code(node)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return Unknown(text, pure=dotted(node) is not None)
    if isinstance(value, tuple):
        value = list(value)
    return (
        value
        if isinstance(value, (type(None), bool, int, float, str, list, dict))
        else Unknown(text, pure=False)
    )


def python(value: NewValue) -> str:
    if isinstance(value, Code):
        return value.text
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(python(item) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{python(key)}: {python(item)}" for key, item in value.items()) + "}"
        )
    return repr(value)


def argument(key: str, value: NewValue, like: cst.Arg) -> cst.Arg:
    return like.with_changes(keyword=cst.Name(key), value=cst.parse_expression(python(value)))


def callback_call(callback: Callback) -> str:
    arguments = ", ".join(f"{key}={python(value)}" for key, value in callback.arguments)
    return f"{callback.name}({arguments})"


def commas(args: list[cst.Arg], call: cst.Call) -> list[cst.Arg]:
    """Every argument but the last ends in a comma; the last keeps whatever the call's last one had."""
    trailing = call.args[-1].comma if call.args else cst.MaybeSentinel.DEFAULT
    fixed = []
    for index, arg in enumerate(args):
        if index < len(args) - 1:
            if isinstance(arg.comma, cst.MaybeSentinel):
                arg = arg.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        else:
            arg = arg.with_changes(comma=trailing)
        fixed.append(arg)
    return fixed
