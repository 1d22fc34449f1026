"""Reading and writing users' source files safely: sane inputs only, never half-written, never clobbered."""

from __future__ import annotations

import difflib
import errno
import io
import os
import stat
import tempfile
import tokenize
from pathlib import Path

from litgen.errors import UsageError

MAX_SCRIPT_BYTES = 10 * 1024 * 1024  # far beyond any source file; a bigger "script" is not one


def read_script_bytes(path: Path, expected: str = "a Python training script") -> bytes:
    """The bytes of a regular, readable file of sane size, or a UsageError (exit 2) saying what it is instead.

    Never opens a FIFO, device or socket: opening one could block forever.
    """
    try:
        status = path.stat()
    except FileNotFoundError:
        raise UsageError(f"no such file; expected {expected}", path=path) from None
    except OSError as error:
        raise UsageError(f"cannot read: {error.strerror or error}", path=path) from None
    if stat.S_ISDIR(status.st_mode):
        raise UsageError(f"is a folder; expected {expected}", path=path)
    if not stat.S_ISREG(status.st_mode):
        raise UsageError(
            f"is not a regular file (a pipe, device or socket); expected {expected}", path=path
        )
    if status.st_size > MAX_SCRIPT_BYTES:
        megabytes = status.st_size / 1024 / 1024
        raise UsageError(
            f"is {megabytes:.0f} MB; litgen reads Python scripts up to {MAX_SCRIPT_BYTES // 1024 // 1024} MB",
            path=path,
        )
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


def write_atomically(
    path: Path, data: bytes, *, mode: int | None = None, exclusive: bool = False
) -> None:
    """Write to a temporary file in the same folder, then rename it over `path` (never half-written).

    The file gets MODE, else the mode of the file it replaces. EXCLUSIVE: fail with FileExistsError
    instead of replacing a file that appeared meanwhile (a hard link publishes it without clobbering).
    """
    descriptor, temp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
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
        # no hard links on this file system: create exclusively and write (not atomic, still never
        # clobbering)
        descriptor = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if mode is None else mode & 0o777
        )
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
    os.unlink(temp_name)


def unified_diff(before: str, after: str, before_name: str, after_name: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=before_name,
        tofile=after_name,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def cannot_write(path: Path, error: OSError, input_path: Path) -> UsageError:
    """The refusal for a file litgen failed to write, reported against INPUT_PATH (the file being processed)."""
    return UsageError(f"cannot write {path}: {error.strerror or error}", path=input_path)


def mode_of(path: Path) -> int:
    """The permission bits a file written for PATH gets: PATH's own (an executable script stays one)."""
    return path.stat().st_mode & 0o777


def rewrite_keeping_backup(
    input_path: Path,
    original: bytes,
    converted: bytes,
    verb: str = "convert",
    doing: str = "converting",
) -> Path:
    """Keep INPUT as INPUT.orig (created exclusively, so two runs cannot both back it up), then replace it.

    A run that fails or is interrupted before the replace removes its backup, and a leftover backup
    that still equals INPUT (a run killed in between) is reused, so nothing blocks a retry.
    """
    if input_path.is_symlink():
        raise UsageError(
            f"is a symbolic link; {verb} the file it points to ({input_path.resolve()}) in place instead",
            path=input_path,
        )
    backup = input_path.with_name(input_path.name + ".orig")
    created = False
    try:
        write_atomically(backup, original, mode=mode_of(input_path), exclusive=True)
        created = True
    except FileExistsError:
        if not (backup.is_file() and backup.read_bytes() == original):
            raise UsageError(
                f"{backup} already exists; move it away before {doing} in place", path=input_path
            ) from None
    except OSError as error:
        raise cannot_write(backup, error, input_path) from None
    try:
        if input_path.read_bytes() != original:
            raise UsageError(
                f"changed while {doing} it; nothing was written, try again", path=input_path
            )
        write_atomically(input_path, converted)
    except BaseException:
        if created:
            backup.unlink(missing_ok=True)
        raise
    return backup
