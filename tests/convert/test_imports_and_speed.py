"""`litgen convert` stays light: no torch or lightning import, and a 100-line script converts fast."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from litgen.convert import convert_source
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


def test_a_hundred_line_script_converts_well_under_a_second() -> None:
    source = (FIXTURES / "functions_main" / "input.py").read_text(encoding="utf-8")
    assert 85 <= len(source.splitlines()) <= 115
    convert_source(source, "warmup.py")  # first call pays for libcst's lazy imports
    started = time.process_time()  # CPU time: other work on a shared machine does not count
    for _ in range(3):
        convert_source(source, "train.py")
    per_script = (time.process_time() - started) / 3
    assert per_script < 0.25, f"{per_script:.3f} s of CPU per conversion"


def test_fixture_sources_are_small() -> None:
    for path in sorted(Path(FIXTURES).glob("*/input.py")):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 120, path
