"""Issue 12 item 9: `max_attempts` counts only the failures that are not transient, so a
database failover — its read-only transactions, admin shutdowns, statement and lock timeouts,
raised here by the real PostgreSQL through SQLAlchemy — never dead-letters a valid event."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from support.kafka import read_topic, wait_for
from support.selftest import (
    Counted,
    Workspace,
    counted,
    create_topic,
    fresh_contract,
    record_effect,
)

from koshiqon.common.consumer import ConsumerConfig, ConsumerRunner, Subscription
from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.topics import dlq_topic

pytestmark = pytest.mark.integration

# what a failover and an overloaded primary answer: read-only transaction (the old primary
# demoted), admin shutdown, cannot connect now, statement timeout, lock timeout, deadlock
FAILOVER_SQLSTATES = ["25006", "57P01", "57P03", "57014", "55P03", "40P01"]


async def test_a_failover_does_not_dead_letter_a_valid_event(
    ws: Workspace, bootstrap: str, producer: AIOKafkaProducer
) -> None:
    payload, topic = fresh_contract(partitions=1)
    await create_topic(bootstrap, topic)
    failures = [*FAILOVER_SQLSTATES, "bug"]  # then one defect: attempt 1 of max_attempts
    raised: list[str] = []

    async def failing_over(session: AsyncSession, envelope: Envelope, data: EventPayload) -> None:
        assert isinstance(data, Counted)
        if data.seq == 1 and failures:
            failure = failures.pop(0)
            raised.append(failure)
            if failure == "bug":
                raise ValueError("a defect that a retry may get past")
            await session.execute(
                text(f"DO $$ BEGIN RAISE EXCEPTION 'failover' USING ERRCODE = '{failure}'; END $$")
            )
        await record_effect(session, envelope, data)

    await producer.send_and_wait(topic.name, counted(payload, key="f", seq=1).to_bytes(), key=b"f")
    group = f"g-{uuid.uuid4().hex[:8]}"
    runner = ConsumerRunner(
        Subscription(
            group=group, topics=[topic.name], handlers={payload.contract.type: failing_over}
        ),
        ws.sessions,
        ConsumerConfig(bootstrap=bootstrap, backoff_initial=0.05, backoff_max=0.5, max_attempts=2),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:

        async def handled() -> bool:
            return await ws.scalar("SELECT count(*) FROM effects") == 1

        await wait_for(handled, timeout=60)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)
    assert raised == [*FAILOVER_SQLSTATES, "bug"]
    assert await read_topic(bootstrap, dlq_topic(group).name, at_least=0, timeout=2) == []
