"""Trainer flags and class paths in YAML configs (LightningCLI, Hydra), rewritten line by line.

Only the lines that change are touched, so the user's comments, order and layout stay. The flags
come from the same table as the code rule (`flags.FLAGS`). A flag that became a callback adds it to
`trainer.callbacks` in a LightningCLI config (`class_path`/`init_args`); what YAML cannot hold (an
expression, a callback outside LightningCLI, an argument of `fit`) stays with a `# litgen:` comment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from litgen.errors import ConversionError
from litgen.review import review_lines
from litgen.upgrade.engine import PlacedNote, Upgraded
from litgen.upgrade.flag_values import Callback, Outcome
from litgen.upgrade.flags import FLAGS, flag_outcome
from litgen.upgrade.moves import MOVED_NAMES
from litgen.upgrade.rule import Change, namespace
from litgen.upgrade.yaml_plan import flag_value, plan_flags, yaml_value

YAML_SUFFIXES = (".yaml", ".yml")
TRAINER_TARGETS = ("pytorch_lightning.Trainer", "lightning.pytorch.Trainer", "lightning.Trainer")
_KEY = re.compile(r"^(?P<indent>[ ]*)(?P<key>[A-Za-z_][A-Za-z0-9_]*):(?P<rest>.*)$")
_CLASS_PATH = re.compile(
    r"^(?P<head>\s*(?:-\s+)?(?:_target_|class_path)\s*:\s*['\"]?)(?P<path>pytorch_lightning(?:\.[\w.]+)?)"
)


@dataclass
class _Section:
    indent: int  # the indentation of the flags' keys
    start: (
        int  # first line index after the section header (0 for a whole-file Hydra trainer config)
    )
    end: int


def upgrade_yaml(text: str, filename: str, read_by_code: frozenset[str] = frozenset()) -> Upgraded:
    """Upgrade one YAML config's text; raises ConversionError (file:line) when it is not valid YAML.

    READ_BY_CODE: Trainer flags the project's own Python reads from a config by name
    (`cfg["trainer"]["gpus"]`): renaming them here alone would break that code, so they stay.
    """
    if "lightning" not in text and not any(f"{flag}:" in text for flag in FLAGS):
        return Upgraded(filename, text, text, (), ())
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ConversionError(
            f"not valid YAML: {getattr(error, 'problem', error)}",
            path=filename,
            line=mark.line + 1 if mark is not None else None,
        ) from None
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    changes: list[Change] = []
    notes: list[tuple[int, int, str, str]] = []  # (output line index, original line, message, kind)
    section = _trainer_section(lines, data)
    if section is not None:
        hydra = _is_hydra_trainer(data)
        flags = data if hydra else data.get("trainer", {})
        callbacks = (
            _callback_list(lines, section, flags)
            if not hydra and _is_lightning_cli(text, data)
            else None
        )
        lines, changes, notes = _rewrite_flags(
            lines, section, flags, newline, callbacks, read_by_code
        )
    else:
        notes = _inline_trainer(lines, data)
    lines = _rewrite_class_paths(lines, changes, text.splitlines(keepends=True))
    upgraded, placed = _with_notes(lines, notes, newline)
    return Upgraded(filename, text, upgraded, tuple(changes), placed)


def _is_lightning_cli(text: str, data: dict[str, object]) -> bool:
    """A LightningCLI config builds callbacks from `class_path` items; a config a script loads itself does not."""
    return "class_path:" in text or "seed_everything" in data


@dataclass(frozen=True)
class _CallbackList:
    """Where new `trainer.callbacks` items go: after the existing block list, or as a new key."""

    after: int | None  # the line index after the list's last item; None: no `callbacks:` key yet
    item_indent: int


def _callback_list(
    lines: list[str], section: _Section, flags: dict[str, object]
) -> _CallbackList | None:
    """None when callbacks cannot be added line by line (an inline list, a single mapping, a string)."""
    current = flags.get("callbacks")
    if current is None and "callbacks" not in flags:
        return _CallbackList(None, section.indent + 2)
    for index in range(section.start, section.end):
        match = _KEY.match(lines[index].rstrip("\r\n"))
        if match and match["key"] == "callbacks" and len(match["indent"]) == section.indent:
            if match["rest"].split("#")[0].strip() or not isinstance(current, list):
                return None
            stop = _value_end(lines, index, section.indent, section.end)
            items = [line for line in lines[index + 1 : stop] if line.lstrip().startswith("- ")]
            return _CallbackList(stop, len(items[0]) - len(items[0].lstrip(" "))) if items else None
    return None


def _callback_item(callback: Callback, indent: int, newline: str) -> list[str]:
    pad = " " * indent
    lines = [f"{pad}- class_path: {callback.qualified}{newline}"]
    if callback.arguments:
        lines.append(f"{pad}  init_args:{newline}")
        lines.extend(
            f"{pad}    {key}: {yaml_value(value)}{newline}" for key, value in callback.arguments
        )
    return lines


def _is_hydra_trainer(data: object) -> bool:
    return isinstance(data, dict) and data.get("_target_") in TRAINER_TARGETS


def _trainer_section(lines: list[str], data: object) -> _Section | None:
    if _is_hydra_trainer(data):
        return _Section(0, 0, len(lines))
    if not isinstance(data, dict) or not isinstance(data.get("trainer"), dict):
        return None
    for index, line in enumerate(lines):
        match = _KEY.match(line.rstrip("\r\n"))
        if (
            match
            and match["indent"] == ""
            and match["key"] == "trainer"
            and not match["rest"].strip()
        ):
            end = index + 1
            while end < len(lines) and (
                not lines[end].strip() or lines[end].startswith((" ", "#"))
            ):
                end += 1
            child = next(
                (
                    len(lines[i]) - len(lines[i].lstrip(" "))
                    for i in range(index + 1, end)
                    if lines[i].strip() and not lines[i].lstrip().startswith("#")
                ),
                2,
            )
            return _Section(child, index + 1, end)
    return None


def _value_end(lines: list[str], index: int, indent: int, end: int) -> int:
    """The line after KEY's value (a block value continues on more-indented lines)."""
    after = index + 1
    while after < end and (
        not lines[after].strip() or len(lines[after]) - len(lines[after].lstrip(" ")) > indent
    ):
        after += 1
    while after > index + 1 and not lines[after - 1].strip():
        after -= 1  # blank lines before the next key belong to the layout, not to this value
    return after


