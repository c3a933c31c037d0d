"""Pid files and the processes behind them."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split("\n", 1)[0].strip())
    except (FileNotFoundError, ValueError, IndexError):
        return None


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0): look at its state
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def live_pid(pid_file: Path, *, marker: str, remove_stale: bool = True) -> int | None:
    """The pid in `pid_file` if that process runs and its command line holds `marker`;
    a stale pid file (dead process, or a recycled pid) is removed when `remove_stale`.

    Only a definite answer removes the file: a pid file being written reads empty, and a
    process that is just starting (between fork and exec, or a launcher re-executing
    itself) shows an empty command line for a moment. Taking either for "stale" once
    deleted the pid file of a live broker, which then looked gone: a second one was started
    on its ports and died, and the first was never stopped."""
    if not pid_file.is_file():
        return None
    pid = _settled(lambda: read_pid(pid_file))
    if pid is None:
        if remove_stale:
            pid_file.unlink(missing_ok=True)
        return None
    if is_alive(pid) and marker in (_settled(lambda: cmdline(pid) or None, pid=pid) or ""):
        return pid
    if remove_stale:
        pid_file.unlink(missing_ok=True)
    return None


def _settled(read: Callable[[], T | None], *, pid: int | None = None) -> T | None:
    """`read()`, read again for up to half a second while it gives nothing (and `pid`, if
    given, is still alive)."""
    for _ in range(10):
        value = read()
        if value is not None or (pid is not None and not is_alive(pid)):
            return value
        time.sleep(0.05)
    return read()


def terminate(pid: int, *, timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL when the process is still there after `timeout` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return
        time.sleep(0.1)
    kill(pid)


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
