"""Checks shared by the per-template test modules (test_template_<name>.py): rendering, clean text, slow runs."""

from __future__ import annotations

import ast
import re
import resource
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from litgen.new import create_project

if TYPE_CHECKING:
    from litgen.check import CheckResult

# litgen check forces these Trainer flags through PL_TRAINER_*; a literal keyword would win over it.
FORCED_TRAINER_FLAGS = {"fast_dev_run", "accelerator", "devices", "logger"}


def questions(template_dir: Path) -> dict[str, dict]:
    """The template's questions as copier.yml declares them (settings such as _envops left out)."""
    config = yaml.safe_load((template_dir / "copier.yml").read_text())
    return {key: value for key, value in config.items() if not key.startswith("_")}


def choices(question: dict) -> list[str]:
    """Every answer a question allows, as strings; empty for free-form questions."""
    listed = question.get("choices")
    if listed is None:
        return ["true", "false"] if question["type"] == "bool" else []
    return [str(value) for value in (listed.values() if isinstance(listed, dict) else listed)]


def render_projects(
    tmp_path_factory: pytest.TempPathFactory, template: str, projects: Mapping[str, dict[str, str]]
) -> dict[str, tuple[Path, dict]]:
    """Render every project of a covering set once: name -> (folder, the answers copier recorded)."""
    root = tmp_path_factory.mktemp(template)
    rendered = {}
    for name, answers in projects.items():
        dest = create_project(
            root / name, template=template, answers=answers, use_defaults=True
        ).dest
        rendered[name] = dest, yaml.safe_load((dest / ".copier-answers.yml").read_text())
    return rendered


def assert_rendered_text_is_clean(dest: Path) -> None:
    """No Jinja leftovers: no trailing whitespace, no blank-line runs, one final newline, docstrings, valid code."""
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        text = path.read_text()
        where = path.relative_to(dest)
        assert "{{" not in text and "{%" not in text, f"{where}: unrendered Jinja"
        assert text.endswith("\n") and not text.endswith("\n\n"), (
            f"{where}: must end with exactly one newline"
        )
        assert not re.search(r"[ \t]+$", text, re.MULTILINE), f"{where}: trailing whitespace"
        # PEP 8 puts two blank lines between top-level definitions; nothing else needs more than one.
        allowed_blank_run = 2 if path.suffix == ".py" else 1
        assert "\n" * (allowed_blank_run + 2) not in text, f"{where}: a run of blank lines"
        if path.suffix == ".py":
            tree = ast.parse(text, filename=str(where))
            docstring = ast.get_docstring(tree)
            assert docstring and "\n" not in docstring, (
                f"{where}: needs a one-line module docstring"
            )
            assert_no_forced_trainer_flags(tree, where)


def assert_no_forced_trainer_flags(tree: ast.Module, where: Path) -> None:
    """litgen check forces these flags; a literal keyword in Trainer(...) would override it."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Trainer"
        ):
            forced = {kw.arg for kw in node.keywords} & FORCED_TRAINER_FLAGS
            assert not forced, f"{where}:{node.lineno}: Trainer() hard-codes {sorted(forced)}"


def assert_package_name_refuses_every_stdlib_module(
    template_dir: Path, default_package: str
) -> None:
    """The validator's list is checked against this interpreter's sys.stdlib_module_names."""
    from jinja2.sandbox import SandboxedEnvironment

    validator = questions(template_dir)["package_name"]["validator"]
    # copier's environment for this template: its _envops plus the filters copier always loads
    env = SandboxedEnvironment(
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.from_string(validator)
    public = sorted(
        name for name in sys.stdlib_module_names if name.islower() and not name.startswith("_")
    )
    accepted = [name for name in public if not template.render(package_name=name).strip()]
    assert accepted == [], "add these to the stdlib list of the package_name validator"
    assert template.render(package_name=default_package).strip() == ""


def assert_project_test_suite_passes(dest: Path, env: Mapping[str, str] | None = None) -> None:
    """Run the rendered project's own pytest suite; every test must pass and none may be skipped."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=dest,
        env=env,  # None: inherit this process's environment
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary, summary


def assert_litgen_check_passes(dests: list[Path]) -> list[CheckResult]:
    """litgen check on every folder; returns the results for template-specific checks."""
    from litgen.check import check_programs

    # One call: the probe imports Lightning once and forks a child per project.
    results = check_programs(dests, timeout=120)
    failed = [f"{r.target.name}: {r.reason}\n{r.output_tail[-1500:]}" for r in results if not r.ok]
    assert not failed, "\n\n".join(failed)
    return results


def children_cpu_seconds() -> float:
    """CPU time used so far by finished child processes (user plus system)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
