"""The probe's event channel: lines read from a pipe with a timeout each, and each line as a JSON event."""

from __future__ import annotations

import json
import os
import selectors
import time
from typing import Any


def parse_event(line: str) -> dict[str, Any]:
    try:
        event = json.loads(line)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


class EventReader:
    """Lines from a pipe with a timeout per line (select-based, so a silent probe cannot block us)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.closed = False
        self.selector = selectors.DefaultSelector()
        self.selector.register(fd, selectors.EVENT_READ)

    def __enter__(self) -> EventReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.selector.close()

    def next_line(self, timeout: float) -> str | None:
        """The next decoded line, or None at end of file; raises TimeoutError after TIMEOUT seconds."""
        deadline = time.monotonic() + max(0.0, timeout)
        while b"\n" not in self.buffer:
            if self.closed:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.selector.select(remaining):
                raise TimeoutError
            chunk = os.read(self.fd, 65536)
            if chunk:
                self.buffer += chunk
            else:
                self.closed = True
                if self.buffer:  # a last line without newline still counts
                    self.buffer += b"\n"
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode("utf-8", errors="replace")
