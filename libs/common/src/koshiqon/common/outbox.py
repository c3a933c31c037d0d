"""The transactional outbox: events are rows written in the same transaction as the state
change that caused them, and one relay per service publishes them to Kafka.

Ordering: rows are claimed in id order, one aggregate's writes serialize on that
aggregate's row lock, and each drain reads one snapshot (a late commit with a lower id waits
for the next drain together with everything committed after it), so one key's events reach
Kafka in the order they were committed.
Delivery is at least once (a crash between the broker's acknowledgement and marking the
row published republishes it); consumers deduplicate by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from koshiqon.common import metrics
from koshiqon.common.database.driver import Connection as DriverConnection
from koshiqon.common.database.driver import driver_connection
from koshiqon.common.database.roles import asyncpg_dsn
from koshiqon.common.events.contracts import REGISTRY
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.kafka import new_producer

log = logging.getLogger("koshiqon.outbox")

# one round trip: the rows and the wake-up of the relay (delivered when the transaction
# commits; PostgreSQL folds a transaction's identical notifications into one)
_INSERT_AND_NOTIFY = (
    "WITH inserted AS ("
    " INSERT INTO outbox (event_id, topic, key, event_type, value, headers)"
    " SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[],"
    "  $6::jsonb[])"
    " RETURNING 1) "
    "SELECT pg_notify('outbox_' || current_schema(), '') FROM (SELECT count(*) FROM inserted) AS n"
)


async def add(target: AsyncSession | AsyncConnection | DriverConnection, *events: Envelope) -> None:
    """Write events into the outbox inside the caller's transaction: a SQLAlchemy session's or
    Core connection's, or an asyncpg connection's. Nothing is published unless that
    transaction commits."""
    if not events:
        return
    conn = await driver_connection(target)
    await conn.execute(_INSERT_AND_NOTIFY, *_outbox_columns(events))


def _outbox_columns(events: Sequence[Envelope]) -> tuple[list[Any], ...]:
    return (
        [event.id for event in events],
        [REGISTRY.get(event.type).topic for event in events],
        [event.subject for event in events],
        [event.type for event in events],
        [event.to_bytes() for event in events],
        [orjson.dumps(_headers(event)).decode() for event in events],
    )


def _headers(event: Envelope) -> dict[str, str]:
    """CloudEvents attributes a consumer can route on without parsing the value."""
    return {
        "ce_id": str(event.id),
        "ce_type": event.type,
        "ce_source": event.source,
        "ce_specversion": event.specversion,
        "content-type": "application/cloudevents+json",
        "correlationid": event.correlationid,
        "traceparent": event.traceparent,
    }


@dataclass(frozen=True)
class Lag:
    unpublished: int
    oldest_age_seconds: float


async def lag(conn: asyncpg.Connection) -> Lag:
    row = await conn.fetchrow(
        "SELECT count(*) AS n, "
        "coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age "
        "FROM outbox WHERE published_at IS NULL"
    )
    assert row is not None
    return Lag(unpublished=int(row["n"]), oldest_age_seconds=float(row["age"]))


async def outbox_lag(dsn: str, *, schema: str) -> Lag:
    """The lag of one service's outbox, on a connection of its own (for health and tests)."""
    conn = await asyncpg.connect(asyncpg_dsn(dsn), server_settings={"search_path": schema})
    try:
        return await lag(conn)
    finally:
        await conn.close()


@dataclass(frozen=True)
class RelayConfig:
    dsn: str
    schema: str
    bootstrap: str
    service: str
    batch_size: int = 1000
    max_batches_in_flight: int = 4
    poll_interval: float = 1.0
    standby_retry: float = 1.0
    retention: timedelta = timedelta(hours=72)
    # the retention delete: a round every `housekeeping_interval` seconds, each round deleting
    # batches of at most `housekeeping_batch_size` rows until fewer are left past retention
    housekeeping_interval: float = 5.0
    housekeeping_batch_size: int = 5000
    # a producer that has not acknowledged a batch by then is replaced (its sequence state may
    # be wedged after a broker restart, aiokafka issue 1017); the batch is sent again
    ack_timeout: float = 60.0


ProducerFactory = Callable[[], AIOKafkaProducer]


class ProducerStalled(Exception):
    """The producer stopped acknowledging: it is replaced and the rows are sent again."""


@dataclass
class _Batch:
    ids: list[int]
    acks: asyncio.Future[list[RecordMetadata]]


