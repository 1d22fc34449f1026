"""Golden conversions: each fixture converts to its golden (expected.diff); the result parses and is Lightning."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import libcst as cst
import pytest

from litgen.convert import Conversion, convert_path, convert_source
from litgen.convert.imports import names_outside_imports
from litgen.errors import ConversionError
from tests.convert.helpers import FIXTURES, expected, fixture_cases

CASES = fixture_cases()
REFUSALS = fixture_cases("expected_error.txt")


def _read(case: str, name: str) -> str:
    return (FIXTURES / case / name).read_text(encoding="utf-8")


@cache
def _converted(case: str) -> Conversion:
    return convert_source(_read(case, "input.py"), "input.py")


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 25, CASES
    assert len(REFUSALS) >= 5, REFUSALS


@pytest.mark.parametrize("case", CASES)
def test_converts_to_expected(case: str) -> None:
    conversion = _converted(case)
    assert not conversion.already_lightning
    assert conversion.converted == expected(case)


@pytest.mark.parametrize("case", CASES)
def test_expected_parses_and_input_runs_as_python(case: str) -> None:
    compile(expected(case), f"{case}/expected.py", "exec")
    compile(_read(case, "input.py"), f"{case}/input.py", "exec")


@pytest.mark.parametrize("case", CASES)
def test_report_names_where_things_went(case: str) -> None:
    conversion = _converted(case)
    assert (
        conversion.module_class is not None
        and f"class {conversion.module_class}(" in conversion.converted
    )
    targets = " ".join(entry.target for entry in conversion.mapping)
    assert "training_step" in targets and "max_epochs" in targets


@pytest.mark.parametrize("case", CASES)
def test_converting_again_is_a_no_op(case: str) -> None:
    golden = expected(case)
    again = convert_source(golden, "expected.py")
    assert again.already_lightning
    assert again.converted == golden
    assert "lightning" in again.lightning_reason


@pytest.mark.parametrize("case", CASES)
def test_input_is_never_modified(case: str, tmp_path: Path) -> None:
    script = tmp_path / "input.py"
    shutil.copyfile(FIXTURES / case / "input.py", script)
    before = script.read_bytes()
    report = convert_path(script)
    assert script.read_bytes() == before
    assert report.output_path == tmp_path / "input_lightning.py"
    assert report.output_path.read_text(encoding="utf-8") == expected(case)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.py", "input_lightning.py"]


@pytest.mark.parametrize("case", REFUSALS)
def test_refusal(case: str, tmp_path: Path) -> None:
    line_text, reason = _read(case, "expected_error.txt").rstrip("\n").split("\n", 1)
    script = tmp_path / "input.py"
    shutil.copyfile(FIXTURES / case / "input.py", script)
    before = script.read_bytes()
    with pytest.raises(ConversionError) as caught:
        convert_path(script)
    error = caught.value
    assert error.reason == reason
    assert error.line == (int(line_text) if line_text != "-" else None)
    assert "\n" not in str(error)
    assert script.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["input.py"]


@pytest.mark.parametrize("case", CASES)
def test_user_modules_and_imports_survive_byte_for_byte(case: str) -> None:
    """Model classes and imports are kept as written; an import goes only when nothing uses it any more."""
    source, golden = _read(case, "input.py"), expected(case)
    module = cst.parse_module(source)
    still_used = names_outside_imports(golden)
    for statement in module.body:
        text = module.code_for_node(statement).strip("\n")
        is_model = isinstance(statement, cst.ClassDef) and any(
            "Module" in module.code_for_node(b) for b in statement.bases
        )
        is_import = isinstance(statement, cst.SimpleStatementLine) and isinstance(
            statement.body[0], (cst.Import, cst.ImportFrom)
        )
        if is_model:
            assert text in golden, text[:80]
        elif is_import and text not in golden:
            bound = {
                (
                    a.asname.name.value
                    if a.asname
                    else cst.Module([]).code_for_node(a.name).split(".")[0]
                )  # type: ignore[union-attr]
                for a in statement.body[0].names
            }  # type: ignore[attr-defined, union-attr]
            assert not bound & still_used, (
                f"{text} was removed but {bound & still_used} is still used"
            )


@pytest.mark.parametrize("case", CASES)
def test_trainer_leaves_forced_arguments_to_litgen_check(case: str) -> None:
    module = cst.parse_module(expected(case))
    calls = [
        node
        for node in _walk(module)
        if isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "Trainer"
    ]
    assert len(calls) == 1
    keywords = {arg.keyword.value for arg in calls[0].args if arg.keyword is not None}
    assert not keywords & {"fast_dev_run", "accelerator", "devices", "logger"}


def _walk(node: cst.CSTNode) -> list[cst.CSTNode]:
    found = [node]
    for child in node.children:
        found.extend(_walk(child))
    return found
