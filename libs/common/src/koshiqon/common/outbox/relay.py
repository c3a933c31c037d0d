"""The relay: one per service leads (a PostgreSQL advisory lock held as a lease), drains the
outbox into Kafka in pipelined batches, parks rows refused for good, and deletes published
rows past retention on a task of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import InvalidTopicError, MessageSizeTooLargeError
from aiokafka.structs import RecordMetadata

from koshiqon.common import metrics
from koshiqon.common.database.roles import asyncpg_dsn
from koshiqon.common.kafka import new_producer, stop_producer
from koshiqon.common.outbox.lag import lag
from koshiqon.common.outbox.lease import TRY_LOCK, LeadershipLost, Lease, lock_session

log = logging.getLogger("koshiqon.outbox")


@dataclass(frozen=True)
class RelayConfig:
    dsn: str
    schema: str
    bootstrap: str
    service: str
    batch_size: int = 1000
    max_batches_in_flight: int = 4
    # the relay looks at the outbox again `poll_floor` seconds after a look that found rows,
    # and doubles the pause with every look that found none, up to `poll_interval`
    poll_interval: float = 0.25
    poll_floor: float = 0.02
    standby_retry: float = 1.0
    # leadership is a lease on the lock's session (`Lease`): a leader frozen or cut off for
    # this long has lost the lock to a standby, and stops publishing before that can happen
    lease: float = 15.0
    # every statement of the relay's connections, the connection itself included
    statement_timeout: float = 30.0
    retention: timedelta = timedelta(hours=72)
    # the retention delete: a round every `housekeeping_interval` seconds, each round deleting
    # batches of at most `housekeeping_batch_size` rows until fewer are left past retention
    housekeeping_interval: float = 5.0
    housekeeping_batch_size: int = 5000
    # a producer that has not acknowledged a batch by then is replaced (its sequence state may
    # be wedged after a broker restart, aiokafka issue 1017); the batch is sent again
    ack_timeout: float = 60.0
    # how long a replaced producer may take to stop before its sender task is cancelled and
    # its connections closed regardless
    producer_close_timeout: float = 10.0
    # a row refused for good (`_REFUSED_FOR_GOOD`) this many times is parked: no longer
    # fetched, counted in koshiqon_outbox_parked_total, listed by `koshiqon outbox parked`
    max_attempts: int = 5

    def __post_init__(self) -> None:
        if not 0 < self.poll_floor <= self.poll_interval:
            raise ValueError("poll_floor must be positive and at most poll_interval")
        if self.lease < 1.0 or self.standby_retry >= self.lease:
            raise ValueError("lease must be at least 1 s and longer than standby_retry")


ProducerFactory = Callable[[], AIOKafkaProducer]


class ProducerStalled(Exception):
    """The producer stopped acknowledging: it is replaced and the rows are sent again."""


# what the broker or the producer says of one record that no retry can change (it is over
# the size limit, its topic name is invalid); anything else is the producer's or the broker's
# trouble, and the whole drain is tried again with a new producer
_REFUSED_FOR_GOOD = (MessageSizeTooLargeError, InvalidTopicError)


_SET_SESSION = (
    "SELECT set_config(name, value, false) FROM unnest($1::text[], $2::text[]) AS s(name, value)"
)


@dataclass
class _Batch:
    ids: list[int]
    acks: asyncio.Future[list[RecordMetadata | BaseException]]


class OutboxRelay:
    """Publishes one service's outbox. Start as many as you like: a PostgreSQL advisory lock
    keeps exactly one active, and a standby takes over when the active one's session ends
    (its lease lapses: `Lease`)."""

    def __init__(
        self, config: RelayConfig, *, producer_factory: ProducerFactory | None = None
    ) -> None:
        self.config = config
        self._producer_factory = producer_factory or (
            lambda: new_producer(config.bootstrap, client_id=f"{config.service}-outbox-relay")
        )
        self.active = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Compete for the lead until `stop` is set; lead while holding the lock."""
        while not stop.is_set():
            try:
                await self._compete(stop)
            except LeadershipLost as exc:
                log.warning("outbox.relay-lost-lead", extra={"reason": str(exc)})
                await _sleep_or_stop(stop, self.config.standby_retry)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("outbox.relay-db-error", extra={"error": repr(exc)})
                await _sleep_or_stop(stop, self.config.standby_retry)

    async def _connect(self, **session: str) -> asyncpg.Connection:
        """A connection of the relay. Its server side gives up on a peer that stops answering
        (TCP keepalives, and `tcp_user_timeout` on unacknowledged data) within the lease, so
        a host that died with its sockets open leaves no session behind; `session` adds
        settings of the connection's own. They are set by a statement rather than at
        startup, which a connection pooler in front of the server may refuse."""
        lease = self.config.lease
        settings = {
            "tcp_keepalives_idle": str(max(1, int(lease / 3))),
            "tcp_keepalives_interval": str(max(1, int(lease / 9))),
            "tcp_keepalives_count": "3",
            "tcp_user_timeout": str(int(lease * 1000)),
            **session,
        }
        conn = await asyncpg.connect(
            asyncpg_dsn(self.config.dsn),
            timeout=self.config.statement_timeout,
            command_timeout=self.config.statement_timeout,
            server_settings={
                "search_path": self.config.schema,
                "application_name": f"{self.config.service}-outbox-relay",
            },
        )
        try:
            await conn.execute(_SET_SESSION, list(settings), list(settings.values()))
        except BaseException:
            await _close(conn)
            raise
        return conn

    async def _compete(self, stop: asyncio.Event) -> None:
        conn = await self._connect(**lock_session(self.config.lease))
        try:
            while not stop.is_set():
                asked_at = time.monotonic()
                if await conn.fetchval(TRY_LOCK):
                    await self._lead(Lease(conn, seconds=self.config.lease, since=asked_at), stop)
                    return
                await _sleep_or_stop(stop, self.config.standby_retry)
        finally:
            self.active.clear()
            metrics.OUTBOX_RELAY_ACTIVE.labels(self.config.service).set(0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=5)

    async def _lead(self, lease: Lease, stop: asyncio.Event) -> None:
        """Publish while the lease holds. The lease is kept beside the publishing; when it
        fails, the publishing is cancelled where it is and `LeadershipLost` raised."""
        # a frozen relay's open snapshot would hold back vacuum: the server ends it, later
        # than any wait for acknowledgements of a healthy one
        idle_in_transaction = (self.config.ack_timeout + self.config.lease) * 1000
        conn = await self._connect(
            idle_in_transaction_session_timeout=str(int(idle_in_transaction))
        )
        try:
            marker = _Marker(await self._connect(), lease=lease, service=self.config.service)
        except BaseException:
            await _close(conn)
            raise
        self.active.set()
        metrics.OUTBOX_RELAY_ACTIVE.labels(self.config.service).set(1)
        log.info("outbox.relay-leading", extra={"schema": self.config.schema})
        # the retention delete runs beside the publish loop, on a connection of its own: a
        # slow or blocked delete never holds up publishing
        housekeeper = asyncio.create_task(self._housekeep_until_stopped(stop))
        publishing = asyncio.create_task(self._publish_until_stopped(conn, marker, lease, stop))
        keeping = asyncio.create_task(lease.keep())
        tasks = [publishing, keeping, housekeeper]
        try:
            await asyncio.wait([publishing, keeping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:  # `publishing` is still running only if the lease failed
                task.cancel()
            await asyncio.wait(tasks)
            await marker.close()
            await _close(conn)
        if not keeping.cancelled() and (failure := keeping.exception()) is not None:
            if not publishing.cancelled():
                publishing.exception()  # retrieved: the lease's failure is the one to raise
            raise failure
        publishing.result()

    async def _publish_until_stopped(
        self, conn: asyncpg.Connection, marker: _Marker, lease: Lease, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            producer = await self._start_producer(stop)
            if producer is None:
                return
            try:
                pause = self.config.poll_floor
                while not stop.is_set():
                    found = await self._drain(conn, producer, marker, lease, stop)
                    pause = self.config.poll_floor if found else self._longer(pause)
                    await _sleep_or_stop(stop, pause)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, LeadershipLost):
                raise
            except Exception as exc:  # a producer that failed is not trusted again
                log.warning("outbox.producer-failed", extra={"error": repr(exc)})
                await _sleep_or_stop(stop, 0.5)
            finally:
                await stop_producer(producer, grace=self.config.producer_close_timeout)

    def _longer(self, pause: float) -> float:
        return min(pause * 2, self.config.poll_interval)

    async def _start_producer(self, stop: asyncio.Event) -> AIOKafkaProducer | None:
        delay = 0.2
        while not stop.is_set():
            producer = self._producer_factory()
            try:
                if await _first_or_stop(producer.start(), stop):
                    return producer
                # stopped first: a start that gets no answer waits out request_timeout_ms
                await stop_producer(producer, grace=self.config.producer_close_timeout)
                return None
            except Exception as exc:
                log.warning("outbox.producer-start-failed", extra={"error": repr(exc)})
                await stop_producer(producer, grace=self.config.producer_close_timeout)
                await _sleep_or_stop(stop, delay)
                delay = min(delay * 2, 5.0)
        return None

    async def _drain(
        self,
        conn: asyncpg.Connection,
        producer: AIOKafkaProducer,
        marker: _Marker,
        lease: Lease,
        stop: asyncio.Event,
    ) -> int:
        """Publish every unpublished row visible now, keeping several batches in flight; a
        row is marked published only after the broker acknowledged it. Returns how many rows
        it found.

        All of one drain's fetches read one REPEATABLE READ snapshot. With a new snapshot per
        fetch, a row whose transaction committed late (a lower id than rows already fetched)
        would be passed over by `id > last` while a later event of its key, committed after
        it, went out first. In one snapshot, a row not yet visible hides every row committed
        after it too; the next drain, in a new snapshot, publishes them in id order."""
        in_flight: list[_Batch] = []
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                found = await self._pipeline(conn, producer, marker, lease, in_flight, stop)
        except Exception:
            # what was acknowledged or refused is recorded before the next drain's snapshot
            with contextlib.suppress(Exception):
                await marker.flush()
            raise
        else:
            await marker.flush()
        finally:
            for batch in in_flight:  # a failure abandons them: they are sent again
                batch.acks.cancel()
        return found

    async def _pipeline(
        self,
        conn: asyncpg.Connection,
        producer: AIOKafkaProducer,
        marker: _Marker,
        lease: Lease,
        in_flight: list[_Batch],
        stop: asyncio.Event,
    ) -> int:
        """Fetch batch n+1 while batch n is handed to the producer; await acknowledgements
        only when `max_batches_in_flight` batches are out. Returns how many rows it fetched."""
        lease.check()
        fetching: asyncio.Task[list[asyncpg.Record]] | None = asyncio.create_task(
            self._fetch(conn, after=0)
        )
        found = 0
        try:
            while fetching is not None or in_flight:
                if fetching is not None and stop.is_set():
                    # stopping: no further batch; those in flight are awaited and marked
                    fetching.cancel()
                    await asyncio.wait([fetching])
                    fetching = None
                    continue
                if fetching is not None and len(in_flight) < self.config.max_batches_in_flight:
                    rows = await fetching
                    found += len(rows)
                    full = len(rows) == self.config.batch_size
                    fetching = (
                        asyncio.create_task(self._fetch(conn, after=rows[-1]["id"]))
                        if full
                        else None
                    )
                    if rows:
                        in_flight.append(await _send(producer, rows, lease))
                    continue
                oldest = in_flight.pop(0)
                try:
                    results = await asyncio.wait_for(
                        asyncio.shield(oldest.acks), self.config.ack_timeout
                    )
                except TimeoutError:
                    raise ProducerStalled(
                        f"no acknowledgement within {self.config.ack_timeout:.0f}s"
                    ) from None
                published, refused, failure = _sort_out(oldest.ids, results)
                if published:
                    marker.mark(published)
                if refused:
                    marker.refuse(refused, max_attempts=self.config.max_attempts)
                if failure is not None:
                    raise failure
        finally:
            if fetching is not None:  # let it end, so the snapshot's rollback finds conn idle
                fetching.cancel()
                await asyncio.wait([fetching])
        return found

    async def _fetch(self, conn: asyncpg.Connection, *, after: int) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT id, topic, key, value, headers FROM outbox "
            "WHERE published_at IS NULL AND parked_at IS NULL AND id > $1 ORDER BY id LIMIT $2",
            after,
            self.config.batch_size,
        )
        return rows

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


async def _send(producer: AIOKafkaProducer, rows: list[asyncpg.Record], lease: Lease) -> _Batch:
    """Hand `rows` to the producer, each only while the lease holds."""
    futures: list[asyncio.Future[RecordMetadata]] = []
    for row in rows:
        headers = [(k, v.encode()) for k, v in orjson.loads(row["headers"]).items()]
        lease.check()
        try:
            futures.append(
                await producer.send(
                    row["topic"], row["value"], key=row["key"].encode(), headers=headers
                )
            )
        except _REFUSED_FOR_GOOD as exc:  # over the producer's max_request_size, say
            refused: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
            refused.set_exception(exc)
            futures.append(refused)
    return _Batch(
        ids=[row["id"] for row in rows],
        acks=asyncio.gather(*futures, return_exceptions=True),
    )


def _sort_out(
    ids: list[int], results: list[RecordMetadata | BaseException]
) -> tuple[list[int], list[tuple[int, str]], BaseException | None]:
    """The acknowledged rows, those refused for good with their error, and any other
    failure. The first two are recorded whatever the third; that one then fails the drain,
    as before: the producer is replaced and the unacknowledged rows are sent again. (After
    the broker refused a record, the idempotent producer's next batches to that partition
    fail out of sequence: that replaces it.) A row refused for good is tried again in the
    next drains until parked; once parked, its key's later events go on without it."""
    published: list[int] = []
    refused: list[tuple[int, str]] = []
    failure: BaseException | None = None
    for row_id, result in zip(ids, results, strict=True):
        if isinstance(result, _REFUSED_FOR_GOOD):
            refused.append((row_id, f"{type(result).__name__}: {result}"[:2000]))
        elif isinstance(result, BaseException):
            failure = failure or result
        else:
            published.append(row_id)
    return published, refused, failure


class _Marker:
    """Marks acknowledged rows published on a connection of its own, one statement after the
    other, while the relay goes on fetching and sending the next batches; each only while the
    lease holds."""

    def __init__(self, conn: asyncpg.Connection, *, lease: Lease, service: str) -> None:
        self._conn = conn
        self._lease = lease
        self._service = service
        self._last: asyncio.Task[None] | None = None

    def mark(self, ids: list[int]) -> None:
        self._last = asyncio.create_task(self._mark_after(self._last, ids))

    async def _mark_after(self, previous: asyncio.Task[None] | None, ids: list[int]) -> None:
        if previous is not None:
            await previous  # a failed predecessor fails this one too: flush() reports it
        self._lease.check()
        await self._conn.execute(
            "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", ids
        )
        metrics.OUTBOX_PUBLISHED.labels(self._service).inc(len(ids))

    def refuse(self, refused: list[tuple[int, str]], *, max_attempts: int) -> None:
        self._last = asyncio.create_task(self._refuse_after(self._last, refused, max_attempts))

    async def _refuse_after(
        self,
        previous: asyncio.Task[None] | None,
        refused: list[tuple[int, str]],
        max_attempts: int,
    ) -> None:
        if previous is not None:
            await previous
        self._lease.check()
        rows = await self._conn.fetch(
            "UPDATE outbox AS o SET attempts = o.attempts + 1, last_error = f.error, "
            "parked_at = CASE WHEN o.attempts + 1 >= $3 THEN now() END "
            "FROM unnest($1::bigint[], $2::text[]) AS f(id, error) WHERE o.id = f.id "
            "RETURNING o.id, o.attempts, o.parked_at IS NOT NULL AS parked",
            [row_id for row_id, _ in refused],
            [error for _, error in refused],
            max_attempts,
        )
        for row in rows:
            extra = {"outbox_id": row["id"], "attempts": row["attempts"]}
            if row["parked"]:
                metrics.OUTBOX_PARKED.labels(self._service).inc()
                log.error("outbox.row-parked", extra=extra)
            else:
                log.warning("outbox.row-refused", extra=extra)

    async def flush(self) -> None:
        if self._last is not None:
            last, self._last = self._last, None
            await last

    async def close(self) -> None:
        if self._last is not None:
            self._last.cancel()
            with contextlib.suppress(BaseException):
                await self._last
        await _close(self._conn)


async def _close(conn: asyncpg.Connection) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(), timeout=5)


async def _first_or_stop(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run `work` unless `stop` is set first (then cancel it): whether it completed."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait([task])
    if task.cancelled():
        return False
    task.result()  # raises what start() raised
    return True


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
