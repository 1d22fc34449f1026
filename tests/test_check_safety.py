"""`litgen check` leaves nothing running and stays offline: escaped processes, signals, kill -9, network."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from process_helpers import process_is_gone, wait_for

from litgen._offline import _is_loopback
from litgen._proctree import descendants, kill_descendants

FIXTURES = Path(__file__).parent / "fixtures" / "check"


@pytest.mark.parametrize(
    ("host", "local"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", True),
     ("::ffff:127.0.0.1", True), ("192.0.2.1", False), ("8.8.8.8", False), ("example.com", False)],
)  # fmt: skip
def test_only_loopback_counts_as_local(host: str, local: bool) -> None:
    assert _is_loopback(host) is local


def test_offline_refuses_connections_and_lookups_but_not_loopback() -> None:
    code = """
import socket, time
from litgen import _offline
_offline.install()
started = time.monotonic()
for attempt in (lambda: socket.create_connection(("192.0.2.1", 80), timeout=5),
                lambda: socket.getaddrinfo("example.com", 80),
                lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("192.0.2.1", 53))):
    try:
        attempt()
    except OSError as error:
        print(error)
try:
    socket.create_connection(("127.0.0.1", 9), timeout=5)
except ConnectionRefusedError:
    print("loopback allowed")
print(socket.socket(socket.AF_INET).connect_ex(("192.0.2.1", 80)) != 0, time.monotonic() - started < 2)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.splitlines() == [
        "[Errno 101] litgen runs programs offline: connection to 192.0.2.1:80 refused",
        "[Errno -2] litgen runs programs offline: looking up 'example.com' refused",
        "[Errno 101] litgen runs programs offline: connection to 192.0.2.1:53 refused",
        "loopback allowed",
        "True True",
    ]


def test_a_process_in_a_new_session_is_still_found_and_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = (
        "import subprocess, sys, time; from pathlib import Path\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True)\n"
        f"Path({str(pid_file)!r}).write_text(str(p.pid)); time.sleep(600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        assert wait_for(lambda: pid_file.exists() and pid_file.read_text())
        escaped = int(pid_file.read_text())
        assert {child.pid, escaped} <= set(descendants(os.getpid()))
        assert kill_descendants(child.pid) == []
        assert wait_for(lambda: process_is_gone(escaped), 10)
    finally:
        child.kill()
        child.wait()


def litgen_scratch(tmp_path: Path) -> list[str]:
    """litgen's scratch folders left in the run's TMPDIR (torch keeps its own compile cache there)."""
    return [path.name for path in (tmp_path / "tmp").iterdir() if path.name.startswith("litgen-")]


def _litgen(*args: str, tmp_path: Path, pid_file: Path) -> subprocess.Popen[str]:
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(scratch_root), "LITGEN_TEST_PID_FILE": str(pid_file)}
    return subprocess.Popen(
        [sys.executable, "-m", "litgen", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell that runs this suite in the background ignores SIGINT, and Python then keeps it
        # ignored; a user's Ctrl-C reaches litgen with the default disposition, so give it that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.mark.slow
def test_check_kills_what_a_program_started_in_a_new_session(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    run = _litgen(
        "check",
        str(FIXTURES / "escape.py"),
        "--timeout",
        "60",
        tmp_path=tmp_path,
        pid_file=pid_file,
    )
    _, stderr = run.communicate(timeout=180)
    assert run.returncode == 1 and "no Lightning Trainer was created" in stderr
    assert process_is_gone(int(pid_file.read_text()))
    assert litgen_scratch(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL])
def test_check_stopped_by_a_signal_leaves_no_process_and_no_scratch_folder(
    tmp_path: Path, signum: int
) -> None:
    pid_file = tmp_path / "pids"
    run = _litgen(
        "check", str(FIXTURES / "hang.py"), "--timeout", "300", tmp_path=tmp_path, pid_file=pid_file
    )
    try:
        assert wait_for(lambda: pid_file.exists() and len(pid_file.read_text().split()) == 2, 120)
        program, its_child = map(int, pid_file.read_text().split())
        os.kill(run.pid, signum)
        _, stderr = run.communicate(timeout=60)
        if signum != signal.SIGKILL:  # litgen ends itself: the conventional 128 + signal, one line
            assert run.returncode == 128 + signum, stderr
            assert "Traceback" not in stderr
        # after kill -9, litgen's probe notices its parent is gone and cleans up by itself
        assert wait_for(lambda: process_is_gone(program) and process_is_gone(its_child), 20)
        assert wait_for(lambda: litgen_scratch(tmp_path) == [], 20)
    finally:
        run.kill()
        run.communicate()


@pytest.mark.slow
def test_check_refuses_a_program_that_reaches_off_the_machine(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "litgen", "check", str(FIXTURES / "online.py")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 1
    assert "litgen runs programs offline: connection to 192.0.2.1:80 refused" in result.stderr
