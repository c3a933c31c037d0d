"""A service's token for calling another (`http.client_auth.ClientCredentials`), against two
real HTTP servers on localhost: an identity provider's token endpoint and a resource server
that takes only the tokens the provider issued and has not revoked."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import orjson
import pytest

from koshiqon.common.http.client_auth import ClientCredentials, TokenRequestFailed
from koshiqon.proposals.adapters.monitoring import MonitoringClient

SECRET = "s3cret-value"


@dataclass
class Servers:
    """The token endpoint (`/token`) and the resource (`/v1/regions/{kato}/indicators`)."""

    lifetime: int = 3600
    issued: list[str] = field(default_factory=list)
    valid: set[str] = field(default_factory=set)
    seen: list[str] = field(default_factory=list)  # the bearer of each resource request
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, path, _ = head[0].split(" ")
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        status, answer = self.answer(method, path, headers, body)
        payload = orjson.dumps(answer)
        writer.write(
            f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
            f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
        writer.close()

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, object]:
        if path == "/token":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            expected = "Basic " + base64.b64encode(f"proposals:{SECRET}".encode()).decode()
            if headers.get("authorization") != expected:
                return 401, {"error": "invalid_client"}
            if form != {"grant_type": "client_credentials", "scope": "monitoring:read"}:
                return 400, {"error": "invalid_request"}
            token = f"token-{len(self.issued) + 1}"
            self.issued.append(token)
            self.valid.add(token)
            return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime}
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        self.seen.append(bearer)
        if bearer not in self.valid:
            return 401, {"title": "Unauthorized"}
        return 200, {"region": path.split("/")[3]}


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    state = Servers()
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield state
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def auth(servers: Servers, clock: Clock, secret: str = SECRET) -> ClientCredentials:
    return ClientCredentials(
        f"{servers.url}/token", client_id="proposals", client_secret=secret,
        scopes=["monitoring:read"], clock=clock,
    )  # fmt: skip


async def test_one_token_serves_many_requests_until_shortly_before_it_expires(
    servers: Servers,
) -> None:
    clock = Clock()
    credentials = auth(servers, clock)
    async with httpx.AsyncClient(base_url=servers.url, auth=credentials) as client:
        answers = await asyncio.gather(
            *(client.get("/v1/regions/590000000/indicators") for _ in range(5))
        )
        assert [a.status_code for a in answers] == [200] * 5
        assert servers.issued == ["token-1"]  # concurrent requests shared one token request
        clock.now += 3600 - 61  # still a minute and more before it expires
        assert (await client.get("/v1/regions/590000000/indicators")).status_code == 200
        assert servers.issued == ["token-1"]
        clock.now += 2  # within the last minute: renewed first
        assert (await client.get("/v1/regions/590000000/indicators")).status_code == 200
    assert servers.issued == ["token-1", "token-2"]
    assert servers.seen[-1] == "token-2"


async def test_a_revoked_token_is_replaced_and_the_request_sent_once_more(
    servers: Servers,
) -> None:
    async with httpx.AsyncClient(base_url=servers.url, auth=auth(servers, Clock())) as client:
        assert (await client.get("/v1/regions/590000000/indicators")).status_code == 200
        servers.valid.clear()  # rotated early by the provider
        response = await client.get("/v1/regions/590000000/indicators")
    assert response.status_code == 200
    assert servers.seen == ["token-1", "token-1", "token-2"]


async def test_a_refused_client_is_an_error_that_does_not_show_the_secret(
    servers: Servers,
) -> None:
    async with httpx.AsyncClient(
        base_url=servers.url, auth=auth(servers, Clock(), secret="wrong")
    ) as client:
        with pytest.raises(TokenRequestFailed, match="answered 401") as refused:
            await client.get("/v1/regions/590000000/indicators")
    assert "wrong" not in str(refused.value)
    assert servers.seen == []  # the resource was not asked without a token


async def test_evidence_stays_pending_when_the_identity_provider_is_away(
    servers: Servers,
) -> None:
    """Proposals' monitoring client: no token means monitoring is not reached this time
    (retried as a failure to reach it), never an error of the submission."""
    away = ClientCredentials(
        "http://127.0.0.1:9/token", client_id="proposals", client_secret=SECRET, timeout=0.5
    )
    monitoring = MonitoringClient(servers.url, retries=1, backoff=0.01, auth=away)
    try:
        assert await monitoring.indicators("590000000") is None
        assert away.requested == 2  # the attempt and its retry
    finally:
        await monitoring.aclose()
    working = MonitoringClient(servers.url, auth=auth(servers, Clock()))
    try:
        assert await working.indicators("590000000") == {"region": "590000000"}
    finally:
        await working.aclose()
