"""Shared by the tests that kill processes: is a process gone, and wait until something holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def process_is_gone(pid: int) -> bool:
    """True once PID has exited; a zombie (killed, not yet reaped by init) counts as gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Poll PREDICATE every 50 ms until it holds (True) or TIMEOUT seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
