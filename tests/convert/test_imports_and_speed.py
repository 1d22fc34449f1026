"""`litgen convert` stays light: no torch or lightning import. (Its speed is a `make bench` figure:
a timed test fails on a busy machine.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.convert.helpers import FIXTURES

PROBE = """
import sys
from pathlib import Path
from litgen.cli import main
try:
    main(["convert", sys.argv[1], "--diff"])
except SystemExit as done:
    code = done.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "lightning", "pytorch_lightning", "numpy"))
print("EXIT", code, "HEAVY", heavy)
"""


def test_convert_never_imports_torch_or_lightning() -> None:
    script = FIXTURES / "functions_main" / "input.py"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(script)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("EXIT 0 HEAVY []"), result.stdout[-500:]


def test_fixture_sources_are_small() -> None:
    for path in sorted(Path(FIXTURES).glob("*/input.py")):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 120, path
