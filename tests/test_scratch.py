"""Scratch folders carry their maker's pid; a later run removes those whose maker was killed (kill -9)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from litgen.scratch import make_scratch, scratch, sweep_stale


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_new_scratch_folder_removes_those_a_killed_run_left(tmp_path: Path) -> None:
    stale = tmp_path / f"litgen-merge-{_dead_pid()}-abc"
    (stale / "project").mkdir(parents=True)
    live = tmp_path / f"litgen-merge-{os.getppid()}-def"  # our parent is alive: its folder stays
    live.mkdir()
    other = tmp_path / "litgen-merge-notapid"
    other.mkdir()
    made = make_scratch("litgen-merge-", tmp_path)
    assert made.name.startswith(f"litgen-merge-{os.getpid()}-") and made.is_dir()
    assert not stale.exists() and live.is_dir() and other.is_dir()


def test_scratch_is_removed_on_any_exit_the_process_lives_through(tmp_path: Path) -> None:
    try:
        with scratch("litgen-check-", tmp_path) as folder:
            (folder / "x").write_text("x")
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    assert list(tmp_path.iterdir()) == []


def test_glob_characters_in_a_prefix_are_literal(tmp_path: Path) -> None:
    stale = tmp_path / f".[x].litgen-{_dead_pid()}-abc"
    stale.mkdir()
    (tmp_path / f".y.litgen-{_dead_pid()}-abc").mkdir()
    assert sweep_stale(".[x].litgen-", tmp_path) == [stale]
