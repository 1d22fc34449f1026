"""Run several scripts in one Python process and report what each printed (used by the faithfulness test).

    python -m tests.convert.run_scripts OUT.json SCRIPT...

Each script runs as `__main__` with no arguments, in its own scratch folder; importing torch (and Lightning)
once for all of them keeps the test affordable.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

QUIET_TRAINER = {
    "PL_TRAINER_ENABLE_PROGRESS_BAR": "False",
    "PL_TRAINER_ENABLE_MODEL_SUMMARY": "False",
    "PL_TRAINER_LOGGER": "False",
    "PL_TRAINER_ENABLE_CHECKPOINTING": "False",
}


def run(script: Path) -> dict[str, object]:
    printed = io.StringIO()
    error = None
    with tempfile.TemporaryDirectory() as scratch:
        here = os.getcwd()
        os.chdir(scratch)
        sys.argv = [str(script)]
        try:
            with contextlib.redirect_stdout(printed), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                runpy.run_path(str(script), run_name="__main__")
        except SystemExit as done:
            error = None if done.code in (0, None) else f"exit {done.code}"
        except BaseException:  # noqa: BLE001 - report any failure of the script itself
            error = traceback.format_exc(limit=3)
        finally:
            os.chdir(here)
    return {"lines": printed.getvalue().splitlines(), "error": error}


def main() -> None:
    os.environ.update(QUIET_TRAINER)
    out, scripts = Path(sys.argv[1]), [Path(p).resolve() for p in sys.argv[2:]]
    results = {str(script): run(script) for script in scripts}
    out.write_text(json.dumps(results), encoding="utf-8")


if __name__ == "__main__":
    main()
