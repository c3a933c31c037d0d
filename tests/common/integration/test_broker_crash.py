"""The broker dies mid-stream: nothing committed to an outbox is lost, nothing is applied twice.

Kills the local Kafka started by `koshiqon infra up` with SIGKILL and starts it again, so it
runs only against that broker (not against an external KAFKA_BOOTSTRAP_SERVERS).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from support.kafka import envelopes, read_topic, wait_for
from support.selftest import (
    Workspace,
    counted,
    create_topic,
    fresh_contract,
    record_effect,
)

from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner, Subscription
from koshiqon.common.outbox import OutboxRelay, RelayConfig
from koshiqon.devtools.infra import kafka

pytestmark = pytest.mark.integration

EVENTS = 5000


@pytest.fixture
async def restartable_broker() -> AsyncIterator[None]:
    if kafka.running() is None:
        pytest.fail("this test needs the project's own broker: run `make infra-up`")
    yield
    if kafka.running() is None:  # whatever happened, leave a broker for the next test
        kafka.start()
        await asyncio.to_thread(kafka.wait_ready)


async def test_broker_killed_during_relay_loses_nothing_and_duplicates_nothing(
    ws: Workspace, bootstrap: str, restartable_broker: None
) -> None:
    payload, topic = fresh_contract(partitions=6)
    await create_topic(bootstrap, topic)
    events = [counted(payload, key=f"person-{i % 97}", seq=i) for i in range(EVENTS)]
    for start in range(0, EVENTS, 500):
        await ws.publish_via_outbox(*events[start : start + 500])

    stop = asyncio.Event()
    relay = OutboxRelay(
        RelayConfig(dsn=ws.dsn, schema=ws.schema, bootstrap=bootstrap, service="selftest",
                    batch_size=200, max_batches_in_flight=2)
    )  # fmt: skip
    consumer = ConsumerRunner(
        Subscription(group=f"g-{uuid.uuid4().hex[:8]}", topics=[topic.name],
                     handlers={payload.contract.type: record_effect}),
        ws.sessions,
        ConsumerConfig(bootstrap=bootstrap, max_records=100),
    )  # fmt: skip
    tasks = [asyncio.create_task(relay.run(stop)), asyncio.create_task(consumer.run(stop))]
    try:
        await wait_for(_published_at_least(ws, 600), timeout=60, interval=0.01)
        kafka.stop(hard=True)
        killed_at = time.monotonic()
        await asyncio.sleep(2.0)
        kafka.start()
        await asyncio.to_thread(kafka.wait_ready)
        assert time.monotonic() - killed_at < 60

        try:
            await wait_for(_effects_at_least(ws, EVENTS), timeout=180, interval=0.5)
        except TimeoutError:
            pytest.fail(await _progress(ws))
        await asyncio.sleep(2.0)  # anything applied twice would show up by now
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=60)

    assert await ws.scalar("SELECT count(*) FROM effects") == EVENTS
    assert await ws.scalar("SELECT count(DISTINCT event_id) FROM effects") == EVENTS
    assert await ws.scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    arrived = {e.id for e in envelopes(await read_topic(bootstrap, topic.name, at_least=EVENTS))}
    assert arrived == {e.id for e in events}


async def test_a_consumer_started_while_the_broker_is_away_waits_for_it_and_then_consumes(
    ws: Workspace, bootstrap: str, restartable_broker: None
) -> None:
    """Pods start in any order: a worker whose broker is not up yet keeps trying, then
    handles every event once."""
    payload, topic = fresh_contract(partitions=3)
    await create_topic(bootstrap, topic)
    events = [counted(payload, key=f"k{i % 7}", seq=i) for i in range(100)]
    await ws.publish_via_outbox(*events)
    kafka.stop(hard=True)
    stop = asyncio.Event()
    runner = ConsumerRunner(
        Subscription(group=f"g-{uuid.uuid4().hex[:8]}", topics=[topic.name],
                     handlers={payload.contract.type: record_effect}),
        ws.sessions,
        ConsumerConfig(bootstrap=bootstrap, backoff_max=1),
    )  # fmt: skip
    task = asyncio.create_task(runner.run(stop))
    relay = OutboxRelay(
        RelayConfig(dsn=ws.dsn, schema=ws.schema, bootstrap=bootstrap, service="selftest")
    )
    relay_task: asyncio.Task[None] | None = None
    try:
        await asyncio.sleep(3.0)  # a few failed starts
        assert not task.done(), "the runner gave up while the broker was away"
        kafka.start()
        await asyncio.to_thread(kafka.wait_ready)
        relay_task = asyncio.create_task(relay.run(stop))
        await wait_for(_effects_at_least(ws, 100), timeout=120, interval=0.2)
        await asyncio.sleep(1.0)
    finally:
        stop.set()
        pending = [t for t in (task, relay_task) if t is not None]
        await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), timeout=60)
    assert await ws.scalar("SELECT count(*) FROM effects") == 100
    assert await ws.scalar("SELECT count(DISTINCT event_id) FROM effects") == 100


def _published_at_least(ws: Workspace, n: int):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return await ws.scalar("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL") >= n

    return check


def _effects_at_least(ws: Workspace, n: int):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return await ws.scalar("SELECT count(*) FROM effects") >= n

    return check


async def _progress(ws: Workspace) -> str:
    published = await ws.scalar("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
    effects = await ws.scalar("SELECT count(*) FROM effects")
    return f"stalled: {published} of {EVENTS} published, {effects} effects"
