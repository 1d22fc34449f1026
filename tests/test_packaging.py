"""The wheel carries the templates, and an installed (non-editable) litgen finds them there."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.cli_helpers import python

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build = python(
        "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO), timeout=300
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (built,) = out.glob("litgen-*.whl")
    return built


def test_wheel_contains_every_template_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    template_files = [
        p for p in (REPO / "templates").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ]
    assert template_files, "templates/ is empty"
    missing = [
        p
        for p in template_files
        if f"litgen/templates/{p.relative_to(REPO / 'templates').as_posix()}" not in names
    ]
    assert missing == []
    assert "litgen/cli.py" in names


def test_installed_wheel_finds_its_templates(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    install = python(
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--target",
        str(target),
        str(wheel),
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    code = (
        "from litgen.new import templates_root, list_templates; print(templates_root()); "
        "print(len(list_templates()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target)},
    )
    root, count = result.stdout.split()
    assert Path(root) == target / "litgen" / "templates"
    assert int(count) >= 1
