"""litgen.copier_run renders exactly what copier.run_copy renders, compiling each distinct string once."""

from __future__ import annotations

import filecmp
import os
from pathlib import Path
from typing import Any

import copier
import jinja2
import pytest
from copier._jinja_ext import SandboxedEnvironment
from copier._main import Worker

from litgen.catalog import find_template, list_templates
from litgen.copier_run import compiling_strings_once, run_copy
from litgen.jinja_code_cache import CodeCaches, fingerprint


def _files(root: Path) -> list[Path]:
    return sorted(path.relative_to(root) for path in root.rglob("*"))


def _assert_same_files(expected: Path, actual: Path) -> None:
    files = _files(expected)
    assert files == _files(actual)
    different = [
        path
        for path in files
        if (expected / path).is_file()
        and not filecmp.cmp(expected / path, actual / path, shallow=False)
    ]
    assert not different
    modes = {path: (expected / path).stat().st_mode for path in files}
    assert modes == {path: (actual / path).stat().st_mode for path in files}


def _assert_same_render(template: str, data: dict[str, Any], tmp_path: Path) -> None:
    """litgen's run renders what copier renders: without a code cache, then with a cold and a warm one."""
    options: dict[str, Any] = {"data": data, "defaults": True, "quiet": True, "unsafe": False}
    copier.run_copy(template, tmp_path / "copier", **options)
    run_copy(template, tmp_path / "litgen", **options)
    _assert_same_files(tmp_path / "copier", tmp_path / "litgen")
    for run in ("cold", "warm"):
        run_copy(template, tmp_path / run, code_folder=tmp_path / "code", **options)
        _assert_same_files(tmp_path / "copier", tmp_path / run)


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


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The sources Jinja parses from now on: what is compiled rather than taken from a cache."""
    parsed: list[str] = []
    parse = jinja2.Environment._parse

    def counting(self: jinja2.Environment, source: str, *args: Any) -> Any:
        parsed.append(source)
        return parse(self, source, *args)

    monkeypatch.setattr(jinja2.Environment, "_parse", counting)
    return parsed


def test_a_second_run_takes_every_compiled_template_from_the_code_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = find_template("regression")
    options: dict[str, Any] = {"data": dict(info.preset), "defaults": True, "quiet": True}
    parsed = _count_parses(monkeypatch)
    run_copy(str(info.path), tmp_path / "first", code_folder=tmp_path / "code", **options)
    assert len(parsed) > 100, "strings and files are compiled the first time"
    (stored,) = (tmp_path / "code").iterdir()
    parsed.clear()
    run_copy(str(info.path), tmp_path / "second", code_folder=tmp_path / "code", **options)
    assert parsed == []
    assert list((tmp_path / "code").iterdir()) == [stored], "nothing new: the file is not rewritten"
    _assert_same_files(tmp_path / "first", tmp_path / "second")


def test_a_damaged_or_unwritable_code_folder_only_costs_the_compiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = find_template("classifier")
    options: dict[str, Any] = {"data": dict(info.preset), "defaults": True, "quiet": True}
    code = tmp_path / "code"
    run_copy(str(info.path), tmp_path / "reference", code_folder=code, **options)
    (stored,) = code.iterdir()
    stored.write_bytes(b"not marshal data")
    parsed = _count_parses(monkeypatch)
    run_copy(str(info.path), tmp_path / "after-damage", code_folder=code, **options)
    assert parsed, "a damaged file is read as empty"
    _assert_same_files(tmp_path / "reference", tmp_path / "after-damage")
    parsed.clear()
    run_copy(str(info.path), tmp_path / "repaired", code_folder=code, **options)
    assert parsed == [], "and written again whole"
    blocked = tmp_path / "a-file"
    blocked.write_text("in the way\n")
    run_copy(str(info.path), tmp_path / "unwritable", code_folder=blocked, **options)
    _assert_same_files(tmp_path / "reference", tmp_path / "unwritable")
    assert blocked.read_text() == "in the way\n"


def test_the_fingerprint_follows_what_the_compiler_reads() -> None:
    base = fingerprint(SandboxedEnvironment())
    assert base is not None and base == fingerprint(SandboxedEnvironment())
    with_filter = SandboxedEnvironment()
    with_filter.filters["shout"] = str.upper
    others = [
        with_filter,
        SandboxedEnvironment(block_start_string="[%", block_end_string="%]"),
        SandboxedEnvironment(trim_blocks=True),
        SandboxedEnvironment(extensions=["copier._jinja_ext.YieldExtension"]),
        SandboxedEnvironment(finalize=lambda value: value),
    ]
    assert len({base, *(fingerprint(env) for env in others)}) == len(others) + 1
    assert fingerprint(SandboxedEnvironment(autoescape=lambda name: True)) is None


def test_a_temporary_file_left_by_a_killed_run_is_removed_later(tmp_path: Path) -> None:
    env = SandboxedEnvironment()
    caches = CodeCaches(tmp_path)
    cache = caches.for_environment(env)
    assert cache is not None
    stale, fresh = tmp_path / ".old.marshal.1.tmp", tmp_path / ".new.marshal.2.tmp"
    for temporary in (stale, fresh):
        temporary.write_bytes(b"half")
    os.utime(stale, (0, 0))
    cache.put(("{{ x }}", None, None), env.compile("{{ x }}"))
    caches.save()
    assert not stale.exists() and fresh.exists(), "a run may still be writing the recent one"
    reread = CodeCaches(tmp_path).for_environment(env)
    assert reread is not None and reread.get(("{{ x }}", None, None)) is not None