class OutboxRelay:
    """Publishes one service's outbox. Start as many as you like: a PostgreSQL advisory lock
    keeps exactly one active, and a standby takes over when the active one's session ends."""

    def __init__(
        self, config: RelayConfig, *, producer_factory: ProducerFactory | None = None
    ) -> None:
        self.config = config
        self._producer_factory = producer_factory or (
            lambda: new_producer(config.bootstrap, client_id=f"{config.service}-outbox-relay")
        )
        self.active = asyncio.Event()
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Compete for the lead until `stop` is set; lead while holding the lock."""
        while not stop.is_set():
            try:
                await self._compete(stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("outbox.relay-db-error", extra={"error": repr(exc)})
                await _sleep_or_stop(stop, self.config.standby_retry)

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            asyncpg_dsn(self.config.dsn),
            server_settings={
                "search_path": self.config.schema,
                "application_name": f"{self.config.service}-outbox-relay",
            },
        )

    async def _compete(self, stop: asyncio.Event) -> None:
        conn = await self._connect()
        try:
            while not stop.is_set():
                locked = await conn.fetchval(
                    "SELECT pg_try_advisory_lock(hashtext('koshiqon.outbox.' || current_schema()))"
                )
                if locked:
                    await self._lead(conn, stop)
                    return
                await _sleep_or_stop(stop, self.config.standby_retry)
        finally:
            self.active.clear()
            metrics.OUTBOX_RELAY_ACTIVE.labels(self.config.service).set(0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=5)

    async def _lead(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        channel = f"outbox_{self.config.schema}"
        await conn.add_listener(channel, self._on_notify)
        marker = _Marker(await self._connect(), service=self.config.service)
        self.active.set()
        metrics.OUTBOX_RELAY_ACTIVE.labels(self.config.service).set(1)
        log.info("outbox.relay-leading", extra={"schema": self.config.schema})
        # the retention delete runs beside the publish loop, on a connection of its own: a
        # slow or blocked delete never holds up publishing
        housekeeper = asyncio.create_task(self._housekeep_until_stopped(stop))
        try:
            await self._publish_until_stopped(conn, marker, stop)
        finally:
            housekeeper.cancel()
            await asyncio.wait([housekeeper])
            await marker.close()
            with contextlib.suppress(Exception):
                await conn.remove_listener(channel, self._on_notify)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _publish_until_stopped(
        self, conn: asyncpg.Connection, marker: _Marker, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            producer = await self._start_producer(stop)
            if producer is None:
                return
            try:
                while not stop.is_set():
                    self._wake.clear()
                    await self._drain(conn, producer, marker)
                    await _wait_any(stop, self._wake, self.config.poll_interval)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                raise
            except Exception as exc:  # a producer that failed is not trusted again
                log.warning("outbox.producer-failed", extra={"error": repr(exc)})
                await _sleep_or_stop(stop, 0.5)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), timeout=10)

    async def _start_producer(self, stop: asyncio.Event) -> AIOKafkaProducer | None:
        delay = 0.2
        while not stop.is_set():
            producer = self._producer_factory()
            try:
                await producer.start()
                return producer
            except Exception as exc:
                log.warning("outbox.producer-start-failed", extra={"error": repr(exc)})
                with contextlib.suppress(Exception):
                    await producer.stop()
                await _sleep_or_stop(stop, delay)
                delay = min(delay * 2, 5.0)
        return None

    async def _drain(
        self, conn: asyncpg.Connection, producer: AIOKafkaProducer, marker: _Marker
    ) -> None:
        """Publish every unpublished row visible now, keeping several batches in flight; a
        row is marked published only after the broker acknowledged it.

        All of one drain's fetches read one REPEATABLE READ snapshot. With a new snapshot per
        fetch, a row whose transaction committed late (a lower id than rows already fetched)
        would be passed over by `id > last` while a later event of its key, committed after
        it, went out first. In one snapshot, a row not yet visible hides every row committed
        after it too; the next drain, in a new snapshot, publishes them in id order."""
        in_flight: list[_Batch] = []
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                await self._pipeline(conn, producer, marker, in_flight)
            await marker.flush()
        finally:
            for batch in in_flight:  # a failure abandons them: they are sent again
                batch.acks.cancel()

    async def _pipeline(
        self,
        conn: asyncpg.Connection,
        producer: AIOKafkaProducer,
        marker: _Marker,
        in_flight: list[_Batch],
    ) -> None:
        """Fetch batch n+1 while batch n is handed to the producer; await acknowledgements
        only when `max_batches_in_flight` batches are out."""
        fetching: asyncio.Task[list[asyncpg.Record]] | None = asyncio.create_task(
            self._fetch(conn, after=0)
        )
        try:
            while fetching is not None or in_flight:
                if fetching is not None and len(in_flight) < self.config.max_batches_in_flight:
                    rows = await fetching
                    full = len(rows) == self.config.batch_size
                    fetching = (
                        asyncio.create_task(self._fetch(conn, after=rows[-1]["id"]))
                        if full
                        else None
                    )
                    if rows:
                        in_flight.append(await self._send(producer, rows))
                    continue
                oldest = in_flight.pop(0)
                try:
                    await asyncio.wait_for(asyncio.shield(oldest.acks), self.config.ack_timeout)
                except TimeoutError:
                    raise ProducerStalled(
                        f"no acknowledgement within {self.config.ack_timeout:.0f}s"
                    ) from None
                marker.mark(oldest.ids)
        finally:
            if fetching is not None:  # let it end, so the snapshot's rollback finds conn idle
                fetching.cancel()
                await asyncio.wait([fetching])

    async def _fetch(self, conn: asyncpg.Connection, *, after: int) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT id, topic, key, value, headers FROM outbox "
            "WHERE published_at IS NULL AND id > $1 ORDER BY id LIMIT $2",
            after,
            self.config.batch_size,
        )
        return rows

    @staticmethod
    async def _send(producer: AIOKafkaProducer, rows: list[asyncpg.Record]) -> _Batch:
        futures = []
        for row in rows:
            headers = [(k, v.encode()) for k, v in orjson.loads(row["headers"]).items()]
            futures.append(
                await producer.send(
                    row["topic"], row["value"], key=row["key"].encode(), headers=headers
                )
            )
        return _Batch(ids=[row["id"] for row in rows], acks=asyncio.gather(*futures))

    async def _housekeep_until_stopped(self, stop: asyncio.Event) -> None:
        conn: asyncpg.Connection | None = None
        try:
            while not stop.is_set():
                try:
                    if conn is None:
                        conn = await self._connect()
                    await self._housekeeping(conn, stop)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("outbox.housekeeping-failed", extra={"error": repr(exc)})
                    if conn is not None:
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(conn.close(), timeout=5)
                        conn = None
                await _sleep_or_stop(stop, self.config.housekeeping_interval)
        finally:
            if conn is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(conn.close(), timeout=5)

    async def _housekeeping(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        """Delete what is past retention in batches (each its own short transaction, found
        through ix_outbox_published_at) until a batch comes back short, so a round keeps up
        with any write rate; then refresh the lag gauges."""
        while not stop.is_set():
            status = await conn.execute(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox "
                "WHERE published_at IS NOT NULL AND published_at < now() - $1::interval "
                "ORDER BY published_at LIMIT $2)",
                self.config.retention,
                self.config.housekeeping_batch_size,
            )
            if int(status.rsplit(" ", 1)[-1]) < self.config.housekeeping_batch_size:
                break
        current = await lag(conn)
        metrics.OUTBOX_UNPUBLISHED.labels(self.config.service).set(current.unpublished)
        metrics.OUTBOX_OLDEST_AGE.labels(self.config.service).set(current.oldest_age_seconds)


class _Marker:
    """Marks acknowledged rows published on a connection of its own, one statement after the
    other, while the relay goes on fetching and sending the next batches."""

    def __init__(self, conn: asyncpg.Connection, *, service: str) -> None:
        self._conn = conn
        self._service = service
        self._last: asyncio.Task[None] | None = None

    def mark(self, ids: list[int]) -> None:
        self._last = asyncio.create_task(self._mark_after(self._last, ids))

    async def _mark_after(self, previous: asyncio.Task[None] | None, ids: list[int]) -> None:
        if previous is not None:
            await previous  # a failed predecessor fails this one too: flush() reports it
        await self._conn.execute(
            "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", ids
        )
        metrics.OUTBOX_PUBLISHED.labels(self._service).inc(len(ids))

    async def flush(self) -> None:
        if self._last is not None:
            last, self._last = self._last, None
            await last

    async def close(self) -> None:
        if self._last is not None:
            self._last.cancel()
            with contextlib.suppress(BaseException):
                await self._last
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._conn.close(), timeout=5)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