def _inline_trainer(lines: list[str], data: object) -> list[tuple[int, int, str, str]]:
    """A `trainer: {gpus: 2}` flow mapping is not rewritten: say so where it is, if it holds 1.x flags."""
    trainer = data.get("trainer") if isinstance(data, dict) else None
    if not isinstance(trainer, dict):
        return []
    given = {str(key): flag_value(raw) for key, raw in trainer.items()}
    old = ", ".join(k for k, v in given.items() if flag_outcome(k, v, given) is not None)
    if not old:
        return []
    index = next((i for i, line in enumerate(lines) if line.startswith("trainer:")), 0)
    return [
        (
            index,
            index + 1,
            f"the trainer section is written inline; litgen rewrites one key per line: upgrade {old} by hand "
            "or write the section as a block",
            "manual",
        )
    ]


def _rewrite_flags(
    lines: list[str],
    section: _Section,
    flags: dict[str, object],
    newline: str,
    callbacks: _CallbackList | None,
    read_by_code: frozenset[str],
) -> tuple[list[str], list[Change], list[tuple[int, int, str, str]]]:
    """Each 1.x key becomes its 2.x keys where it stood; a key set twice is written once.

    Callbacks the flags became join the `callbacks:` list, or start one where the first such flag stood.
    """
    plan = plan_flags(flags, callbacks is not None, read_by_code)
    added = [o.callback for o in plan.values() if isinstance(o, Outcome) and o.callback is not None]
    new_list = callbacks is not None and callbacks.after is None
    out: list[str] = lines[: section.start]
    changes: list[Change] = []
    notes: list[tuple[int, int, str, str]] = []
    written_keys: set[str] = set()
    index = section.start
    while index < section.end:
        line = lines[index]
        match = _KEY.match(line.rstrip("\r\n"))
        if not match or len(match["indent"]) != section.indent:
            out.append(line)
            index += 1
            continue
        key, stop = match["key"], _value_end(lines, index, section.indent, section.end)
        action = plan.get(key)
        if action is None:
            out.extend(lines[index:stop])
            if key == "callbacks" and added and callbacks is not None and callbacks.after == stop:
                out.extend(
                    line
                    for callback in added
                    for line in _callback_item(callback, callbacks.item_indent, newline)
                )
            written_keys.add(key)
            index = stop
            continue
        if isinstance(action, str):  # what YAML cannot do: the line stays, with a note
            notes.append((len(out), index + 1, action, "manual"))
            out.extend(lines[index:stop])
            index = stop
            continue
        outcome = action
        if outcome.note:
            notes.append((len(out), index + 1, outcome.note, "review"))
        new = [(k, v) for k, v in outcome.arguments if k not in written_keys]
        written = [f"{match['indent']}{k}: {yaml_value(v)}" for k, v in new]
        comment = _trailing_comment(match["rest"])
        if written and comment:
            written[0] += f"  {comment}"
        out.extend(f"{text}{newline}" for text in written)
        if outcome.callback is not None and new_list and callbacks is not None:
            out.append(f"{match['indent']}callbacks:{newline}")
            out.extend(
                line
                for callback in added
                for line in _callback_item(callback, callbacks.item_indent, newline)
            )
            new_list = False
        written_keys.update(k for k, _ in new)
        changes.append(Change(f"{key}: -> {outcome.describes}", "trainer", index + 1))
        index = stop
    out.extend(lines[section.end :])
    return out, changes, notes


