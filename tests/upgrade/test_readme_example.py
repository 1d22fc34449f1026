"""The README's `litgen upgrade` before/after example and its report are what the code produces."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent.parent / "README.md"


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index("### `litgen upgrade`") :]


def _block(kind: str) -> str:
    found = re.search(rf"```{kind}\n(.*?)```", _section(), re.DOTALL)
    assert found is not None, f"README's upgrade section has no {kind} block"
    return found.group(1)


def _sides(diff: str) -> tuple[str, str]:
    lines = [line for line in diff.splitlines() if not line.startswith("@@")]
    before = "".join(line[1:] + "\n" for line in lines if line[:1] in (" ", "-"))
    after = "".join(line[1:] + "\n" for line in lines if line[:1] in (" ", "+"))
    return before, after


def test_readme_example_upgrades_as_shown(tmp_path: Path) -> None:
    before, after = _sides(_block("diff"))
    script = tmp_path / "train.py"
    script.write_text(before, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "litgen", "upgrade", "train.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(tmp_path.parent)},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert script.read_text(encoding="utf-8") == after
    # The report goes to stdout, its summary line to stderr: the README shows them in that order.
    assert (result.stdout + result.stderr).splitlines() == _block("text").splitlines()
