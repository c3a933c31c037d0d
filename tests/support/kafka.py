"""Reading what actually reached a topic, from its beginning, without a consumer group."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from koshiqon.common.events.envelope import Envelope


async def read_topic(
    bootstrap: str, topic: str, *, at_least: int, timeout: float = 30.0, settle: float = 1.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on `topic`, once `at_least` have arrived and no more came for `settle`
    seconds (so a test also sees duplicates beyond the expected count)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            new = [r for rs in batch.values() for r in rs]
            records.extend(new)
            now = time.monotonic()
            if new:
                quiet_since = now
            elif len(records) >= at_least and now - quiet_since >= settle:
                break
        return records
    finally:
        await consumer.stop()


def envelopes(records: list[ConsumerRecord[bytes, bytes]]) -> list[Envelope]:
    return [Envelope.from_bytes(r.value) for r in records]


async def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.1) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        if await predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


async def send(producer: AIOKafkaProducer, topic: str, *events: Envelope) -> None:
    """Each envelope as one record, keyed by its subject, acknowledged before the next."""
    for e in events:
        await producer.send_and_wait(topic, e.to_bytes(), key=e.subject.encode())