def _trailing_comment(rest: str) -> str:
    """The `# ...` comment after a scalar value (`gpus: 2  # two cards`), or ""."""
    match = re.search(r"\s#.*$", rest)
    return (
        match.group(0).strip()
        if match and rest.count('"') % 2 == 0 and rest.count("'") % 2 == 0
        else ""
    )


def _rewrite_class_paths(lines: list[str], changes: list[Change], original: list[str]) -> list[str]:
    out = []
    for line in lines:
        match = _CLASS_PATH.match(line)
        if match:
            old = match["path"]
            new = namespace(old)
            move = MOVED_NAMES.get(new)
            if move is not None and move.new is not None:
                new = move.new
            number = original.index(line) + 1 if line in original else None
            line = match["head"] + new + line[match.end() :]
            changes.append(Change(f"{old} -> {new}", "imports", number))
        out.append(line)
    return out


def _with_notes(
    lines: list[str], notes: list[tuple[int, int, str, str]], newline: str
) -> tuple[str, tuple[PlacedNote, ...]]:
    """Comments above the lines the notes are about; a comment already there is not added twice."""
    by_line: dict[int, list[tuple[int, str, str]]] = {}
    for index, original, message, kind in notes:
        by_line.setdefault(index, []).append((original, message, kind))
    out: list[str] = []
    placed: list[PlacedNote] = []
    for index, line in enumerate(lines):
        for original, message, kind in by_line.get(index, []):
            pad = line[: len(line) - len(line.lstrip(" "))]
            wrapped = review_lines(message)
            already = out and out[-len(wrapped) :] == [f"{pad}{w}{newline}" for w in wrapped]
            if not already:
                out.extend(f"{pad}{w}{newline}" for w in wrapped)
            placed.append(PlacedNote(original, message, kind, "trainer"))
        out.append(line)
    return "".join(out), tuple(placed)
