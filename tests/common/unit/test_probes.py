"""The worker's probe server (issue 12 item 10): /livez answers without asking anything,
/readyz runs the worker's checks and names the failing ones in a 503 problem, /metrics
serves the registry; anything else is refused with the right status."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from koshiqon.common.health import NotReady, ReadinessCheck
from koshiqon.common.probes import ProbeServer


class Check:
    def __init__(self, name: str, failure: str | None = None) -> None:
        self.name = name
        self.failure = failure
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.failure is not None:
            raise NotReady(self.failure)


async def serving(checks: Sequence[ReadinessCheck]) -> AsyncIterator[httpx.AsyncClient]:
    server = ProbeServer(checks, host="127.0.0.1", port=0)
    stop = asyncio.Event()
    task = asyncio.create_task(server.run(stop))
    await asyncio.wait_for(server.started.wait(), timeout=5)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            yield client
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)


@pytest.fixture
async def healthy() -> AsyncIterator[httpx.AsyncClient]:
    async for client in serving([Check("database"), Check("dlq:quota")]):
        yield client


async def test_ready_when_every_check_passes(healthy: httpx.AsyncClient) -> None:
    response = await healthy.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "dlq:quota": "ok"}}
    assert response.headers["cache-control"] == "no-store"


async def test_a_failing_check_is_a_503_problem_naming_it() -> None:
    database, dlq = Check("database"), Check("dlq:quota", "topic quota.dlq is missing")
    async for client in serving([database, dlq]):
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 503
        assert problem["code"] == "not-ready"
        assert problem["failing"] == ["dlq:quota"]
        assert problem["checks"] == {"database": "ok", "dlq:quota": "topic quota.dlq is missing"}
        live = await client.get("/livez")  # liveness asks nothing outside the process
        assert live.status_code == 200
        assert live.json() == {"status": "alive"}
        assert database.calls == dlq.calls == 1


async def test_metrics_and_refusals(healthy: httpx.AsyncClient) -> None:
    metrics = await healthy.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "python_info" in metrics.text  # the process registry
    assert (await healthy.get("/")).status_code == 404
    assert (await healthy.post("/readyz")).status_code == 405
    head = await healthy.head("/livez")
    assert head.status_code == 200
    assert head.content == b""


async def test_a_malformed_request_is_a_400_and_the_server_goes_on(
    healthy: httpx.AsyncClient,
) -> None:
    port = healthy.base_url.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"NONSENSE\r\n\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert (await healthy.get("/livez")).status_code == 200
