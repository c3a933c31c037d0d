"""The supervisor with real child processes (no broker, no database): one that dies is
started again after its backoff and counted, the state file says so, and stopping ends
every child; and its client-credentials endpoint, asked by the common library's client as
proposals asks it."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from koshiqon.devtools.devkey import dev_private_key
from koshiqon.devtools.stack.layout import ProcessSpec, StackPaths
from koshiqon.devtools.stack.policy import RestartPolicy
from koshiqon.devtools.stack.supervisor import CLIENT_ID, Supervisor, token_server

FAST = RestartPolicy(initial=0.05, factor=2.0, maximum=0.2, reset_after=60.0)


def spec(name: str, code: str) -> ProcessSpec:
    return ProcessSpec(name, "api", 0, command=(sys.executable, "-c", code))


def until(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def test_a_child_that_dies_is_started_again_and_counted(tmp_path: Path) -> None:
    paths = StackPaths(tmp_path)
    dies = spec("dies", "import sys; print('up', flush=True); sys.exit(3)")
    stays = spec("stays", "import time; time.sleep(600)")
    supervisor = Supervisor(paths, [dies, stays], FAST)
    runner = threading.Thread(target=supervisor.run)
    runner.start()
    try:
        until(lambda: supervisor.children[0].tracker.restarts >= 3)
        state = json.loads(paths.state_file.read_text())
        assert state["processes"]["dies-api"]["restarts"] >= 2
        assert state["processes"]["dies-api"]["last_exit"] == 3
        assert state["processes"]["stays-api"]["restarts"] == 0
        assert state["processes"]["stays-api"]["status"] == "running"
        stays_pid = state["processes"]["stays-api"]["pid"]
    finally:
        supervisor.stopping.set()
        runner.join(timeout=30)
    assert not runner.is_alive()
    state = json.loads(paths.state_file.read_text())
    assert state["stopped"] is True
    assert all(row["pid"] is None for row in state["processes"].values())
    assert not Path(f"/proc/{stays_pid}").exists() or _zombie(stays_pid)
    assert paths.log_of("dies-api").read_text().count("up") >= 3  # each run's output kept


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    stubborn = spec(
        "stubborn",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(600)",
    )
    supervisor = Supervisor(StackPaths(tmp_path), [stubborn], FAST, grace=0.5)
    supervisor.start(supervisor.children[0])
    process = supervisor.children[0].process
    assert process is not None
    until(lambda: "ready" in StackPaths(tmp_path).log_of("stubborn-api").read_text())
    supervisor.stop_all()
    assert process.returncode == -9


def dev_public_key() -> EllipticCurvePublicKey:
    return dev_private_key().public_key()


def _zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] == "Z"


def test_the_token_endpoint_grants_proposals_a_monitoring_read_token() -> None:
    server = token_server("s3cret")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/token"
    try:
        granted = httpx.post(  # what koshiqon.common.http.client_auth.ClientCredentials sends
            url, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, "s3cret")
        )
        assert granted.status_code == 200
        body = granted.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600
        claims = jwt.decode(
            body["access_token"], dev_public_key(), algorithms=["ES256"], audience="koshiqon"
        )
        assert claims["scope"] == "monitoring:read"
        assert claims["sub"] == CLIENT_ID
        assert claims["exp"] - claims["iat"] == 3600
        wrong = httpx.post(url, data={"grant_type": "client_credentials"}, auth=(CLIENT_ID, "x"))
        assert wrong.status_code == 401
        assert wrong.json() == {"error": "invalid_client"}
        grant = httpx.post(url, data={"grant_type": "password"}, auth=(CLIENT_ID, "s3cret"))
        assert grant.status_code == 400
    finally:
        server.shutdown()
