"""The real broker in the proposals tests: a consumer group that starts at the topics' ends,
a raw producer of other services' events, and the events that reached a topic for some keys."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from support.services import ServiceSchema

from koshiqon.common.events.contracts import EventPayload, make_event
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.outbox import OutboxRelay
from koshiqon.common.service import outbox_relay
from koshiqon.common.topics import CONTEXT_TOPICS
from koshiqon.common.worker import run_components
from koshiqon.proposals.bootstrap import build_worker
from koshiqon.proposals.config import ProposalsSettings


def envelope(payload: EventPayload, subject: object, *, source: str = "/test") -> Envelope:
    return make_event(payload, subject=str(subject), source=source, correlation_id="proposals-test")


async def start_at_the_end(bootstrap: str, group: str, topics: Iterable[str]) -> None:
    """Commit the new group's offsets at the topics' ends: it sees only this test's events."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        counts = {spec.name: spec.partitions for spec in CONTEXT_TOPICS}
        partitions = [TopicPartition(t, n) for t in topics for n in range(counts[t])]
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit(dict(ends.items()))
    finally:
        await consumer.stop()


async def produce(bootstrap: str, topic: str, events: Iterable[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for e in events:
            await producer.send_and_wait(topic, e.to_bytes(), key=e.subject.encode())
    finally:
        await producer.stop()


async def topic_events(
    bootstrap: str, topic: str, subjects: set[str], *, at_least: int, settle: float = 1.0
) -> list[Envelope]:
    """The events of `subjects` on `topic`, once `at_least` came and `settle` s passed with
    no more (so duplicates beyond the count show)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest")  # fmt: skip
    await consumer.start()
    found: list[Envelope] = []
    quiet = 0.0
    try:
        async with asyncio.timeout(60):
            while len(found) < at_least or quiet < settle:
                batch = await consumer.getmany(timeout_ms=250, max_records=5000)
                records = [r for rs in batch.values() for r in rs]
                new = [Envelope.from_bytes(r.value) for r in records
                       if r.key is not None and r.key.decode() in subjects]  # fmt: skip
                found += new
                quiet = 0.0 if new or records else quiet + 0.25
    finally:
        await consumer.stop()
    return found


def handled(schema: ServiceSchema, events: Iterable[Envelope]) -> Callable[[], Awaitable[bool]]:
    """Whether every one of `events` was handled by the consumer (in processed_events)."""
    ids = list({e.id for e in events})

    async def reached() -> bool:
        sql = "SELECT count(*) FROM processed_events WHERE event_id = ANY(:ids)"
        return await schema.scalar(sql, ids=ids) == len(ids)

    return reached


@asynccontextmanager
async def running_worker(
    settings: ProposalsSettings,
    bootstrap: str,
    *,
    now: Callable[[], datetime],
    relay: bool = True,
) -> AsyncIterator[str]:
    """The proposals worker (relay, consumer, follow-up) as a group of its own; without its
    outbox relay when `relay` is False (a test then runs `running_relay` when it wants its
    events on the broker)."""
    group = f"proposals-test-{uuid.uuid4().hex[:8]}"
    await start_at_the_end(bootstrap, group, ["quota.v1", "monitoring.v1"])
    stop = asyncio.Event()
    async with build_worker(settings, now=now, group=group) as components:
        chosen = [
            c
            for c in components
            if relay or not isinstance(getattr(c, "__self__", None), OutboxRelay)
        ]
        assert relay or len(chosen) == len(components) - 1
        task = asyncio.create_task(run_components(chosen, stop=stop))
        try:
            yield group
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)


@asynccontextmanager
async def running_relay(settings: ProposalsSettings) -> AsyncIterator[None]:
    """The service's outbox relay, publishing until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(outbox_relay(settings).run(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)
