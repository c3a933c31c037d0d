"""`koshiqon-monitoring rebuild`: every topic replayed from its start into fresh copies of the
projection tables (`rb_*`), swapped in at once while the API keeps answering from the old
ones (`p_*`).

1. Fresh `rb_*` tables, `CREATE TABLE ... (LIKE p_* INCLUDING ALL)`, and `rb_processed`
   (the replay's own idempotency: a topic holds an event twice after a producer retry).
2. A consumer outside any group reads every partition from its beginning up to the end
   offsets taken at the start, applying the events to `rb_*` in batches of transactions
   (`MONITORING_REBUILD_BATCH_SIZE` records each, their changes at once: `apply_many`). The
   live consumer goes on meanwhile.
3. The swap, one transaction: the projections' gate taken exclusive (every projecting
   transaction holds it shared, so those in flight finish first and new ones wait), the
   events published since step 2 replayed up to the ends now, every replayed event marked in
   `processed_events` for the live group (the live consumer then skips those it had not
   reached: they are in the new tables already), `p_*` dropped and `rb_*` renamed in their
   place. Readers block only for the moment of the DROP and then read the new tables
   (PostgreSQL resolves a waiting statement's table names again after the lock).
4. The §8 rule evaluated for every region: the alerts table is not rebuilt, so an alert
   raised before is not raised a second time; only a real change is published.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord, TopicPartition
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from koshiqon.common.events.contracts import REGISTRY, EventPayload, decode
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.kafka import security_settings
from koshiqon.monitoring.adapters.repository.sql import PROJECTION_GATE, every, one, run
from koshiqon.monitoring.adapters.tables import LIVE, PROJECTION_TABLES, REBUILD
from koshiqon.monitoring.domain.model import PROJECTORS, project
from koshiqon.monitoring.unit_of_work import SqlUnitOfWork

log = logging.getLogger("koshiqon.monitoring.rebuild")

REBUILD_LOCK = 0x72656275696C64  # "rebuild": one rebuild at a time
PROJECTED = frozenset(payload.contract.type for payload in PROJECTORS)


class RebuildRunning(Exception):
    """Another rebuild holds the lock."""


@dataclass
class RebuildReport:
    replayed: int = 0  # events applied to the new tables
    duplicates: int = 0  # the same event id again in a topic
    skipped: int = 0  # records no projection reads, or that no contract knows
    seconds: float = 0.0
    ends: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> offset


Hook = Callable[[str], Awaitable[None]]


async def rebuild(
    engine: AsyncEngine,
    *,
    bootstrap: str,
    topics: Sequence[str],
    group: str,
    batch_size: int = 2000,
    before_swap: Hook | None = None,
) -> RebuildReport:
    """Replays `topics` into fresh tables and swaps them in (the module doc). `group` is the
    live consumer group whose `processed_events` the replayed events are marked in.
    `before_swap` runs between the replay and the swap (a test publishes more there)."""
    started = time.monotonic()
    report = RebuildReport()
    async with engine.connect() as guard:
        held = await one(guard, "SELECT pg_try_advisory_lock(:key) AS held", key=REBUILD_LOCK)
        await guard.commit()
        if held is None or not held.held:
            raise RebuildRunning("another rebuild is running")
        try:
            await _fresh_tables(engine)
            consumer = AIOKafkaConsumer(
                **security_settings(), bootstrap_servers=bootstrap, group_id=None,
                enable_auto_commit=False,
                isolation_level="read_committed", client_id="monitoring-rebuild",
            )  # fmt: skip
            await consumer.start()
            try:
                partitions = await _partitions(bootstrap, topics)
                consumer.assign(partitions)
                await consumer.seek_to_beginning(*partitions)
                ends = await consumer.end_offsets(partitions)
                async with engine.connect() as connection:
                    await _replay(consumer, connection, ends, report, batch_size=batch_size)
                if before_swap is not None:
                    await before_swap("replayed")
                async with engine.connect() as connection:
                    await _swap(consumer, connection, partitions, group, report)
            finally:
                await consumer.stop()
        finally:
            await run(guard, "SELECT pg_advisory_unlock(:key)", key=REBUILD_LOCK)
            await guard.commit()
    report.seconds = time.monotonic() - started
    log.info(
        "monitoring.rebuilt",
        extra={"replayed": report.replayed, "duplicates": report.duplicates,
               "skipped": report.skipped, "seconds": round(report.seconds, 3)},
    )  # fmt: skip
    return report


async def _fresh_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        for name in PROJECTION_TABLES:
            await run(connection, f"DROP TABLE IF EXISTS {REBUILD}{name}")
            await run(connection, f"CREATE TABLE {REBUILD}{name} (LIKE {LIVE}{name} INCLUDING ALL)")
        await run(connection, "DROP TABLE IF EXISTS rb_processed")
        await run(
            connection,
            "CREATE TABLE rb_processed (event_id uuid PRIMARY KEY, event_type text NOT NULL)",
        )
        await connection.commit()


async def _partitions(bootstrap: str, topics: Sequence[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(**security_settings(), bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    out: list[TopicPartition] = []
    for topic in described:
        if topic.get("error_code") or not topic.get("partitions"):
            raise LookupError(f"topic {topic.get('topic')} does not exist")
        numbers = sorted(p["partition"] for p in topic["partitions"])
        out += [TopicPartition(topic["topic"], n) for n in numbers]
    return out


def _caught_up(consumer: AIOKafkaConsumer, positions: dict[TopicPartition, int],
               ends: dict[TopicPartition, int]) -> bool:  # fmt: skip
    return all(positions.get(tp, -1) >= end or end == 0 for tp, end in ends.items())


async def _replay(
    consumer: AIOKafkaConsumer,
    connection: AsyncConnection,
    ends: dict[TopicPartition, int],
    report: RebuildReport,
    *,
    batch_size: int,
    commit_each: bool = True,
) -> None:
    positions: dict[TopicPartition, int] = {}
    for tp in ends:
        positions[tp] = await consumer.position(tp)
    while not _caught_up(consumer, positions, ends):
        batch = await consumer.getmany(timeout_ms=500, max_records=batch_size)
        records = [r for rs in batch.values() for r in rs]
        for tp in batch:
            positions[tp] = await consumer.position(tp)
        if not records:
            continue
        await _apply(connection, records, report)
        if commit_each:
            await connection.commit()
    for tp, end in ends.items():
        report.ends[f"{tp.topic}:{tp.partition}"] = end


async def _apply(
    connection: AsyncConnection,
    records: Sequence[ConsumerRecord[bytes, bytes]],
    report: RebuildReport,
) -> None:
    """A batch of records into `rb_*`, in order: their `rb_processed` rows in one statement
    (an id seen before, or earlier in the batch, is a duplicate), then the new events'
    changes at once (`apply_many`, the tables as applying each in turn leaves them)."""
    fresh: dict[UUID, tuple[Envelope, EventPayload]] = {}
    for record in records:
        try:
            envelope = Envelope.from_bytes(record.value)
            contract = REGISTRY.get(envelope.type)
        except Exception:  # not an envelope, or no contract knows it: the live consumer
            report.skipped += 1  # dead-letters it, the replay leaves it out likewise
            continue
        if contract.type not in PROJECTED:
            report.skipped += 1
            continue
        if envelope.id in fresh:
            report.duplicates += 1
            continue
        fresh[envelope.id] = (envelope, decode(envelope))
    if not fresh:
        return
    inserted = await every(
        connection,
        "INSERT INTO rb_processed (event_id, event_type) SELECT e.event_id, e.event_type "
        "FROM unnest(CAST(:ids AS uuid[]), CAST(:types AS text[])) AS e(event_id, event_type) "
        "ON CONFLICT DO NOTHING RETURNING event_id",
        ids=list(fresh), types=[envelope.type for envelope, _ in fresh.values()],
    )  # fmt: skip
    new = {row.event_id for row in inserted}
    report.duplicates += len(fresh) - len(new)
    changes = [project(payload) for event_id, (_, payload) in fresh.items() if event_id in new]
    async with SqlUnitOfWork(connection, prefix=REBUILD) as uow:
        await uow.projections.apply_many(changes)
    report.replayed += len(changes)


async def _swap(
    consumer: AIOKafkaConsumer,
    connection: AsyncConnection,
    partitions: list[TopicPartition],
    group: str,
    report: RebuildReport,
) -> None:
    await run(connection, "SELECT pg_advisory_xact_lock(:key)", key=PROJECTION_GATE)
    ends = await consumer.end_offsets(partitions)
    await _replay(consumer, connection, ends, report, batch_size=5000, commit_each=False)
    await run(
        connection,
        "INSERT INTO processed_events (consumer, event_id, event_type) SELECT :group, event_id, "
        "event_type FROM rb_processed ON CONFLICT DO NOTHING",
        group=group,
    )
    for name in PROJECTION_TABLES:
        await run(connection, f"DROP TABLE {LIVE}{name}")
        await run(connection, f"ALTER TABLE {REBUILD}{name} RENAME TO {LIVE}{name}")
    await run(connection, "DROP TABLE rb_processed")
    await connection.commit()
