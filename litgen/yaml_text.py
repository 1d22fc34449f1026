"""Text-level YAML editing for `litgen add`: keeps comments and layout (no round-trip YAML library is installed)."""

from __future__ import annotations

import re


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _find_key(lines: list[str], key: str, start: int, end: int, indent: int) -> int | None:
    pattern = re.compile(rf"^ {{{indent}}}{re.escape(key)}:(\s|$)")
    return next((i for i in range(start, end) if pattern.match(lines[i])), None)


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """The index after the last line that belongs to the key at START (lines indented deeper, or its list items)."""
    last = start
    for i in range(start + 1, len(lines)):
        if not _is_content(lines[i]):
            continue
        deeper = _indent(lines[i]) > indent
        if deeper or (_indent(lines[i]) == indent and lines[i].lstrip().startswith("- ")):
            last = i
        else:
            break
    return last + 1


def append_list_item(text: str, keys: tuple[str, str], item: list[str]) -> str | None:
    """TEXT with ITEM (YAML lines, unindented) appended to the list at KEYS (a mapping key, then a list key).

    Creates the list when it is missing, empty (``[]``) or null. Returns None when the document
    does not have that plain block layout, or when the result would not parse to exactly the old
    data plus the new item: the caller then asks the user to edit by hand.
    """
    import copy

    import yaml

    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    outer = _find_key(lines, keys[0], 0, len(lines), 0)
    if outer is None or _is_content(lines[outer].split(":", 1)[1]):
        return None
    outer_end = _block_end(lines, outer, 0)
    children = [i for i in range(outer + 1, outer_end) if _is_content(lines[i])]
    child_indent = _indent(lines[children[0]]) if children else 2
    inner = _find_key(lines, keys[1], outer + 1, outer_end, child_indent)
    if inner is None:  # no list yet: add the key after the mapping's last line
        at, item_indent = outer_end, child_indent + 2
        block = [f"{' ' * child_indent}{keys[1]}:\n"]
    else:
        value = lines[inner].split(":", 1)[1].split("#", 1)[0].strip()
        if value not in ("", "[]", "null", "~"):
            return None
        item_indent = child_indent + 2
        if value:  # `callbacks: []` becomes a block list
            lines[inner] = f"{' ' * child_indent}{keys[1]}:\n"
        at = _block_end(lines, inner, child_indent)
        first_item = next(
            (i for i in range(inner + 1, at) if lines[i].lstrip().startswith("- ")), None
        )
        if first_item is not None:
            item_indent = _indent(lines[first_item])
        block = []
    block += [f"{' ' * item_indent}{line}\n" for line in item]
    new_text = "".join([*lines[:at], *block, *lines[at:]])
    try:
        before, after = yaml.safe_load(text), yaml.safe_load(new_text)
        expected = copy.deepcopy(before)
        section = expected[keys[0]]
        section[keys[1]] = [
            *(section.get(keys[1]) or []),
            yaml.safe_load("".join(f"{line}\n" for line in item))[0],
        ]
    except (yaml.YAMLError, TypeError, AttributeError, KeyError):
        return None
    return new_text if after == expected else None
