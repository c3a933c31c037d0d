"""The consumer runner: polls a group's topics, handles each event in one transaction with its
`processed_events` row (or a chunk of a partition's records in one, `transaction_batch`),
backs a failing partition off, dead-letters, commits. The behaviour is described in the
package's docstring (`koshiqon.common.consumer`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from koshiqon.common import health, logs, metrics
from koshiqon.common.consumer.config import ConsumerConfig, EventHandler, Subscription
from koshiqon.common.consumer.failures import (
    DLQ_HEADER_PREFIX,
    Retry,
    error_headers,
    is_permanent,
    is_transient,
)
from koshiqon.common.events.contracts import REGISTRY, EventPayload, decode
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.kafka import new_producer, security_settings
from koshiqon.common.topics import dlq_topic, ensure_topics

log = logging.getLogger("koshiqon.consumer")


class ConsumerRunner:
    def __init__(
        self,
        subscription: Subscription,
        sessions: async_sessionmaker[AsyncSession],
        config: ConsumerConfig,
    ) -> None:
        self.subscription = subscription
        self.sessions = sessions
        self.config = config
        self._lock = asyncio.Lock()
        self._pending: dict[TopicPartition, int] = {}
        self._attempts: dict[tuple[TopicPartition, int], int] = {}  # non-transient failures
        self._failures: dict[tuple[TopicPartition, int], int] = {}  # every failure: backoff
        self._paused: dict[TopicPartition, float] = {}  # backing off until (monotonic time)
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self.assigned = asyncio.Event()
        self.replacements = 0  # consumers replaced for having stayed out of the group
        self._in_group = False
        self._out_since = time.monotonic()
        self.revocations = 0  # rebalances that took partitions away from this consumer
        self.start_failures = 0  # starts that failed (the broker away, the DLQ refused)
        self.commit_failures = 0  # offset commits that failed (their offsets stay pending)

    @property
    def group(self) -> str:
        return self.subscription.group

    def readiness_check(self) -> health.ReadinessCheck:
        """Fails while the group's dead-letter topic is missing (the consumer does not
        consume without it). For the readiness probe of the process running this consumer."""
        return health.dlq_check(self.config.bootstrap, self.group)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop`. Brokers that are away at the start, or when a consumer is
        replaced, are waited for (a pause of `backoff_max` between attempts)."""
        try:
            while not stop.is_set():
                if await self._start(stop):
                    await self._poll(stop)
        finally:
            await self._shutdown()

    async def _start(self, stop: asyncio.Event) -> bool:
        """The dead-letter topic and producer (once), then a new consumer; on a broker
        error, or a dead-letter topic the broker refuses to create, a pause and False: the
        consumer does not consume while it could not set a poison event aside."""
        try:
            if self._producer is None:
                await ensure_topics(
                    self.config.bootstrap,
                    [dlq_topic(self.group)],
                    replication_factor=self.config.dlq_replication_factor,
                )
                producer = new_producer(self.config.bootstrap, client_id=f"{self.group}-dlq")
                try:
                    await producer.start()
                except BaseException:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    raise
                self._producer = producer
            self._consumer = self._new_consumer()
            self._left_group()
            await self._consumer.start()
            return True
        except KafkaError as exc:
            self.start_failures += 1
            log.warning("consumer.start-failed", extra={"group": self.group, "error": repr(exc)})
            await self._close_consumer()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.config.backoff_max)
            return False

    def _new_consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            **security_settings(),
            bootstrap_servers=self.config.bootstrap,
            group_id=self.group,
            client_id=f"{self.group}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            session_timeout_ms=self.config.session_timeout_ms,
            heartbeat_interval_ms=self.config.heartbeat_interval_ms,
            max_poll_records=self.config.max_records,
            fetch_max_wait_ms=self.config.fetch_max_wait_ms,
        )
        consumer.subscribe(list(self.subscription.topics), listener=_Rebalance(self))
        return consumer

    async def _poll(self, stop: asyncio.Event) -> None:
        """Poll and handle until `stop`, or until the consumer has stayed out of its group
        past `rejoin_timeout`: then it is closed, and `run` starts another."""
        assert self._consumer is not None
        while not stop.is_set():
            self._resume_due()
            batch = await self._consumer.getmany(
                timeout_ms=self._poll_timeout_ms(), max_records=self.config.max_records
            )
            if batch:
                await self._handle_batch(batch, stop)
            elif self._stalled():
                await self._replace()
                return

    def _poll_timeout_ms(self) -> int:
        """The poll wait, shortened so that a paused partition resumes at its retry time."""
        timeout = self.config.poll_timeout_ms
        if self._paused:
            due = min(self._paused.values()) - time.monotonic()
            timeout = min(timeout, max(int(due * 1000) + 1, 0))
        return timeout

    def _back_off(self, tp: TopicPartition, offset: int, delay: float) -> None:
        """Fetch `tp` again from `offset`, but not before `delay` seconds from now."""
        assert self._consumer is not None
        self._consumer.seek(tp, offset)
        self._consumer.pause(tp)
        self._paused[tp] = time.monotonic() + delay

    def _resume_due(self) -> None:
        if not self._paused or self._consumer is None:
            return
        now = time.monotonic()
        due = [tp for tp, at in self._paused.items() if at <= now]
        for tp in due:
            del self._paused[tp]
        assignment = self._consumer.assignment()
        if resumed := [tp for tp in due if tp in assignment]:
            self._consumer.resume(*resumed)

    def _on_assigned(self, assigned: Any) -> None:
        """A rebalance resumes every partition; one still backing off is paused again (its
        position is its committed offset, the failed record's, since nothing past it was
        committed)."""
        assigned = set(assigned)
        for tp in [tp for tp in self._paused if tp not in assigned]:
            del self._paused[tp]
        if self._consumer is not None and self._paused:
            self._consumer.pause(*self._paused)

    def _left_group(self) -> None:
        self._in_group = False
        self._out_since = time.monotonic()

    def _stalled(self) -> bool:
        out = time.monotonic() - self._out_since
        return not self._in_group and out > self.config.rejoin_timeout

    async def _replace(self) -> None:
        """Close a consumer stuck out of its group. Offsets it could not commit are lost with
        it; their events are in `processed_events` already, so redelivery skips them."""
        self.replacements += 1
        metrics.CONSUMER_REPLACED.labels(self.group).inc()
        log.warning(
            "consumer.replaced-out-of-group",
            extra={"group": self.group, "seconds": round(time.monotonic() - self._out_since)},
        )
        self._pending.clear()
        await self._close_consumer()

    async def _close_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        self._paused.clear()  # a new consumer fetches from the committed offsets
        if consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), timeout=self.config.kafka_timeout)

    async def _shutdown(self) -> None:
        async with self._lock:
            await self._commit_pending()
        with contextlib.suppress(Exception):
            if self._consumer is not None:
                await self._consumer.stop()
        with contextlib.suppress(Exception):
            if self._producer is not None:
                await self._producer.stop()

    async def _handle_batch(
        self,
        batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]],
        stop: asyncio.Event,
    ) -> None:
        async with self._lock:
            if not await self._handle_poll_at_once(batch):
                for tp, records in batch.items():
                    await self._handle_partition(tp, records)
                    if stop.is_set():
                        break
            await self._commit_pending()

    async def _handle_poll_at_once(
        self, batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]]
    ) -> bool:
        """A poll of several partitions, `transaction_batch` records or fewer in all, in one
        transaction (`_handle_chunk`): at a steady low rate a poll brings a record or two
        from each of many partitions, and a transaction per partition, a record's own for a
        single one, multiplied the commits by the partitions. Each partition's records stay
        in their order. False, with nothing applied, when it does not apply or failed: the
        partitions are then handled one by one."""
        if self.config.transaction_batch < 2 or len(batch) < 2:
            return False
        assert self._consumer is not None
        assignment = self._consumer.assignment()
        if any(tp not in assignment or tp in self._paused for tp in batch):
            return False
        records = [record for records in batch.values() for record in records]
        if len(records) > self.config.transaction_batch or not await self._handle_chunk(records):
            return False
        for tp, of_tp in batch.items():
            self._note_lag(tp, of_tp)
        return True

    async def _handle_partition(
        self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> None:
        assert self._consumer is not None
        if tp not in self._consumer.assignment() or tp in self._paused:
            return  # revoked while this batch was fetched, or backing off
        size = max(self.config.transaction_batch, 1)
        for start in range(0, len(records), size):
            chunk = records[start : start + size]
            if size > 1 and await self._handle_chunk(chunk):
                continue
            if not await self._handle_records(tp, chunk):
                return  # backing off from a failed record
        self._note_lag(tp, records)

    def _note_lag(
        self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> None:
        assert self._consumer is not None
        highwater = self._consumer.highwater(tp)
        if highwater is not None and records:
            lag = max(highwater - records[-1].offset - 1, 0)
            metrics.CONSUMER_LAG.labels(self.group, tp.topic, tp.partition).set(lag)

    async def _handle_records(
        self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> bool:
        """Each record in its own transaction; False when one must be retried (the partition
        is then backing off from it)."""
        for record in records:
            try:
                await self._handle_record(record)
            except Retry as retry:
                self._back_off(tp, record.offset, retry.delay)
                return False
            self._pending[tp] = record.offset + 1
            self._attempts.pop((tp, record.offset), None)
            self._failures.pop((tp, record.offset), None)
        return True

    async def _handle_chunk(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> bool:
        """The records (of one partition, or of a whole poll) in one transaction
        (`_apply_chunk`), then their metrics, after-commit hooks and offsets. False, with
        nothing applied, when any of them failed (or one has failed before): the caller
        handles them again in smaller transactions, down to one per record, which knows how
        to retry, back off and dead-letter."""
        if len(records) < 2:
            return False
        if self._failures and any((_tp(r), r.offset) in self._failures for r in records):
            return False
        try:
            decoded = [self._decode(record) for record in records]
            outcomes = await self._apply_chunk(decoded)
        except Exception as exc:
            log.info(
                "consumer.chunk-failed",
                extra={"group": self.group, "topic": records[0].topic,
                       "partition": records[0].partition, "offset": records[0].offset,
                       "records": len(records), "error_type": type(exc).__name__},
            )  # fmt: skip
            return False
        for record, (envelope, _, _), outcome in zip(records, decoded, outcomes, strict=True):
            metrics.CONSUMER_EVENTS.labels(self.group, outcome).inc()
            if outcome == "handled" and self.config.after_commit is not None:
                await self.config.after_commit(envelope)
            self._pending[_tp(record)] = record.offset + 1
        return True

    def _decode(
        self, record: ConsumerRecord[bytes, bytes]
    ) -> tuple[Envelope, EventHandler | None, EventPayload | None]:
        """The record's envelope, its handler and payload (None for a type this group does
        not handle); raises what `_apply` would (undecodable, unknown type or version)."""
        envelope = Envelope.from_bytes(record.value)
        contract = REGISTRY.get(envelope.type)
        handler = self.subscription.handlers.get(contract.type)
        return envelope, handler, (None if handler is None else decode(envelope))

    async def _apply_chunk(
        self, decoded: Sequence[tuple[Envelope, EventHandler | None, EventPayload | None]]
    ) -> list[str]:
        """One transaction: the `processed_events` rows of the handled types in one
        statement, then the handler of each newly recorded event, in order (an id repeated
        in the chunk is handled at its first place), or the subscription's `chunk_handler`
        once for all of them. Each record's outcome."""
        ids: dict[uuid.UUID, str] = {}
        for envelope, handler, _ in decoded:
            if handler is not None:
                ids.setdefault(envelope.id, envelope.type)
        outcomes: list[str] = []
        async with self.sessions() as session, session.begin():
            new: set[uuid.UUID] = set()
            if ids:
                inserted = await session.execute(
                    text(
                        "INSERT INTO processed_events (consumer, event_id, event_type) "
                        "SELECT :consumer, e.event_id, e.event_type FROM "
                        "unnest(CAST(:ids AS uuid[]), CAST(:types AS text[])) "
                        "AS e(event_id, event_type) ON CONFLICT DO NOTHING RETURNING event_id"
                    ),
                    {"consumer": self.group, "ids": list(ids), "types": list(ids.values())},
                )
                new = set(inserted.scalars())  # asyncpg's UUIDs, equal to uuid.UUID's
            todo: list[tuple[Envelope, EventHandler, EventPayload]] = []
            for envelope, handler, payload in decoded:
                if handler is None or payload is None:
                    outcomes.append("ignored")
                elif envelope.id not in new:
                    outcomes.append("duplicate")
                else:
                    new.discard(envelope.id)
                    todo.append((envelope, handler, payload))
                    outcomes.append("handled")
            chunk_handler = self.subscription.chunk_handler
            if chunk_handler is not None and todo:
                await chunk_handler(session, [(e, p) for e, _, p in todo])
            else:
                for envelope, handler, payload in todo:
                    token = logs.correlation_id.set(envelope.correlationid)
                    try:
                        await handler(session, envelope, payload)
                    finally:
                        logs.correlation_id.reset(token)
        return outcomes

    async def _handle_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        tp = TopicPartition(record.topic, record.partition)
        try:
            envelope = Envelope.from_bytes(record.value)
            token = logs.correlation_id.set(envelope.correlationid)
            try:
                outcome = await self._apply(envelope)
            finally:
                logs.correlation_id.reset(token)
        except Exception as exc:
            await self._on_failure(tp, record, exc)
            return
        metrics.CONSUMER_EVENTS.labels(self.group, outcome).inc()
        if outcome == "handled" and self.config.after_commit is not None:
            await self.config.after_commit(envelope)

    async def _apply(self, envelope: Envelope) -> str:
        contract = REGISTRY.get(envelope.type)  # unknown type or version: permanent
        handler = self.subscription.handlers.get(contract.type)
        if handler is None:
            return "ignored"
        payload = decode(envelope)
        async with self.sessions() as session, session.begin():
            first = await session.execute(
                text(
                    "INSERT INTO processed_events (consumer, event_id, event_type) "
                    "VALUES (:consumer, :event_id, :event_type) ON CONFLICT DO NOTHING "
                    "RETURNING 1"
                ),
                {"consumer": self.group, "event_id": envelope.id, "event_type": envelope.type},
            )
            if first.scalar() is None:
                return "duplicate"
            await handler(session, envelope, payload)
        return "handled"

    async def _on_failure(
        self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes], exc: Exception
    ) -> None:
        """Retry (after a backoff) or dead-letter. A transient failure (the database or the
        broker away, a failover's read-only transaction, a timeout, a deadlock...) is retried
        for as long as it lasts and is not an attempt: `max_attempts` counts only the other
        failures, so a failover never dead-letters a valid event. A permanent one (a domain
        refusal, an undecodable event) is dead-lettered at once."""
        key = (tp, record.offset)
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        delay = min(self.config.backoff_initial * 2 ** (failures - 1), self.config.backoff_max)
        permanent = is_permanent(exc)
        transient = not permanent and is_transient(exc)
        attempt = self._attempts.get(key, 0) + (0 if transient else 1)
        self._attempts[key] = attempt
        if transient or (not permanent and attempt < self.config.max_attempts):
            metrics.CONSUMER_EVENTS.labels(self.group, "retried").inc()
            log.warning(
                "consumer.retry",
                extra={"group": self.group, "topic": tp.topic, "partition": tp.partition,
                       "offset": record.offset, "attempt": attempt, "failures": failures,
                       "transient": transient, "delay": delay, "error_type": type(exc).__name__},
            )  # fmt: skip
            raise Retry(delay) from exc
        try:
            await self._dead_letter(record, exc)
        except Exception as dlq_exc:  # the DLQ is unreachable: keep the record, try again
            log.warning("consumer.dlq-failed", extra={"error": repr(dlq_exc)})
            await self._replace_dlq_producer()
            raise Retry(delay) from dlq_exc

    async def _replace_dlq_producer(self) -> None:
        """A producer whose send failed or hung may be wedged: start a fresh one."""
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.stop(), timeout=10)
        self._producer = new_producer(self.config.bootstrap, client_id=f"{self.group}-dlq")
        with contextlib.suppress(Exception):
            await self._producer.start()  # if the broker is still away, the next send retries

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], exc: Exception) -> None:
        assert self._producer is not None
        headers = [
            *[(k, v) for k, v in (record.headers or ()) if not k.startswith(DLQ_HEADER_PREFIX)],
            *[(DLQ_HEADER_PREFIX + k, v.encode()) for k, v in error_headers(self.group, record, exc).items()],  # noqa: E501
        ]  # fmt: skip
        await asyncio.wait_for(
            self._producer.send_and_wait(
                dlq_topic(self.group).name, record.value, key=record.key, headers=headers
            ),
            timeout=self.config.kafka_timeout,
        )
        metrics.DLQ_EVENTS.labels(self.group).inc()
        metrics.CONSUMER_EVENTS.labels(self.group, "dead-lettered").inc()
        log.error(
            "consumer.dead-lettered",
            extra={"group": self.group, "topic": record.topic, "partition": record.partition,
                   "offset": record.offset, "error_type": type(exc).__name__},
        )  # fmt: skip

    async def _commit_pending(self) -> None:
        """Commit the offsets handled since the last commit. When the commit fails they stay
        pending, so the next commit carries them; a partition no longer assigned is dropped
        (its new owner starts from the committed offset, and `processed_events` skips what
        was handled already)."""
        if not self._pending or self._consumer is None:
            return
        assignment = self._consumer.assignment()
        for tp in [tp for tp in self._pending if tp not in assignment]:
            del self._pending[tp]
        if not self._pending:
            return
        committing = dict(self._pending)
        offsets = {tp: OffsetAndMetadata(offset, "") for tp, offset in committing.items()}
        try:
            await asyncio.wait_for(
                self._consumer.commit(offsets), timeout=self.config.kafka_timeout
            )
        except (CommitFailedError, KafkaError, TimeoutError) as exc:
            self.commit_failures += 1
            log.warning("consumer.commit-failed", extra={"group": self.group, "error": repr(exc)})
            return
        for tp, offset in committing.items():
            if self._pending.get(tp) == offset:
                del self._pending[tp]

    def _forget(self, revoked: Any) -> None:
        """Partitions taken away: their pending offsets go with them."""
        for tp in revoked:
            self._pending.pop(tp, None)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self.runner._lock:  # wait for the batch in flight, then commit
            await self.runner._commit_pending()
            self.runner._forget(revoked)
        if revoked:
            self.runner.revocations += 1
        self.runner._left_group()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.runner._on_assigned(assigned)
        self.runner._in_group = True
        self.runner.assigned.set()


def _tp(record: ConsumerRecord[bytes, bytes]) -> TopicPartition:
    return TopicPartition(record.topic, record.partition)
