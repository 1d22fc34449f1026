"""`upgrade_paths` on awkward input: files that do not parse or decode, encodings, links, nesting;
nothing is left half-written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from litgen.errors import ConversionError, UsageError
from litgen.upgrade.files import upgrade_paths
from tests.upgrade.files_helpers import (
    NEW,
    NEW_YAML,
    OLD,
    OLD_YAML,
    write,
)


def test_a_file_that_does_not_parse_is_reported_and_the_others_still_upgraded(
    tmp_path: Path,
) -> None:
    good = write(tmp_path / "a_good.py", OLD)
    broken = write(
        tmp_path / "b_broken.py", "import pytorch_lightning as pl\n\ndef oops(:\n    pass\n"
    )
    config = write(tmp_path / "c.yaml", OLD_YAML)
    report = upgrade_paths([tmp_path])
    assert report.failed
    results = {r.path.name: r for r in report.files}
    error = results["b_broken.py"].error
    assert isinstance(error, ConversionError) and error.exit_code == 1
    assert error.line is not None
    assert str(error).startswith(f"{broken}:{error.line}: not valid Python")
    assert broken.read_text(encoding="utf-8").startswith(
        "import pytorch_lightning"
    )  # left as it was
    assert not (tmp_path / "b_broken.py.orig").exists()
    assert good.read_text(encoding="utf-8") == NEW and results["a_good.py"].written
    assert config.read_text(encoding="utf-8") == NEW_YAML and results["c.yaml"].written


def test_invalid_yaml_among_good_files_is_reported_with_its_line(tmp_path: Path) -> None:
    write(tmp_path / "bad.yaml", "trainer:\n  gpus: [1,\n  x: : :\n")
    good = write(tmp_path / "good.py", OLD)
    report = upgrade_paths([tmp_path])
    bad = report.files[0]
    assert isinstance(bad.error, ConversionError) and bad.error.line == 3
    assert good.read_text(encoding="utf-8") == NEW
    assert report.failed


def test_a_single_file_that_does_not_parse_is_reported_not_raised(tmp_path: Path) -> None:
    """A parse error is a conversion problem (exit 1, listed per file), not a usage error."""
    broken = write(tmp_path / "broken.py", "import pytorch_lightning as pl\nx = (\n")
    report = upgrade_paths([broken])
    [result] = report.files
    assert isinstance(result.error, ConversionError) and result.error.line is not None
    assert report.failed and not result.written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.py"]


def test_a_single_undecodable_file_is_a_usage_error_but_in_a_folder_it_is_reported(
    tmp_path: Path,
) -> None:
    undecodable = tmp_path / "latin.py"
    undecodable.write_bytes(
        b"import pytorch_lightning as pl\nname = '\xe9'\n"
    )  # not UTF-8, no coding cookie
    good = write(tmp_path / "train.py", OLD)
    with pytest.raises(UsageError, match="cannot decode"):
        upgrade_paths([undecodable])
    report = upgrade_paths([tmp_path])
    results = {r.path.name: r for r in report.files}
    assert isinstance(results["latin.py"].error, UsageError)
    assert report.failed
    assert good.read_text(encoding="utf-8") == NEW


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    for index in range(3):
        write(tmp_path / f"train{index}.py", OLD)
    write(tmp_path / "trainer.yaml", OLD_YAML)
    upgrade_paths([tmp_path])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")]
    assert names == sorted(
        [f"train{i}.py" for i in range(3)]
        + [f"train{i}.py.orig" for i in range(3)]
        + ["trainer.yaml", "trainer.yaml.orig"]
    )


def test_an_executable_script_stays_executable_and_so_does_its_backup(tmp_path: Path) -> None:
    script = write(tmp_path / "train.py", "#!/usr/bin/env python\n" + OLD)
    script.chmod(0o755)
    upgrade_paths([script])
    assert script.read_text(encoding="utf-8") == "#!/usr/bin/env python\n" + NEW
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "train.py.orig").stat().st_mode) == 0o755
    assert os.access(script, os.X_OK)


def test_the_source_encoding_is_kept(tmp_path: Path) -> None:
    header = "# -*- coding: latin-1 -*-\n"
    script = tmp_path / "train.py"
    original = (header + OLD + "author = 'Jos\u00e9'\n").encode("latin-1")
    script.write_bytes(original)
    upgrade_paths([script])
    assert script.read_bytes() == (header + NEW + "author = 'Jos\u00e9'\n").encode("latin-1")
    assert (tmp_path / "train.py.orig").read_bytes() == original


def test_a_utf8_bom_and_crlf_line_endings_are_kept(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_bytes(b"\xef\xbb\xbf" + OLD.replace("\n", "\r\n").encode("utf-8"))
    upgrade_paths([script])
    assert script.read_bytes() == b"\xef\xbb\xbf" + NEW.replace("\n", "\r\n").encode("utf-8")


# --- known bugs
# ------------------------------------------------------------------------------------------


def test_a_syntax_error_is_reported_at_its_own_line(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.py", "import pytorch_lightning as pl\nb = = 2\nc = 3\n")
    [result] = upgrade_paths([broken]).files
    assert result.error is not None
    assert result.error.line == 2


def test_a_deeply_nested_but_valid_file_is_reported_not_crashing_the_run(tmp_path: Path) -> None:
    good = write(tmp_path / "a_train.py", OLD)
    text = (
        "import pytorch_lightning as pl\nHELP = (\n"
        + "".join(f'    "line {i}\\n"\n' for i in range(1000))
        + ")\n"
    )
    compile(text, "b_help.py", "exec")  # valid Python
    write(tmp_path / "b_help.py", text)
    report = upgrade_paths([tmp_path])
    results = {r.path.name: r for r in report.files}
    assert isinstance(results["b_help.py"].error, ConversionError)
    assert good.read_text(encoding="utf-8") == NEW


def test_an_explicit_symlinked_file_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    first = write(tmp_path / "a.py", OLD)
    write(tmp_path / "b.py", OLD)
    (tmp_path / "link.py").symlink_to(tmp_path / "b.py")
    with pytest.raises(UsageError, match="symbolic link"):
        upgrade_paths([first, tmp_path / "link.py"])
    assert first.read_text(encoding="utf-8") == OLD
    assert not (tmp_path / "a.py.orig").exists()


def test_the_same_file_named_twice_is_upgraded_once(tmp_path: Path) -> None:
    script = write(tmp_path / "train.py", OLD)
    (tmp_path / "sub").mkdir()
    report = upgrade_paths([script, tmp_path / "sub" / ".." / "train.py"])
    assert script.read_text(encoding="utf-8") == NEW
    assert sum(r.written for r in report.files) == 1
    assert not report.failed
