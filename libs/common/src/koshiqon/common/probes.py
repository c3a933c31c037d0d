"""The worker's own probes: `/livez`, `/readyz` and `/metrics` over plain HTTP/1.1.

A worker serves no API, yet the platform needs to know whether it may be counted on: its
consumer does not consume while its group's dead-letter topic is missing, and it cannot
commit while the database is away. `koshiqon-<service> worker` therefore listens on
`worker_probe_port` (by default the service's HTTP port + 1000) and answers:

- `GET /livez`: 200 while the event loop runs (nothing outside the process is asked);
- `GET /readyz`: 200 with each check's result, or 503 problem+json naming the failing ones,
  the same body as the API's `/readyz`;
- `GET /metrics`: the process's Prometheus registry (the relay's and consumers' series).

A small asyncio server rather than a second uvicorn: the worker owns SIGTERM (its components
drain on it) and a probe needs no framework. One request per connection, then close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from koshiqon.common.health import ReadinessCheck, run_checks
from koshiqon.common.worker import Component

log = logging.getLogger("koshiqon.probes")

READ_TIMEOUT_SECONDS = 5.0
MAX_REQUEST_HEAD_BYTES = 8192
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class ProbeServer:
    """Serves the probes on `host:port` until its component's stop event is set. Port 0 picks
    a free port; `port` holds the one bound once `started` is set."""

    def __init__(self, checks: Sequence[ReadinessCheck], *, host: str, port: int) -> None:
        self.checks = list(checks)
        self.host = host
        self.port = port
        self.started = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = server.sockets[0].getsockname()[1]
        self.started.set()
        log.info("probes.listening", extra={"host": self.host, "port": self.port})
        try:
            await stop.wait()
        finally:
            server.close()
            with contextlib.suppress(Exception):
                await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT_SECONDS):
                head = await reader.readuntil(b"\r\n\r\n")
            method, path = _request_line(head)
            status, content_type, body = await self._answer(method, path)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        except ValueError:
            method, (status, content_type, body) = "GET", (400, "text/plain", b"bad request\n")
        writer.write(_response(status, content_type, body, with_body=method != "HEAD"))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def _answer(self, method: str, path: str) -> tuple[int, str, bytes]:
        route = path.split("?", 1)[0]
        if route not in ("/livez", "/readyz", "/metrics"):
            return 404, "text/plain", b"not found\n"
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n"
        if route == "/livez":
            return 200, "application/json", b'{"status":"alive"}'
        if route == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
        readiness = await run_checks(self.checks)
        checks = {name: reason or "ok" for name, reason in readiness.results.items()}
        if readiness.ready:
            return 200, "application/json", orjson.dumps({"status": "ready", "checks": checks})
        problem = {
            "type": "about:blank",
            "title": "Not ready",
            "status": 503,
            "detail": f"failing checks: {', '.join(readiness.failing)}",
            "code": "not-ready",
            "instance": route,
            "checks": checks,
            "failing": readiness.failing,
        }
        return 503, "application/problem+json", orjson.dumps(problem)


def _request_line(head: bytes) -> tuple[str, str]:
    if len(head) > MAX_REQUEST_HEAD_BYTES:
        raise ValueError("request head too large")
    parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ValueError("not an HTTP/1.x request line")
    return parts[0], parts[1]


def _response(status: int, content_type: str, body: bytes, *, with_body: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Bad Request')}\r\n"
        f"content-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
        "cache-control: no-store\r\nconnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + (body if with_body else b"")


def probe_component(checks: Sequence[ReadinessCheck], *, host: str, port: int) -> Component:
    """The probe server as a worker component."""
    server = ProbeServer(checks, host=host, port=port)

    async def probes(stop: asyncio.Event) -> None:
        await server.run(stop)

    return probes
