"""Reading and writing Trainer arguments as code: literal values, new keyword arguments, commas."""

from __future__ import annotations

import ast
import json

import libcst as cst

from litgen.convert.names import code, dotted
from litgen.upgrade.flag_values import Callback, Code, NewValue, Unknown, Value


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
    """Every argument but the last ends in a comma; the last keeps whatever the call's last one had.

    A new argument made from the call's last one would copy its ending (nothing, or the comma and
    line break before the closing parenthesis): between arguments it takes the call's separator.
    """
    trailing = call.args[-1].comma if call.args else cst.MaybeSentinel.DEFAULT
    separator: cst.Comma | cst.MaybeSentinel = (
        call.args[-2].comma
        if len(call.args) >= 2
        else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    )
    if isinstance(separator, cst.MaybeSentinel):
        separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    # before the closing parenthesis when the last argument has no comma
    closing = call.args[-1].whitespace_after_arg if call.args else None
    fixed = []
    for index, arg in enumerate(args):
        if index < len(args) - 1:
            if isinstance(arg.comma, cst.MaybeSentinel) or arg.comma is trailing:
                arg = arg.with_changes(comma=separator)
            if closing is not None and arg.whitespace_after_arg is closing:
                arg = arg.with_changes(whitespace_after_arg=cst.SimpleWhitespace(""))
        else:
            arg = arg.with_changes(comma=trailing)
            if closing is not None:
                arg = arg.with_changes(whitespace_after_arg=closing)
        fixed.append(arg)
    return fixed


def with_callbacks(args: list[cst.Arg], callbacks: list[Callback]) -> list[cst.Arg]:
    """ARGS with CALLBACKS added to `callbacks=` (made when the call has none)."""
    made = [callback_call(c) for c in callbacks]
    for index, arg in enumerate(args):
        if arg.keyword is None or arg.keyword.value != "callbacks":
            continue
        if isinstance(arg.value, cst.List):
            elements = [*arg.value.elements]
            if elements:
                elements[-1] = elements[-1].with_changes(
                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                )
            elements += [cst.Element(cst.parse_expression(text)) for text in made]
            elements = [
                *elements[:-1],
                elements[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT),
            ]
            args[index] = arg.with_changes(value=arg.value.with_changes(elements=elements))
        else:
            value = f"[*({code(arg.value)} or []), {', '.join(made)}]"
            args[index] = arg.with_changes(value=cst.parse_expression(value))
        return args
    template = args[-1] if args else cst.Arg(cst.Name("x"))
    if len(args) >= 2:  # the new argument goes on its own line when the others do
        args[-1] = args[-1].with_changes(comma=args[-2].comma)
    return [
        *args,
        template.with_changes(
            keyword=cst.Name("callbacks"),
            value=cst.parse_expression(f"[{', '.join(made)}]"),
            equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
        ),
    ]
