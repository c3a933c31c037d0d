"""The idempotent consumer against the real PostgreSQL and the real Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncSession
from support.kafka import read_topic, send, wait_for
from support.selftest import (
    Counted,
    Workspace,
    counted,
    create_topic,
    fresh_contract,
    record_effect,
)

from koshiqon.common import dlq
from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner, Subscription
from koshiqon.common.errors import InvalidInput, TransientError
from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.topics import dlq_topic

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def consuming(
    ws: Workspace, bootstrap: str, group: str, topic: str, handlers: dict[str, object]
) -> AsyncIterator[ConsumerRunner]:
    runner = ConsumerRunner(
        Subscription(group=group, topics=[topic], handlers=handlers),  # type: ignore[arg-type]
        ws.sessions,
        ConsumerConfig(bootstrap=bootstrap, backoff_initial=0.05, max_attempts=3),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        yield runner
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def effects(ws: Workspace, expected: int):  # type: ignore[no-untyped-def]
    async def reached() -> bool:
        return await ws.scalar("SELECT count(*) FROM effects") >= expected

    return reached


async def test_an_event_delivered_twice_has_one_effect(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer
) -> None:
    payload, topic = fresh_contract()
    await create_topic(bootstrap, topic)
    first, second = counted(payload, key="a", seq=1), counted(payload, key="a", seq=2)
    await send(producer, topic.name, first, first, second, first)
    group = f"g-{uuid.uuid4().hex[:8]}"
    async with consuming(ws, bootstrap, group, topic.name, {payload.contract.type: record_effect}):
        await wait_for(effects(ws, 2), timeout=30)
        await asyncio.sleep(1.0)
    assert await ws.scalar("SELECT count(*) FROM effects") == 2
    assert await ws.scalar("SELECT count(DISTINCT event_id) FROM effects") == 2
    assert await ws.scalar("SELECT count(*) FROM processed_events") == 2


async def test_consumer_killed_between_db_commit_and_offset_commit_has_one_effect(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    payload, topic = fresh_contract(partitions=1)
    await create_topic(bootstrap, topic)
    events = [counted(payload, key="k", seq=i) for i in range(20)]
    await send(producer, topic.name, *events)
    group = f"g-{uuid.uuid4().hex[:8]}"
    suffix = payload.contract.name.removeprefix("counted-")
    marker = tmp_path / "died"
    argv = [sys.executable, "-m", "support.consumer_process", ws.dsn, ws.schema, bootstrap,
            group, topic.name, suffix]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}

    victim = await asyncio.create_subprocess_exec(*argv, "--die-after-commit", str(marker), env=env)
    assert await asyncio.wait_for(victim.wait(), timeout=120) == -9, "expected SIGKILL"
    assert marker.exists()
    assert await ws.scalar("SELECT count(*) FROM effects") == 1  # committed, offset not

    survivor = await asyncio.create_subprocess_exec(*argv, env=env)
    try:
        await wait_for(effects(ws, 20), timeout=60)
        await asyncio.sleep(1.0)
    finally:
        survivor.terminate()
        assert await asyncio.wait_for(survivor.wait(), timeout=30) == 0  # SIGTERM: clean exit
    assert await ws.scalar("SELECT count(*) FROM effects") == 20
    assert await ws.scalar("SELECT count(DISTINCT event_id) FROM effects") == 20


async def test_poison_event_goes_to_dlq_and_replay_delivers_it_again(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer
) -> None:
    payload, topic = fresh_contract(partitions=1)
    await create_topic(bootstrap, topic)
    refuse = {"on": True}

    async def refusing(session: AsyncSession, envelope: Envelope, data: EventPayload) -> None:
        assert isinstance(data, Counted)
        if data.seq == 2 and refuse["on"]:
            raise InvalidInput("seq 2 is refused by the domain", field="seq")
        await record_effect(session, envelope, data)

    group = f"g-{uuid.uuid4().hex[:8]}"
    events = [counted(payload, key="p", seq=i) for i in range(1, 5)]
    await send(producer, topic.name, events[0])
    await producer.send_and_wait(topic.name, b"{not json", key=b"p")  # undecodable
    await send(producer, topic.name, *events[1:])
    handlers = {payload.contract.type: refusing}
    async with consuming(ws, bootstrap, group, topic.name, handlers):
        await wait_for(effects(ws, 3), timeout=30)  # 1, 3 and 4: the queue moved on

    dead = await read_topic(bootstrap, dlq_topic(group).name, at_least=2)
    assert len(dead) == 2
    errors = [dict(r.headers)[b"dlq.error.type".decode()].decode() for r in dead]
    assert errors == ["PermanentEventError", "InvalidInput"]
    headers = dict(dead[1].headers)
    assert headers["dlq.original.topic"].decode() == topic.name
    assert "seq 2 is refused" in headers["dlq.error.message"].decode()

    refuse["on"] = False
    result = await dlq.replay(bootstrap, group)
    assert result.replayed == 2
    async with consuming(ws, bootstrap, group, topic.name, handlers):
        await wait_for(effects(ws, 4), timeout=30)
    seqs = await ws.scalar("SELECT sum(seq) FROM effects")
    assert seqs == 1 + 2 + 3 + 4
    # the undecodable record went back to the DLQ once more; a second replay sends nothing new
    again = await dlq.replay(bootstrap, group)
    assert again.replayed == 1


async def test_unknown_type_is_dead_lettered_and_unhandled_known_type_is_ignored(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer
) -> None:
    payload, topic = fresh_contract(partitions=1)
    other, _ = fresh_contract(partitions=1)
    await create_topic(bootstrap, topic)
    known_unhandled = counted(other, key="x", seq=1)
    unknown = Envelope.model_validate(
        {**counted(payload, key="x", seq=2).model_dump(), "type": "kz.migration.selftest.nobody.v9"}
    )
    handled = counted(payload, key="x", seq=3)
    await send(producer, topic.name, known_unhandled, unknown, handled)
    group = f"g-{uuid.uuid4().hex[:8]}"
    async with consuming(ws, bootstrap, group, topic.name, {payload.contract.type: record_effect}):
        await wait_for(effects(ws, 1), timeout=30)
    dead = await read_topic(bootstrap, dlq_topic(group).name, at_least=1)
    assert [dict(r.headers)["dlq.error.type"] for r in dead] == [b"PermanentEventError"]
    assert await ws.scalar("SELECT max(seq) FROM effects") == 3


async def test_transient_failure_is_retried_from_the_same_offset(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer
) -> None:
    payload, topic = fresh_contract(partitions=1)
    await create_topic(bootstrap, topic)
    failures = {"left": 4}

    async def flaky(session: AsyncSession, envelope: Envelope, data: EventPayload) -> None:
        await record_effect(session, envelope, data)
        if failures["left"] > 0:
            failures["left"] -= 1
            raise TransientError("database briefly unavailable")  # rolls the effect back

    await send(producer, topic.name, *[counted(payload, key="t", seq=i) for i in range(5)])
    group = f"g-{uuid.uuid4().hex[:8]}"
    async with consuming(ws, bootstrap, group, topic.name, {payload.contract.type: flaky}):
        await wait_for(effects(ws, 5), timeout=30)
    assert await ws.scalar("SELECT count(*) FROM effects") == 5
    assert await read_topic(bootstrap, dlq_topic(group).name, at_least=0, timeout=2) == []


async def test_a_rebalance_mid_stream_loses_nothing_and_applies_nothing_twice(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer
) -> None:
    payload, topic = fresh_contract(partitions=6)
    await create_topic(bootstrap, topic)
    total = 1500
    for start in range(0, total, 300):
        batch = [counted(payload, key=f"k{i % 50}", seq=i) for i in range(start, start + 300)]
        await asyncio.gather(
            *[await producer.send(topic.name, e.to_bytes(), key=e.subject.encode()) for e in batch]
        )
    group = f"g-{uuid.uuid4().hex[:8]}"
    handlers = {payload.contract.type: record_effect}
    async with consuming(ws, bootstrap, group, topic.name, handlers) as first:
        await wait_for(effects(ws, 200), timeout=30)
        async with consuming(ws, bootstrap, group, topic.name, handlers) as second:
            await asyncio.wait_for(second.assigned.wait(), timeout=30)  # partitions moved
            await wait_for(effects(ws, 1000), timeout=60)
        # the second leaves: its partitions come back to the first
        await wait_for(effects(ws, total), timeout=60)
        assert first.assigned.is_set()
        await asyncio.sleep(1.0)
    assert await ws.scalar("SELECT count(*) FROM effects") == total
    assert await ws.scalar("SELECT count(DISTINCT event_id) FROM effects") == total
