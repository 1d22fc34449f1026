"""`convert_path`: read a script, convert it in memory, then diff it or write it without ever clobbering a file."""

from __future__ import annotations

import difflib
import io
import os
import tempfile
import tokenize
from pathlib import Path

from litgen.convert.pipeline import convert_source
from litgen.convert.report import ConvertReport
from litgen.errors import ConversionError, UsageError


def default_output_path(input_path: Path) -> Path:
    """`train.py` -> `train_lightning.py`, beside the input."""
    return input_path.with_name(f"{input_path.stem}_lightning{input_path.suffix or '.py'}")


def read_script(path: Path) -> tuple[str, str]:
    """Return (text, encoding); the encoding is kept so the output is written the way the input was."""
    if not path.exists():
        raise UsageError("no such file; expected a Python training script", path=path)
    if path.is_dir():
        raise UsageError("is a folder; expected a Python training script", path=path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read: {error.strerror or error}", path=path) from None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        text = raw.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as error:
        raise ConversionError(f"cannot decode the file as Python source: {error}", path=path) from None
    if encoding == "utf-8-sig":
        text = text.removeprefix("\ufeff")
    return text, encoding


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, then rename it over `path` (never half-written)."""
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        if path.exists():
            os.chmod(temp_name, path.stat().st_mode & 0o7777)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _encode(text: str, encoding: str, path: Path) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as error:
        raise ConversionError(f"the converted code cannot be written as {encoding}: {error}", path=path) from None


def unified_diff(before: str, after: str, before_name: str, after_name: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), fromfile=before_name, tofile=after_name
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def convert_path(
    input: Path, *, output: Path | None = None, diff_only: bool = False, in_place: bool = False
) -> ConvertReport:
    """Convert the script at `input`; write `<stem>_lightning.py`, `output`, or `input` itself (`in_place`)."""
    input_path = Path(input)
    text, encoding = read_script(input_path)
    conversion = convert_source(text, str(input_path))
    report = ConvertReport(input_path=input_path, conversion=conversion)
    if conversion.already_lightning:
        return report
    target = input_path if in_place else Path(output) if output is not None else default_output_path(input_path)
    if diff_only:
        report.diff_text = unified_diff(text, conversion.converted, str(input_path), str(target))
        return report
    if in_place:
        backup = input_path.with_name(input_path.name + ".orig")
        if backup.exists():
            raise UsageError(f"{backup} already exists; move it away before converting in place", path=input_path)
        write_atomically(backup, input_path.read_bytes())
        write_atomically(input_path, _encode(conversion.converted, encoding, input_path))
        report.backup_path = backup
        report.output_path = input_path
        return report
    if target.resolve() == input_path.resolve():
        raise UsageError("the output would overwrite the input; use --in-place to rewrite it", path=input_path)
    if target.exists():
        raise UsageError(
            f"{target} already exists; delete it or choose another file with -o", path=input_path
        )
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {target}: folder {target.parent} does not exist", path=input_path)
    write_atomically(target, _encode(conversion.converted, encoding, input_path))
    report.output_path = target
    return report
