"""Issue 12 item 8: a transient failure on one partition backs off without holding up the
others. The failing partition is paused until its retry time while the consumer keeps
polling the rest; it stays in its group, and the failing events are then handled in order."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from support.kafka import wait_for
from support.selftest import (
    Counted,
    Workspace,
    counted,
    create_topic,
    fresh_contract,
    record_effect,
)

from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner, Subscription
from koshiqon.common.errors import TransientError
from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.events.envelope import Envelope

pytestmark = pytest.mark.integration

FAILING_FOR = 20.0  # outlasts several backoffs (1, 2, 4, 8 s ...)
LATE = 5.0  # an event of a healthy partition handled later than this waited on a backoff


async def test_a_failing_partition_backs_off_while_the_others_are_handled(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer
) -> None:
    payload, topic = fresh_contract(partitions=3)
    await create_topic(bootstrap, topic)
    failures: list[float] = []
    fail_until = {"t": float("inf")}
    handled_at: dict[tuple[str, int], float] = {}

    async def handler(session: AsyncSession, envelope: Envelope, data: EventPayload) -> None:
        assert isinstance(data, Counted)
        if data.counter == "slow" and time.monotonic() < fail_until["t"]:
            if not failures:
                fail_until["t"] = time.monotonic() + FAILING_FOR
            failures.append(time.monotonic())
            raise TransientError("the database is failing over")
        await record_effect(session, envelope, data)
        handled_at[(data.counter, data.seq)] = time.monotonic()

    for seq in range(5):  # partition 0: the failing one
        e = counted(payload, key="slow", seq=seq)
        await producer.send_and_wait(topic.name, e.to_bytes(), key=b"slow", partition=0)

    group = f"g-{uuid.uuid4().hex[:8]}"
    runner = ConsumerRunner(
        Subscription(group=group, topics=[topic.name], handlers={payload.contract.type: handler}),
        ws.sessions,
        ConsumerConfig(bootstrap=bootstrap, backoff_initial=1.0, backoff_max=10.0, max_attempts=3),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    sent_at: dict[tuple[str, int], float] = {}
    try:

        async def first_failure() -> bool:
            return bool(failures)

        await wait_for(first_failure, timeout=60)
        seq = 0
        while time.monotonic() < fail_until["t"] - 3:  # the healthy partitions, meanwhile
            for partition in (1, 2):
                e = counted(payload, key=f"fast-{partition}", seq=seq)
                await producer.send_and_wait(
                    topic.name, e.to_bytes(), key=e.subject.encode(), partition=partition
                )
                sent_at[(f"fast-{partition}", seq)] = time.monotonic()
            seq += 1
            await asyncio.sleep(0.5)

        async def all_handled() -> bool:
            return len(handled_at) == len(sent_at) + 5

        await wait_for(all_handled, timeout=90)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)

    assert len(failures) >= 4  # several backoffs, each a retry of the same event
    waits = {k: handled_at[k] - sent for k, sent in sent_at.items()}
    assert max(waits.values()) < LATE, f"healthy partitions waited: {max(waits.values()):.1f} s"
    handled_while_failing = [k for k in sent_at if handled_at[k] < fail_until["t"]]
    assert len(handled_while_failing) >= 10
    assert runner.revocations == 0  # never evicted, no rebalance
    async with ws.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT seq FROM effects WHERE counter = 'slow' ORDER BY id")
        )
        assert [r[0] for r in rows] == [0, 1, 2, 3, 4]


async def test_a_rebalance_does_not_wait_for_a_backoff(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer
) -> None:
    """A member joins while a partition backs off for 20 s: the rebalance completes well
    before the backoff ends (before, the revocation waited for the sleep under the lock, and
    with the default 10 s session the waiting member was evicted), and the failing events are
    still handled once, in order, wherever the partition went."""
    payload, topic = fresh_contract(partitions=2)
    await create_topic(bootstrap, topic)
    failures: list[float] = []

    async def handler(session: AsyncSession, envelope: Envelope, data: EventPayload) -> None:
        assert isinstance(data, Counted)
        if data.counter == "slow" and (not failures or time.monotonic() < failures[0] + 3):
            failures.append(time.monotonic())
            raise TransientError("the database is failing over")
        await record_effect(session, envelope, data)

    for seq in range(3):
        e = counted(payload, key="slow", seq=seq)
        await producer.send_and_wait(topic.name, e.to_bytes(), key=b"slow", partition=0)
    group = f"g-{uuid.uuid4().hex[:8]}"
    config = ConsumerConfig(  # a session long enough that only a wait on the backoff is slow
        bootstrap=bootstrap, backoff_initial=20.0, backoff_max=20.0, session_timeout_ms=30_000
    )
    subscription = Subscription(
        group=group, topics=[topic.name], handlers={payload.contract.type: handler}
    )
    stop = asyncio.Event()
    first = ConsumerRunner(subscription, ws.sessions, config)
    second = ConsumerRunner(subscription, ws.sessions, config)
    tasks = [asyncio.create_task(first.run(stop))]
    try:

        async def failed_once() -> bool:
            return bool(failures)

        await wait_for(failed_once, timeout=60)
        joined_at = time.monotonic()
        tasks.append(asyncio.create_task(second.run(stop)))
        await asyncio.wait_for(second.assigned.wait(), timeout=60)
        rebalance = time.monotonic() - joined_at
        assert rebalance < 12.0, f"the rebalance waited {rebalance:.1f} s on a backoff"

        async def all_handled() -> bool:
            return await ws.scalar("SELECT count(*) FROM effects") == 3

        await wait_for(all_handled, timeout=90)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    async with ws.engine.connect() as conn:
        rows = await conn.execute(text("SELECT seq FROM effects ORDER BY id"))
        assert [r[0] for r in rows] == [0, 1, 2]
