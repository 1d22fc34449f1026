"""Golden outputs kept as unified diffs against their inputs: a golden pins only what the tool changed.

A converted or upgraded program keeps most of the user's code as written, so a golden stored as a
whole file repeats its input line for line, and an edit to an input had to be made twice. A diff
states the rewrite itself, which is what a reviewer reads, and the expected text is always
`apply_diff(input, diff)`.

`python -m tests.goldens` rewrites every golden from what convert and upgrade produce today; review
the change with `git diff tests/fixtures` before committing it.
"""

from __future__ import annotations

import difflib
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONVERT = FIXTURES / "convert"
UPGRADE = FIXTURES / "upgrade"
GOLDEN = "expected.diff"
# The 1.x project whose upgrade is pinned as one diff over its files (not inside the folder, which
# the tests copy and upgrade as it is).
PROJECT = UPGRADE / "project_1x"
PROJECT_GOLDEN = UPGRADE / "project_1x.diff"
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")


def _lines(text: str) -> list[str]:
    """TEXT's lines with their newlines; split at "\n" only (str.splitlines also splits at "\r",
    form feeds and other characters a source line may hold)."""
    return _LINE.findall(text)


class GoldenMismatch(AssertionError):
    """A golden diff no longer applies to its input: the input changed since the golden was written."""


def golden_diff(before: str, after: str, old_name: str, new_name: str) -> str:
    """The unified diff (3 lines of context) that turns `before` into `after`."""
    for text in (before, after):
        if text and not text.endswith("\n"):
            raise ValueError(f"{old_name}: a golden's texts end with a newline")
    lines = difflib.unified_diff(_lines(before), _lines(after), old_name, new_name)
    return "".join(lines)


def _sections(diff: str) -> Iterator[tuple[str, list[str]]]:
    """(old file name, its hunk lines) for each file a diff changes.

    A hunk's lines are counted from its header, so a removed line reading "-- x" is not taken for
    the next file's "--- " header.
    """
    name, body = "", []
    old_left = new_left = 0  # lines still to come in the current hunk
    for line in _lines(diff):
        if old_left or new_left:
            body.append(line)
            old_left -= line[0] in " -"
            new_left -= line[0] in " +"
        elif line.startswith("--- "):
            if name:
                yield name, body
            name, body = line[4:].rstrip("\n"), []
        elif (hunk := _HUNK.match(line)) is not None:
            body.append(line)
            old_left, new_left = (int(n) if n is not None else 1 for n in hunk.group(2, 3))
    if name:
        yield name, body


def _apply_hunks(before: str, hunks: list[str], name: str) -> str:
    old = _lines(before)
    out: list[str] = []
    position = 0
    for line in hunks:
        start = _HUNK.match(line)
        if start:
            first, count = int(start.group(1)), start.group(2)
            begin = first if count == "0" else first - 1
            out.extend(old[position:begin])
            position = begin
            continue
        kind, text = line[0], line[1:]
        if kind in " -":
            if position >= len(old) or old[position] != text:
                raise GoldenMismatch(f"{name}:{position + 1}: the golden expects {text!r}")
            position += 1
        if kind in " +":
            out.append(text)
    return "".join(out + old[position:])


def apply_diff(sources: Mapping[str, str], diff: str) -> dict[str, str]:
    """Every named text as the diff leaves it (a text the diff does not name stays as it is)."""
    patched = dict(sources)
    for name, hunks in _sections(diff):
        if name not in sources:
            raise GoldenMismatch(f"the golden changes {name}, which is not among {sorted(sources)}")
        patched[name] = _apply_hunks(sources[name], hunks, name)
    return patched


def expected_text(case: Path) -> str:
    """What the tool must make of `case/input.py`: the input with the case's golden diff applied."""
    source = (case / "input.py").read_text(encoding="utf-8")
    diff = (case / GOLDEN).read_text(encoding="utf-8")
    return apply_diff({"input.py": source}, diff)["input.py"]


def expected_file(case: Path, root: Path) -> Path:
    """`root/<case>/expected.py` written from the golden, for tests that run the expected program."""
    target = root / case.name / "expected.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(expected_text(case), encoding="utf-8")
    return target


def expected_project() -> dict[str, str]:
    """Every file of the pinned 1.x project as its upgrade must leave it, by name."""
    sources = {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(PROJECT.iterdir())
        if path.is_file()
    }
    return apply_diff(sources, PROJECT_GOLDEN.read_text(encoding="utf-8"))


def cases_with_golden(root: Path) -> list[str]:
    return sorted(path.name for path in root.iterdir() if (path / GOLDEN).exists())


def _regold_convert() -> list[Path]:
    from litgen.convert import convert_source

    written = []
    for case in sorted(CONVERT.iterdir()):
        if not (case / "input.py").exists() or (case / "expected_error.txt").exists():
            continue
        source = (case / "input.py").read_text(encoding="utf-8")
        converted = convert_source(source, "input.py").converted
        (case / GOLDEN).write_text(
            golden_diff(source, converted, "input.py", "expected.py"), encoding="utf-8"
        )
        written.append(case / GOLDEN)
    return written


def _regold_upgrade() -> list[Path]:
    from litgen.upgrade.engine import upgrade_source
    from litgen.upgrade.files import upgrade_paths

    written = []
    for name in cases_with_golden(UPGRADE):
        case = UPGRADE / name
        source = (case / "input.py").read_text(encoding="utf-8")
        upgraded = upgrade_source(source, "input.py").upgraded
        (case / GOLDEN).write_text(
            golden_diff(source, upgraded, "input.py", "expected.py"), encoding="utf-8"
        )
        written.append(case / GOLDEN)
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / PROJECT.name
        shutil.copytree(PROJECT, copy)
        upgrade_paths([copy])
        diff = "".join(
            golden_diff(
                path.read_text(encoding="utf-8"),
                (copy / path.name).read_text(encoding="utf-8"),
                path.name,
                path.name,
            )
            for path in sorted(PROJECT.iterdir())
            if path.is_file()
        )
    PROJECT_GOLDEN.write_text(diff, encoding="utf-8")
    return [*written, PROJECT_GOLDEN]


if __name__ == "__main__":
    for path in _regold_convert() + _regold_upgrade():
        print(path.relative_to(FIXTURES.parent.parent))
    sys.exit(0)
