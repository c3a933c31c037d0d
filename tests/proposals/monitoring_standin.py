"""A real HTTP server in the monitoring service's place: it answers
`GET /v1/regions/{kato}/indicators` as the test says (the indicators, a 5xx, or too late),
and records each request's path and its query. Plain asyncio streams, one response per
connection."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import orjson


def indicators_of(region: str) -> dict[str, Any]:
    return {
        "region": region,
        "as_of": "2026-02-28",
        "population": 750_000,
        "natural_increase_rate": 4.2,
        "net_migration": -3_100,
    }


@dataclass
class MonitoringStandIn:
    mode: str = "ok"  # ok | error (503) | missing (404) | slow (answers after `delay` s)
    delay: float = 5.0
    requests: list[str] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)
    _server: asyncio.Server | None = None
    url: str = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)

    def reset(self) -> None:
        self.mode = "ok"
        self.requests.clear()
        self.queries.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readline()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            target = request.split(b" ")[1].decode() if request.count(b" ") >= 2 else "/"
            path, _, query = target.partition("?")
            self.requests.append(path)
            self.queries.append(dict(urllib.parse.parse_qsl(query)))
            if self.mode == "slow":
                await asyncio.sleep(self.delay)
            status, body = self._answer(path)
            head = (
                f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
                "connection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def _answer(self, path: str) -> tuple[int, bytes]:
        parts = path.strip("/").split("/")
        if self.mode == "error":
            return 503, b'{"title": "unavailable"}'
        if self.mode == "missing":
            return 404, b'{"title": "no indicators for the region"}'
        if len(parts) == 4 and parts[:2] == ["v1", "regions"] and parts[3] == "indicators":
            return 200, orjson.dumps(indicators_of(parts[2]))
        return 404, b'{"title": "not found"}'
