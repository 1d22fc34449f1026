"""Process trees on Linux: find every descendant of a process (even those in new sessions) and kill them all."""

# A program can escape its process group with setsid (subprocess's start_new_session=True), so a
# killpg of the group is not enough. The probe makes itself a child subreaper: orphans of the
# program are re-parented to the probe instead of init, so walking /proc from the probe finds them.
# Without /proc (not Linux) the walks find nothing and callers fall back on their process groups.

from __future__ import annotations

import ctypes
import os
import signal
import time

_PR_SET_CHILD_SUBREAPER = 36
_ROUNDS = 20  # kill, re-walk, kill again: a process may fork while its siblings are being killed


def become_subreaper() -> bool:
    """Ask Linux to re-parent this process's orphaned descendants to it (not to init). False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _parents() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state letter) for every process, read from /proc/PID/stat."""
    table: dict[int, tuple[int, str]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue  # it exited while we looked
        fields = stat[
            stat.rfind(")") + 2 :
        ].split()  # the command name may hold spaces and parentheses
        if len(fields) >= 2 and fields[1].lstrip("-").isdigit():
            table[int(entry)] = (int(fields[1]), fields[0])
    return table


def descendants(root: int) -> list[int]:
    """Every live (not zombie) descendant of ROOT, parents before children."""
    table = _parents()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found: list[int] = []
    pending = list(children.get(root, ()))
    while pending:
        pid = pending.pop(0)
        found.append(pid)
        pending.extend(children.get(pid, ()))
    return [pid for pid in found if table.get(pid, (0, "Z"))[1] != "Z"]


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _reap_children() -> None:
    """Collect exited children (orphans re-parented to a subreaper become ours to wait for)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_descendants(root: int, *, reap: bool = False) -> list[int]:
    """SIGKILL every descendant of ROOT until none is left; return those that would not die.

    Descendants are stopped first (SIGSTOP), so that none can fork while the others are killed.
    REAP waits for our own exited children (when ROOT is this process, a subreaper).
    """
    for _ in range(_ROUNDS):
        found = descendants(root)
        if not found:
            return []
        for pid in found:
            try:
                os.kill(pid, signal.SIGSTOP)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in found:
            _kill(pid)
        if reap:
            _reap_children()
        time.sleep(0.01)
    return descendants(root)
