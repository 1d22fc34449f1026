"""litgen.copier_run renders exactly what copier.run_copy renders, compiling each distinct string once."""

from __future__ import annotations

import filecmp
from pathlib import Path
from typing import Any

import copier
import jinja2
import pytest
from copier._jinja_ext import SandboxedEnvironment
from copier._main import Worker

from litgen.catalog import find_template, list_templates
from litgen.copier_run import compiling_strings_once, run_copy


def _files(root: Path) -> list[Path]:
    return sorted(path.relative_to(root) for path in root.rglob("*"))


def _assert_same_render(template: str, data: dict[str, Any], tmp_path: Path) -> None:
    options: dict[str, Any] = {"data": data, "defaults": True, "quiet": True, "unsafe": False}
    copier.run_copy(template, tmp_path / "copier", **options)
    run_copy(template, tmp_path / "litgen", **options)
    files = _files(tmp_path / "copier")
    assert files == _files(tmp_path / "litgen")
    different = [
        path
        for path in files
        if (tmp_path / "copier" / path).is_file()
        and not filecmp.cmp(tmp_path / "copier" / path, tmp_path / "litgen" / path, shallow=False)
    ]
    assert not different
    modes = {path: (tmp_path / "copier" / path).stat().st_mode for path in files}
    assert modes == {path: (tmp_path / "litgen" / path).stat().st_mode for path in files}


@pytest.mark.parametrize("task", [info.name for info in list_templates()])
def test_every_shipped_task_renders_as_copier_renders_it(task: str, tmp_path: Path) -> None:
    info = find_template(task)
    _assert_same_render(str(info.path), dict(info.preset), tmp_path)


def test_answers_other_than_the_defaults_render_as_copier_renders_them(tmp_path: Path) -> None:
    info = find_template("gan")
    answers = {**info.preset, "project_name": "Ring Thing", "logger": "tensorboard", "seed": 7}
    _assert_same_render(str(info.path), answers, tmp_path)


def test_a_yield_tag_in_a_path_is_still_honoured(tmp_path: Path) -> None:
    template = tmp_path / "template"
    template.mkdir()
    (template / "copier.yml").write_text("names:\n  type: yaml\n  default: [a, b]\n")
    # the same string is compiled for the yield path, then a plain path must not inherit its loop
    (template / "{% yield name from names %}{{ name }}{% endyield %}.txt.jinja").write_text(
        "{{ name }}\n"
    )
    (template / "plain.txt.jinja").write_text("{{ names | length }}\n")
    (template / "{{ names[0] }}.md.jinja").write_text("first\n")
    _assert_same_render(str(template), {}, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out" / "litgen").iterdir()) == [
        "a.md",
        "a.txt",
        "b.txt",
        "plain.txt",
    ]


def test_the_environment_class_is_restored_and_errors_still_raise() -> None:
    before = SandboxedEnvironment.__dict__.get("compile")
    with compiling_strings_once():
        env = SandboxedEnvironment(extensions=["copier._jinja_ext.YieldExtension"])
        first = env.from_string("{{ x }}")
        assert env.from_string("{{ x }}").render(x=2) == first.render(x=2) == "2"
        for _ in range(2):  # a broken string is not remembered: it fails every time
            with pytest.raises(jinja2.TemplateSyntaxError):
                env.from_string("{% if %}")
    assert SandboxedEnvironment.__dict__.get("compile") is before


def test_git_is_not_asked_about_the_files_of_a_new_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    original = Worker._sync_git_index_executable_bit

    def sync(self: Worker, dst_relpath: Path, src_mode: int) -> None:
        synced.append(dst_relpath)
        original(self, dst_relpath, src_mode)

    monkeypatch.setattr(Worker, "_sync_git_index_executable_bit", sync)
    info = find_template("classifier")
    options: dict[str, Any] = {"data": dict(info.preset), "defaults": True, "quiet": True}
    run_copy(str(info.path), tmp_path / "new", **options)
    assert synced == []
    assert Worker._sync_git_index_executable_bit is sync, "copier's own method is back"
    existing = tmp_path / "existing"
    existing.mkdir()
    run_copy(str(info.path), existing, **options)
    assert synced, "into a folder that existed, copier syncs the index as usual"
