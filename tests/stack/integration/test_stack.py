"""`koshiqon stack` on the real broker and database: `up` returns with every process ready
and the demo data loaded, a process killed hard is started again by the supervisor, `up`
run again starts nothing twice, `status` says what runs, and `down` leaves no process and
no port behind.

The services consume with their default groups, so the test holds
/tmp/koshiqon-stack.lock while they run (as `flock /tmp/koshiqon-stack.lock make up`
would), and runs them on free ports with its own state folder. The demo is the smallest
one (500 persons) under its own seed."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from koshiqon.devtools.infra.process import is_alive
from koshiqon.devtools.stack.layout import PROBE_OFFSET, StackPaths, process_specs

pytestmark = pytest.mark.integration

LOCK = Path("/tmp/koshiqon-stack.lock")
SEED = 17


@contextlib.contextmanager
def stack_lock(timeout: float = 1800.0) -> Iterator[None]:
    """The shared broker's lock, with flock(2) as flock(1) takes it; under
    `flock /tmp/koshiqon-stack.lock pytest ...` the descriptor this process inherited holds
    it already."""
    for entry in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            if Path(os.readlink(entry)) == LOCK:
                fcntl.flock(int(entry.name), fcntl.LOCK_EX | fcntl.LOCK_NB)
                yield
                return
    with LOCK.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, f"{LOCK} held for {timeout:.0f} s"
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def free_base() -> int:
    """A port base whose four API ports and four probe ports are all free."""
    for base in range(21000, 60000, 37):
        ports = [base + n for n in (1, 2, 3, 4)] + [base + PROBE_OFFSET + n for n in (1, 2, 3, 4)]
        if all(_free(p) for p in ports):
            return base
    raise RuntimeError("no free port base")


def _free(port: int) -> bool:
    """Nobody listens there, and a server may bind it (SO_REUSEADDR, as uvicorn's: a port
    that served connections keeps them in TIME_WAIT for a minute)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def stack(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "koshiqon.devtools.cli", "stack", "--root", str(root), *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, "KOSHIQON_ENV": "dev"},
    )  # fmt: skip


def until(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.5)


def ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.timeout(1500)
def test_up_restart_up_again_status_and_down(tmp_path: Path) -> None:
    root = tmp_path / "stack"
    paths = StackPaths(root)
    with stack_lock():
        base = free_base()
        specs = process_specs(base=base, token_url="", client_secret="")
        try:
            up = stack(root, "up", "--seed", str(SEED), "--demo-size", "500",
                       "--port-base", str(base))  # fmt: skip
            assert up.returncode == 0, up.stdout + up.stderr
            assert "Koshi-qon is up" in up.stdout
            assert f"http://127.0.0.1:{base + 4}/dashboard" in up.stdout
            assert up.stdout.count("export KOSHIQON_TOKEN_") == 5
            assert all(ready(s.ready_url) for s in specs)
            state = json.loads(paths.state_file.read_text())
            pids = {name: row["pid"] for name, row in state["processes"].items()}
            assert len(pids) == 8
            assert all(pids.values())
            assert len(set(pids.values())) == 8  # api and worker: separate processes
            supervisor = int(paths.pid_file.read_text())
            marker = json.loads(paths.demo_marker.read_text())
            assert marker["report"]["persons"] == 500
            assert "approved" in marker["report"]["proposals"]  # the §8 measures proposal

            os.kill(pids["quota-worker"], signal.SIGKILL)

            def restarted() -> bool:
                row = json.loads(paths.state_file.read_text())["processes"]["quota-worker"]
                return row["restarts"] == 1 and row["pid"] not in (None, pids["quota-worker"])

            until(restarted)
            until(lambda: ready(f"http://127.0.0.1:{base + 2 + PROBE_OFFSET}/readyz"))

            again = stack(root, "up", "--seed", str(SEED), "--demo-size", "500",
                          "--port-base", str(base))  # fmt: skip
            assert again.returncode == 0, again.stdout + again.stderr
            assert f"the stack runs already (supervisor {supervisor}" in again.stdout
            assert "loaded already" in again.stdout
            now = json.loads(paths.state_file.read_text())["processes"]
            assert {n: r["pid"] for n, r in now.items() if n != "quota-worker"} == {
                n: p for n, p in pids.items() if n != "quota-worker"
            }

            status = stack(root, "status")
            assert status.returncode == 0, status.stdout + status.stderr
            for spec in specs:
                assert spec.name in status.stdout
            assert status.stdout.count("ready (") == 8
            assert "quota: " in status.stdout
        finally:
            down = stack(root, "down", "--keep-infra")
        assert down.returncode == 0, down.stdout + down.stderr
        assert not is_alive(supervisor)
        children = [
            r["pid"] for r in json.loads(paths.state_file.read_text())["processes"].values()
        ]
        assert all(pid is None for pid in children)
        assert not any(is_alive(pid) for pid in pids.values())
        until(lambda: not any(_listening(s.port) for s in specs), timeout=30)
        assert not paths.pid_file.exists()
        assert not paths.infra_marker.exists()  # the broker ran before: up started none
