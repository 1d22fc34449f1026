"""Test helpers for versioned templates: a tiny template with its own release history, git isolation, commits.

Shared by tests/test_template_source.py, tests/test_update.py and tests/test_add.py. A test
builds version N of the template, releases it with the same machinery as a litgen release
(litgen.template_release.add_release), changes it and releases N+1.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import litgen
from litgen.template_release import add_release
from litgen.template_source import TemplateSource

TRAIN_PY = """\
# {{ project_name }}: training entry point
import argparse

def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    return parser.parse_args()


def train(args):
    print("training", args.epochs)
    lr = 0.1
    return lr


if __name__ == "__main__":
    train(parse())
"""


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


class Releases:
    """A templates folder with one template ('demo') and its release bundle, installed as litgen's own."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = tmp_path / "templates"
        self.bundle = tmp_path / "history.bundle"
        self.cache = tmp_path / "cache"
        self.template = self.root / "demo"
        self.monkeypatch = monkeypatch
        write_files(
            self.template,
            {
                "copier.yml": "_subdirectory: project\n_templates_suffix: .jinja\n"
                "project_name:\n  type: str\n  default: demo\n",
                "DESCRIPTION": "A tiny versioned template.\n",
                "project/{{ _copier_conf.answers_file }}.jinja": "# Changes here will be overwritten by Copier\n"
                "{{ _copier_answers | to_nice_yaml -}}\n",
                "project/train.py.jinja": TRAIN_PY,
                "project/NOTES.md": "Notes that version 1.1 drops.\n",
            },
        )
        monkeypatch.setattr("litgen.catalog.templates_root", lambda: self.root)
        monkeypatch.setattr("litgen.template_source.BUNDLE_PATH", self.bundle)

    def release(self, version: str) -> TemplateSource:
        """Record the templates folder as VERSION and make it the installed litgen's version."""
        assert add_release(self.bundle, self.root, version) == "added"
        self.monkeypatch.setattr(litgen, "__version__", version)
        return self.source(version)

    def source(self, version: str) -> TemplateSource:
        return TemplateSource(self.root, self.bundle, self.cache, version)

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.template / relative
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))


def commit_all(project: Path, message: str = "work") -> None:
    subprocess.run(["git", "init", "--quiet"], cwd=project, check=True)
    subprocess.run(["git", "add", "--all"], cwd=project, check=True)
    subprocess.run(["git", "commit", "--quiet", "-m", message], cwd=project, check=True)


def new_project(releases: Releases, tmp_path: Path) -> Path:
    """Release the template as 1.0.0 and generate a committed project from it."""
    from litgen.new import create_project

    releases.release("1.0.0")
    project = create_project(tmp_path / "proj", template="demo", use_defaults=True).dest
    commit_all(project, "generated")
    return project


def isolate_git(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    """A git identity for the tests' own commits, no user or system git configuration, and a private cache."""
    for variable, value in (("NAME", "Test User"), ("EMAIL", "test@example.com")):
        monkeypatch.setenv(f"GIT_AUTHOR_{variable}", value)
        monkeypatch.setenv(f"GIT_COMMITTER_{variable}", value)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(cache.parent / "no-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("LITGEN_CACHE_DIR", str(cache))
