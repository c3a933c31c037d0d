"""The stack's supervisor: one detached process (its own session and process group) that
starts the eight service processes, starts again any that dies (`policy`), writes what runs
to the state file after every change, and on SIGTERM stops them all (SIGTERM, then SIGKILL
after a grace period) before it exits.

It also answers the OAuth 2.0 client-credentials grant on 127.0.0.1 for the one client it
gives a secret to, proposals, minting `monitoring:read` tokens with the development key: a
fixed token would expire after an hour, and proposals renews a granted one as it would
with the identity provider of a real deployment.

    python -m koshiqon.devtools.stack.supervisor --root .local/stack [--base 8000]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs

from koshiqon.devtools.devkey import issue_dev_token
from koshiqon.devtools.stack.layout import (
    ProcessSpec,
    StackPaths,
    child_environment,
    new_client_secret,
    process_specs,
)
from koshiqon.devtools.stack.policy import RestartPolicy, RestartTracker

GRACE_SECONDS = 25.0  # uvicorn's own graceful shutdown is 20 s
POLL_SECONDS = 0.2
CLIENT_ID = "koshiqon-proposals"
GRANTED_SCOPE = "monitoring:read"
TOKEN_SECONDS = 3600


@dataclass
class Child:
    spec: ProcessSpec
    tracker: RestartTracker
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0  # monotonic
    started_wall: str | None = None
    restart_at: float | None = None  # monotonic: waiting out its backoff
    last_exit: int | None = None
    log: IO[bytes] | None = field(default=None, repr=False)

    def row(self) -> dict[str, Any]:
        running = self.process is not None and self.process.poll() is None
        return {
            "service": self.spec.service,
            "role": self.spec.role,
            "port": self.spec.port,
            "pid": self.process.pid if running and self.process else None,
            "status": "running" if running else ("backoff" if self.restart_at else "stopped"),
            "started_at": self.started_wall,
            "restarts": self.tracker.restarts,
            "last_exit": self.last_exit,
        }


def executable(name: str) -> str:
    """A console script of this environment (next to its python), else from PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


class Supervisor:
    def __init__(
        self,
        paths: StackPaths,
        specs: Sequence[ProcessSpec],
        policy: RestartPolicy,
        *,
        grace: float = GRACE_SECONDS,
    ) -> None:
        self.paths = paths
        self.grace = grace
        self.children = [Child(spec, RestartTracker(policy)) for spec in specs]
        self.stopping = threading.Event()
        self.started_wall = _now_text()

    def start(self, child: Child) -> None:
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        if child.log is None:
            child.log = self.paths.log_of(child.spec.name).open("ab")
        argv = [executable(child.spec.argv[0]), *child.spec.argv[1:]]
        child.process = subprocess.Popen(  # same process group: `down` ends them with us
            argv,
            env=child_environment(child.spec),
            stdin=subprocess.DEVNULL,
            stdout=child.log,
            stderr=subprocess.STDOUT,
            cwd=os.getcwd(),
        )
        child.started_at = time.monotonic()
        child.started_wall = _now_text()
        child.restart_at = None

    def step(self) -> bool:
        """One look at every child: note the dead, start those whose backoff is over.
        True when something changed."""
        changed = False
        now = time.monotonic()
        for child in self.children:
            if child.process is not None and (code := child.process.poll()) is not None:
                child.last_exit = code
                child.process = None
                child.restart_at = child.tracker.died(started_at=child.started_at, now=now)
                _note(f"{child.spec.name} exited with {code}; restart in "
                      f"{child.restart_at - now:.1f} s")  # fmt: skip
                changed = True
            elif child.process is None and child.restart_at is not None and now >= child.restart_at:
                child.tracker.restarted()
                self.start(child)
                _note(f"{child.spec.name} restarted (restart {child.tracker.restarts})")
                changed = True
        return changed

    def run(self) -> None:
        for child in self.children:
            self.start(child)
        self.write_state()
        while not self.stopping.is_set():
            if self.step():
                self.write_state()
            self.stopping.wait(POLL_SECONDS)
        self.stop_all()

    def stop_all(self) -> None:
        running = [c for c in self.children if c.process is not None]
        for child in running:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + self.grace
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            child.last_exit = child.process.returncode
            child.process = None
        for child in self.children:
            child.restart_at = None
            if child.log is not None:
                child.log.close()
        self.write_state(stopped=True)

    def write_state(self, *, stopped: bool = False) -> None:
        state = {
            "supervisor_pid": os.getpid(),
            "started_at": self.started_wall,
            "stopped": stopped,
            "processes": {c.spec.name: c.row() for c in self.children},
        }
        tmp = self.paths.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.paths.state_file)


# --- the development token endpoint ---------------------------------------------------------


def token_server(secret: str) -> ThreadingHTTPServer:
    """POST /token, grant_type=client_credentials, HTTP Basic `koshiqon-proposals:<secret>`:
    a `monitoring:read` token for an hour; anything else is refused as RFC 6749 says."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/token":
                return self._answer(HTTPStatus.NOT_FOUND, {"error": "invalid_request"})
            if not _client_ok(self.headers.get("Authorization"), secret):
                return self._answer(HTTPStatus.UNAUTHORIZED, {"error": "invalid_client"})
            length = min(int(self.headers.get("Content-Length") or 0), 4096)
            form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
            if form.get("grant_type") != ["client_credentials"]:
                return self._answer(HTTPStatus.BAD_REQUEST, {"error": "unsupported_grant_type"})
            token = issue_dev_token(
                scopes=[GRANTED_SCOPE], agency="proposals", subject=CLIENT_ID,
                ttl_seconds=TOKEN_SECONDS,
            )  # fmt: skip
            body = {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS}
            return self._answer(HTTPStatus.OK, body)

        def _answer(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # the client secret never reaches a log

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def _client_ok(header: str | None, secret: str) -> bool:
    if not header or not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return user == CLIENT_ID and hmac.compare_digest(password.encode(), secret.encode())


# --- the process -----------------------------------------------------------------------------


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _note(message: str) -> None:
    print(f"{_now_text()} {message}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="koshiqon-stack-supervisor")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--base", type=int, default=8000)
    args = parser.parse_args(argv)
    paths = StackPaths(args.root.resolve())
    paths.root.mkdir(parents=True, exist_ok=True)
    secret = new_client_secret()
    server = token_server(secret)
    threading.Thread(target=server.serve_forever, daemon=True, name="token").start()
    token_url = f"http://127.0.0.1:{server.server_address[1]}/token"
    specs = process_specs(base=args.base, token_url=token_url, client_secret=secret)
    supervisor = Supervisor(paths, specs, RestartPolicy())
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: supervisor.stopping.set())
    paths.pid_file.write_text(f"{os.getpid()}\n")
    _note(f"supervisor {os.getpid()} starting {len(specs)} processes (base port {args.base})")
    try:
        supervisor.run()
    finally:
        server.shutdown()
        paths.pid_file.unlink(missing_ok=True)
        _note("supervisor stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
