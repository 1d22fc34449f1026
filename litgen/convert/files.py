"""`convert_path`: read a script, convert it in memory, then diff it or write it without ever clobbering a file."""

from __future__ import annotations

from pathlib import Path

from litgen.convert.pipeline import convert_source
from litgen.convert.report import ConvertReport
from litgen.errors import ConversionError, UsageError
from litgen.source_files import (
    cannot_write,
    decode_script,
    mode_of,
    read_script_bytes,
    rewrite_keeping_backup,
    unified_diff,
    write_atomically,
)


def default_output_path(input_path: Path) -> Path:
    """`train.py` -> `train_lightning.py`, beside the input."""
    return input_path.with_name(f"{input_path.stem}_lightning{input_path.suffix or '.py'}")


def _encode(text: str, encoding: str, path: Path) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as error:
        raise ConversionError(
            f"the converted code cannot be written as {encoding}: {error}", path=path
        ) from None


def _taken(target: Path, input_path: Path) -> UsageError:
    return UsageError(
        f"{target} already exists; delete it or choose another file with -o", path=input_path
    )


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
    target = (
        input_path
        if in_place
        else Path(output)
        if output is not None
        else default_output_path(input_path)
    )
    if diff_only:
        report.diff_text = unified_diff(text, conversion.converted, str(input_path), str(target))
        return report
    if in_place:
        report.backup_path = rewrite_keeping_backup(
            input_path, raw, _encode(conversion.converted, encoding, input_path)
        )
        report.output_path = input_path
        return report
    if target.resolve() == input_path.resolve():
        raise UsageError(
            "the output would overwrite the input; use --in-place to rewrite it", path=input_path
        )
    if target.exists():
        raise _taken(target, input_path)
    if not target.parent.is_dir():
        raise UsageError(
            f"cannot write {target}: folder {target.parent} does not exist", path=input_path
        )
    try:  # exclusive: a file another run wrote meanwhile is never replaced
        write_atomically(
            target,
            _encode(conversion.converted, encoding, input_path),
            mode=mode_of(input_path),
            exclusive=True,
        )
    except FileExistsError:
        raise _taken(target, input_path) from None
    except OSError as error:
        raise cannot_write(target, error, input_path) from None
    report.output_path = target
    return report
