"""Issue 14: `ConsumerConfig.transaction_batch` handles a partition's records of one poll in
chunks of one transaction each, and a poll of several partitions that brings no more than
that in one, against the real PostgreSQL and the real Kafka. Every
`effects` row carries `now()`, its transaction's start: the rows of one chunk share it,
rows of separate transactions do not."""

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
from sqlalchemy import text
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

from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner, EventHandler, Subscription
from koshiqon.common.errors import InvalidInput, TransientError
from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.topics import dlq_topic

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def consuming(
    ws: Workspace,
    bootstrap: str,
    group: str,
    topic: str,
    handlers: dict[str, EventHandler],
    *,
    batch: int = 50,
    handled: list[uuid.UUID] | None = None,
) -> AsyncIterator[ConsumerRunner]:
    async def after_commit(envelope: Envelope) -> None:
        if handled is not None:
            handled.append(envelope.id)

    runner = ConsumerRunner(
        Subscription(group=group, topics=[topic], handlers=handlers),
        ws.sessions,
        ConsumerConfig(
            bootstrap=bootstrap,
            backoff_initial=0.05,
            max_attempts=3,
            transaction_batch=batch,
            after_commit=after_commit,
        ),
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


def refusing(seq: int) -> EventHandler:
    """`record_effect`, refused by the domain for the event `seq` (its effect rolled back with
    the transaction it ran in)."""

    async def handler(session: AsyncSession, envelope: Envelope, data: EventPayload) -> None:
        assert isinstance(data, Counted)
        await record_effect(session, envelope, data)
        if data.seq == seq:
            raise InvalidInput(f"seq {seq} is refused by the domain", field="seq")

    return handler


async def seqs_in_order(ws: Workspace) -> list[int]:
    async with ws.engine.connect() as conn:
        return list((await conn.execute(text("SELECT seq FROM effects ORDER BY id"))).scalars())


async def test_duplicates_in_a_chunk_and_across_redeliveries_are_applied_once(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer
) -> None:
    payload, topic = fresh_contract(partitions=1)
    await create_topic(bootstrap, topic)
    one, two, three = (counted(payload, key="d", seq=i) for i in (1, 2, 3))
    await send(producer, topic.name, one, one, two, one, three, two)
    group = f"g-{uuid.uuid4().hex[:8]}"
    handled: list[uuid.UUID] = []
    handlers: dict[str, EventHandler] = {payload.contract.type: record_effect}
    async with consuming(ws, bootstrap, group, topic.name, handlers, handled=handled):
        await wait_for(effects(ws, 3), timeout=30)
        await asyncio.sleep(1.0)
    assert await seqs_in_order(ws) == [1, 2, 3]
    assert await ws.scalar("SELECT count(DISTINCT at) FROM effects") == 1  # one transaction
    assert handled == [one.id, two.id, three.id]  # after_commit once per handled event
    # redelivered (the producer sent them again), and a new event after them
    four = counted(payload, key="d", seq=4)
    await send(producer, topic.name, three, one, two, four)
    async with consuming(ws, bootstrap, group, topic.name, handlers, handled=handled):
        await wait_for(effects(ws, 4), timeout=30)
        await asyncio.sleep(1.0)
    assert await seqs_in_order(ws) == [1, 2, 3, 4]
    assert await ws.scalar("SELECT count(*) FROM processed_events") == 4
    assert handled == [one.id, two.id, three.id, four.id]


async def send_to(
    producer: AIOKafkaProducer, topic: str, by_partition: dict[int, list[Envelope]]
) -> None:
    for partition, events in by_partition.items():
        for e in events:
            await producer.send_and_wait(
                topic, e.to_bytes(), key=e.subject.encode(), partition=partition
            )


async def test_a_poll_of_a_record_or_two_from_each_of_several_partitions_is_one_transaction(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer
) -> None:
    """At a low rate each partition brings a record or two per poll: handled partition by
    partition, that was a transaction each (and a record alone, its own)."""
    payload, topic = fresh_contract(partitions=4)
    await create_topic(bootstrap, topic)
    events = {p: [counted(payload, key=f"k{p}", seq=10 * p + i) for i in range(1 + p % 2)]
              for p in range(4)}  # fmt: skip
    await send_to(producer, topic.name, events)
    group = f"g-{uuid.uuid4().hex[:8]}"
    handled: list[uuid.UUID] = []
    handlers: dict[str, EventHandler] = {payload.contract.type: record_effect}
    async with consuming(ws, bootstrap, group, topic.name, handlers, handled=handled):
        await wait_for(effects(ws, 6), timeout=30)
        await asyncio.sleep(0.5)
    assert await ws.scalar("SELECT count(DISTINCT at) FROM effects") == 1
    assert await ws.scalar("SELECT count(*) FROM processed_events") == 6
    assert sorted(handled) == sorted(e.id for es in events.values() for e in es)
    for es in events.values():  # each partition's records in their order
        assert [i for i in handled if i in {e.id for e in es}] == [e.id for e in es]


async def test_a_poll_larger_than_the_batch_is_handled_partition_by_partition(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer
) -> None:
    payload, topic = fresh_contract(partitions=2)
    await create_topic(bootstrap, topic)
    events = {p: [counted(payload, key=f"k{p}", seq=10 * p + i) for i in range(3)]
              for p in range(2)}  # fmt: skip
    await send_to(producer, topic.name, events)
    group = f"g-{uuid.uuid4().hex[:8]}"
    handlers: dict[str, EventHandler] = {payload.contract.type: record_effect}
    async with consuming(ws, bootstrap, group, topic.name, handlers, batch=4):
        await wait_for(effects(ws, 6), timeout=30)
        await asyncio.sleep(0.5)
    assert await ws.scalar("SELECT count(DISTINCT at) FROM effects") == 2  # one per partition
    assert await ws.scalar("SELECT count(*) FROM processed_events") == 6


async def test_a_poison_record_in_a_poll_of_several_partitions_is_dead_lettered_alone(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer
) -> None:
    payload, topic = fresh_contract(partitions=3)
    await create_topic(bootstrap, topic)
    events = {p: [counted(payload, key=f"k{p}", seq=p + 1)] for p in range(3)}
    await send_to(producer, topic.name, events)
    group = f"g-{uuid.uuid4().hex[:8]}"
    async with consuming(ws, bootstrap, group, topic.name, {payload.contract.type: refusing(2)}):
        await wait_for(effects(ws, 2), timeout=30)
        dead = await read_topic(bootstrap, dlq_topic(group).name, at_least=1)
        await asyncio.sleep(1.0)
    assert [dict(r.headers)["dlq.error.type"] for r in dead] == [b"InvalidInput"]
    assert sorted(await seqs_in_order(ws)) == [1, 3]
    assert await ws.scalar("SELECT count(*) FROM processed_events") == 2


@pytest.mark.parametrize("undecodable", [False, True], ids=["refused", "refused+undecodable"])
async def test_a_poison_record_mid_chunk_is_dead_lettered_and_the_others_applied_once(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer, undecodable: bool
) -> None:
    payload, topic = fresh_contract(partitions=1)
    await create_topic(bootstrap, topic)

    events = [counted(payload, key="p", seq=i) for i in range(1, 7)]
    await send(producer, topic.name, *events[:2])
    if undecodable:
        await producer.send_and_wait(topic.name, b"{not json", key=b"p")
    await send(producer, topic.name, *events[2:])
    group = f"g-{uuid.uuid4().hex[:8]}"
    async with consuming(ws, bootstrap, group, topic.name, {payload.contract.type: refusing(4)}):
        await wait_for(effects(ws, 5), timeout=30)
        dead = await read_topic(bootstrap, dlq_topic(group).name, at_least=1 + undecodable)
        await asyncio.sleep(1.0)
    expected = [b"PermanentEventError"] * undecodable + [b"InvalidInput"]
    assert [dict(r.headers)["dlq.error.type"] for r in dead] == expected
    assert await seqs_in_order(ws) == [1, 2, 3, 5, 6]
    assert await ws.scalar("SELECT count(DISTINCT event_id) FROM effects") == 5
    assert await ws.scalar("SELECT count(*) FROM processed_events") == 5


async def test_a_transient_failure_mid_chunk_is_retried_without_double_application(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer
) -> None:
    payload, topic = fresh_contract(partitions=1)
    await create_topic(bootstrap, topic)
    failures = {"left": 3}

    async def flaky(session: AsyncSession, envelope: Envelope, data: EventPayload) -> None:
        assert isinstance(data, Counted)
        await record_effect(session, envelope, data)
        if data.seq == 3 and failures["left"] > 0:
            failures["left"] -= 1
            raise TransientError("database briefly unavailable")  # rolls the chunk back

    await send(producer, topic.name, *[counted(payload, key="t", seq=i) for i in range(1, 7)])
    group = f"g-{uuid.uuid4().hex[:8]}"
    async with consuming(ws, bootstrap, group, topic.name, {payload.contract.type: flaky}):
        await wait_for(effects(ws, 6), timeout=30)
        await asyncio.sleep(1.0)
    assert failures["left"] == 0
    assert await seqs_in_order(ws) == [1, 2, 3, 4, 5, 6]
    assert await ws.scalar("SELECT count(DISTINCT event_id) FROM effects") == 6
    assert await read_topic(bootstrap, dlq_topic(group).name, at_least=0, timeout=2) == []


async def test_a_consumer_killed_after_a_chunk_commit_before_its_offsets_applies_nothing_twice(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    payload, topic = fresh_contract(partitions=1)
    await create_topic(bootstrap, topic)
    await send(producer, topic.name, *[counted(payload, key="k", seq=i) for i in range(20)])
    group = f"g-{uuid.uuid4().hex[:8]}"
    suffix = payload.contract.name.removeprefix("counted-")
    marker = tmp_path / "died"
    argv = [sys.executable, "-m", "support.consumer_process", ws.dsn, ws.schema, bootstrap,
            group, topic.name, suffix, "--transaction-batch", "8"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}

    victim = await asyncio.create_subprocess_exec(*argv, "--die-after-commit", str(marker), env=env)
    assert await asyncio.wait_for(victim.wait(), timeout=120) == -9, "expected SIGKILL"
    assert marker.exists()
    # the first chunk committed as one transaction, its offsets not
    assert await ws.scalar("SELECT count(*) FROM effects") == 8
    assert await ws.scalar("SELECT count(DISTINCT at) FROM effects") == 1

    survivor = await asyncio.create_subprocess_exec(*argv, env=env)
    try:
        await wait_for(effects(ws, 20), timeout=60)
        await asyncio.sleep(1.0)
    finally:
        survivor.terminate()
        assert await asyncio.wait_for(survivor.wait(), timeout=30) == 0
    assert await ws.scalar("SELECT count(*) FROM effects") == 20
    assert await ws.scalar("SELECT count(DISTINCT event_id) FROM effects") == 20
