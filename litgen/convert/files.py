"""`convert_path`: read a script, convert it in memory, then diff it or write it without ever clobbering a file."""

from __future__ import annotations

import difflib
import errno
import io
import os
import stat
import tempfile
import tokenize
from pathlib import Path

from litgen.convert.pipeline import convert_source
from litgen.convert.report import ConvertReport
from litgen.errors import ConversionError, UsageError


def default_output_path(input_path: Path) -> Path:
    """`train.py` -> `train_lightning.py`, beside the input."""
    return input_path.with_name(f"{input_path.stem}_lightning{input_path.suffix or '.py'}")


MAX_SCRIPT_BYTES = 10 * 1024 * 1024  # far beyond any training script; a bigger "script" is not one


def read_script_bytes(path: Path) -> bytes:
    """The bytes of a regular, readable file of sane size, or a UsageError (exit 2) saying what it is instead.

    Never opens a FIFO, device or socket: opening one could block forever.
    """
    try:
        status = path.stat()
    except FileNotFoundError:
        raise UsageError("no such file; expected a Python training script", path=path) from None
    except OSError as error:
        raise UsageError(f"cannot read: {error.strerror or error}", path=path) from None
    if stat.S_ISDIR(status.st_mode):
        raise UsageError("is a folder; expected a Python training script", path=path)
    if not stat.S_ISREG(status.st_mode):
        raise UsageError("is not a regular file (a pipe, device or socket); expected a Python training script", path=path)
    if status.st_size > MAX_SCRIPT_BYTES:
        megabytes = status.st_size / 1024 / 1024
        raise UsageError(f"is {megabytes:.0f} MB; litgen reads Python scripts up to {MAX_SCRIPT_BYTES // 1024 // 1024} MB", path=path)
    try:
        with path.open("rb") as handle:  # O_NONBLOCK is not needed: it is a regular file
            return handle.read(MAX_SCRIPT_BYTES + 1)
    except OSError as error:
        raise UsageError(f"cannot read: {error.strerror or error}", path=path) from None


def decode_script(raw: bytes, path: Path) -> tuple[str, str]:
    """Return (text, encoding); the encoding is kept so the output is written the way the input was."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        text = raw.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot decode the file as Python source: {error}", path=path) from None
    if encoding == "utf-8-sig":
        text = text.removeprefix("\ufeff")
    return text, encoding


def write_atomically(path: Path, data: bytes, *, mode: int | None = None, exclusive: bool = False) -> None:
    """Write to a temporary file in the same folder, then rename it over `path` (never half-written).

    The file gets MODE, else the mode of the file it replaces. EXCLUSIVE: fail with FileExistsError
    instead of replacing a file that appeared meanwhile (a hard link publishes it without clobbering).
    """
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is None and path.exists():
            mode = path.stat().st_mode
        if mode is not None:
            os.chmod(temp_name, mode & 0o777)
        if exclusive:
            _publish_exclusively(temp_name, path, data, mode)
        else:
            os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _publish_exclusively(temp_name: str, path: Path, data: bytes, mode: int | None) -> None:
    """Give the finished temporary file the name PATH unless PATH exists (FileExistsError)."""
    try:
        os.link(temp_name, path)
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
        # no hard links on this file system: create exclusively and write (not atomic, still never clobbering)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if mode is None else mode & 0o777)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
    os.unlink(temp_name)


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
    raw = read_script_bytes(input_path)
    text, encoding = decode_script(raw, input_path)
    conversion = convert_source(text, str(input_path))
    report = ConvertReport(input_path=input_path, conversion=conversion)
    if conversion.already_lightning:
        return report
    target = input_path if in_place else Path(output) if output is not None else default_output_path(input_path)
    if diff_only:
        report.diff_text = unified_diff(text, conversion.converted, str(input_path), str(target))
        return report
    if in_place:
        report.backup_path = _rewrite_in_place(input_path, raw, _encode(conversion.converted, encoding, input_path))
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
    try:  # exclusive: a file another run wrote meanwhile is never replaced
        write_atomically(target, _encode(conversion.converted, encoding, input_path), mode=_mode_of(input_path), exclusive=True)
    except FileExistsError:
        raise UsageError(f"{target} already exists; delete it or choose another file with -o", path=input_path) from None
    except OSError as error:
        raise UsageError(f"cannot write {target}: {error.strerror or error}", path=input_path) from None
    report.output_path = target
    return report


def _mode_of(path: Path) -> int:
    """The permission bits a file written for PATH gets: PATH's own (an executable script stays one)."""
    return path.stat().st_mode & 0o777


def _rewrite_in_place(input_path: Path, original: bytes, converted: bytes) -> Path:
    """Keep INPUT as INPUT.orig (created exclusively, so two runs cannot both back it up), then replace it.

    A run that fails or is interrupted before the replace removes its backup, and a leftover backup
    that still equals INPUT (a run killed in between) is reused, so nothing blocks a retry.
    """
    if input_path.is_symlink():
        raise UsageError(
            f"is a symbolic link; convert the file it points to ({input_path.resolve()}) in place instead",
            path=input_path,
        )
    backup = input_path.with_name(input_path.name + ".orig")
    created = False
    try:
        write_atomically(backup, original, mode=_mode_of(input_path), exclusive=True)
        created = True
    except FileExistsError:
        if not (backup.is_file() and backup.read_bytes() == original):
            raise UsageError(f"{backup} already exists; move it away before converting in place", path=input_path) from None
    except OSError as error:
        raise UsageError(f"cannot write {backup}: {error.strerror or error}", path=input_path) from None
    try:
        if input_path.read_bytes() != original:
            raise UsageError("changed while it was being converted; nothing was written, try again", path=input_path)
        write_atomically(input_path, converted)
    except BaseException:
        if created:
            backup.unlink(missing_ok=True)
        raise
    return backup
