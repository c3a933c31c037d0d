"""Pid files (`koshiqon.devtools.infra.process.live_pid`): only a definite answer makes one
stale. Real processes, no fakes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from koshiqon.devtools.infra.process import live_pid

MARKER = "koshiqon-process-test"


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", MARKER])


def test_the_pid_of_a_live_marked_process_is_returned(tmp_path: Path) -> None:
    proc = sleeper()
    try:
        pid_file = tmp_path / "pid"
        pid_file.write_text(str(proc.pid))
        assert live_pid(pid_file, marker=MARKER) == proc.pid
        assert pid_file.is_file()
    finally:
        proc.kill()
        proc.wait()


def test_a_dead_or_foreign_pid_is_stale_and_removed(tmp_path: Path) -> None:
    proc = sleeper()
    proc.kill()
    proc.wait()
    pid_file = tmp_path / "pid"
    pid_file.write_text(str(proc.pid))
    assert live_pid(pid_file, marker=MARKER) is None
    assert not pid_file.exists()

    pid_file.write_text("1")  # alive, but another program
    assert live_pid(pid_file, marker=MARKER) is None
    assert not pid_file.exists()


def test_a_pid_file_being_written_is_read_again_not_removed(tmp_path: Path) -> None:
    """Empty for a moment, as between `write_text`'s truncation and its write."""
    proc = sleeper()
    try:
        pid_file = tmp_path / "pid"
        pid_file.write_text("")
        writer = threading.Timer(0.15, lambda: pid_file.write_text(str(proc.pid)))
        writer.start()
        started = time.monotonic()
        assert live_pid(pid_file, marker=MARKER) == proc.pid
        assert time.monotonic() - started < 1.0
        writer.join()
    finally:
        proc.kill()
        proc.wait()


def test_no_pid_file_is_none_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    assert live_pid(tmp_path / "missing", marker=MARKER) is None
    assert time.monotonic() - started < 0.4  # no half-second of reading again
