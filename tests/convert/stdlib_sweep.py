"""Run `litgen convert` over every .py file of the standard library (run by hand; the suite samples it).

    .venv/bin/python -m tests.convert.stdlib_sweep [--limit N]

Every file must be refused with exit 1 and a one-line reason (a syntax error names its line), without a
traceback and without writing anything. Prints the counts and any file that broke the rules.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from pathlib import Path

from litgen.cli import main as litgen_main


def stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)


def convert_one(path: Path, scratch: Path) -> tuple[int, str]:
    """(exit code, stderr) of `litgen convert PATH -o SCRATCH/out.py`, run in this process."""
    output = scratch / "out.py"
    stderr = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            litgen_main(["convert", str(path), "-o", str(output)])
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
    if output.exists():
        output.unlink()
        return 99, f"wrote {output}"
    return code, stderr.getvalue()


def problems(path: Path, code: int, stderr: str) -> str | None:
    lines = stderr.strip().splitlines()
    # 1: not a training script; 2: not a readable Python source at all (undecodable bytes)
    if code != 1 and not (code == 2 and "cannot decode the file as Python source" in stderr):
        return f"exit {code}: {stderr.strip()[:300]}"
    if len(lines) != 1 or not lines[0].startswith("litgen: error: ") or "Traceback" in stderr:
        return f"not one line: {stderr.strip()[:300]}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    files = stdlib_files()
    if args.limit:
        files = files[: args.limit]
    reasons: Counter[str] = Counter()
    bad: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        for path in files:
            code, stderr = convert_one(path, Path(scratch))
            issue = problems(path, code, stderr)
            if issue:
                bad.append(f"{path}: {issue}")
            else:
                reason = stderr.strip().split(": ", 3)[-1]
                reasons[reason.split(" (")[0].split(":")[0][:70]] += 1
    elapsed = time.perf_counter() - started
    print(
        f"{len(files)} files in {elapsed:.1f} s: {len(files) - len(bad)} refused cleanly, {len(bad)} problems"
    )
    for reason, count in reasons.most_common(12):
        print(f"  {count:5d}  {reason}")
    for line in bad[:50]:
        print("PROBLEM", line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
