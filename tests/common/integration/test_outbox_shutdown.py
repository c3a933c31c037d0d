"""SIGTERM (the worker's stop event) ends the relay within the grace period (issue 12, item
5): between the batches of a long drain, and during a producer start that is not answered."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from support.kafka import wait_for
from support.selftest import Workspace, counted, create_topic, fresh_contract

from koshiqon.common.kafka import producer_settings
from koshiqon.common.outbox import OutboxRelay, ProducerFactory, RelayConfig

pytestmark = pytest.mark.integration

GRACE = 15.0  # far below what the old relay took (the whole drain; a 30 s request timeout)


class SlowProducer(AIOKafkaProducer):  # type: ignore[misc]
    """A real producer that takes 20 ms per record: a backlog of 3,000 takes a minute."""

    async def send(self, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        await asyncio.sleep(0.02)
        return await super().send(*args, **kwargs)


@contextlib.asynccontextmanager
async def started(
    ws: Workspace, bootstrap: str, producer_factory: ProducerFactory | None, **overrides: Any
) -> AsyncIterator[tuple[OutboxRelay, asyncio.Event, asyncio.Task[None]]]:
    config = RelayConfig(
        dsn=ws.dsn, schema=ws.schema, bootstrap=bootstrap, service="selftest", **overrides
    )
    runner = OutboxRelay(config, producer_factory=producer_factory)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        yield runner, stop, task
    finally:
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, timeout=60)


async def test_stop_interrupts_a_long_drain_between_batches(ws: Workspace, bootstrap: str) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    await ws.publish_via_outbox(*[counted(payload, key=f"k{i % 5}", seq=i) for i in range(3000)])

    def producers() -> AIOKafkaProducer:
        return SlowProducer(**producer_settings(bootstrap, client_id="selftest-slow"))

    async with started(ws, bootstrap, producers, batch_size=20) as (_, stop, task):
        await wait_for(lambda: _published_some(ws), timeout=30)
        stop.set()
        await asyncio.wait_for(asyncio.shield(task), timeout=GRACE)
    left = await ws.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    assert left > 0  # it stopped mid-backlog; the next relay goes on from there


async def _published_some(ws: Workspace) -> bool:
    return await ws.scalar("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL") > 0


async def test_stop_interrupts_a_producer_start_that_gets_no_answer(ws: Workspace) -> None:
    accepted = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def black_hole(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepts the connection and never answers
        accepted.set()

    server = await asyncio.start_server(black_hole, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with started(ws, f"127.0.0.1:{port}", None) as (runner, stop, task):
            await asyncio.wait_for(runner.active.wait(), timeout=15)
            await asyncio.wait_for(accepted.wait(), timeout=15)
            stop.set()
            await asyncio.wait_for(asyncio.shield(task), timeout=GRACE)
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
