"""What a consumer group handles (`Subscription`) and how its runner behaves
(`ConsumerConfig`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from koshiqon.common.events.contracts import EventPayload
from koshiqon.common.events.envelope import Envelope


class EventHandler(Protocol):
    async def __call__(
        self, session: AsyncSession, envelope: Envelope, payload: EventPayload
    ) -> None: ...


class ChunkHandler(Protocol):
    """A chunk's newly recorded events, in order, handled at once (`transaction_batch`)."""

    async def __call__(
        self, session: AsyncSession, events: Sequence[tuple[Envelope, EventPayload]]
    ) -> None: ...


AfterCommit = Callable[[Envelope], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """What one consumer group handles: event type → handler. Types it has no handler for
    are acknowledged and ignored; types no contract knows are dead-lettered.

    `chunk_handler`, when set, handles the events of a chunk (`transaction_batch` above 1)
    at once instead of each one's handler; it must leave the database as the handlers
    called one after the other would, since a chunk that fails is handled again event by
    event with `handlers`."""

    group: str
    topics: Sequence[str]
    handlers: Mapping[str, EventHandler]
    chunk_handler: ChunkHandler | None = field(default=None, repr=False)


@dataclass
class ConsumerConfig:
    bootstrap: str
    max_records: int = 500
    poll_timeout_ms: int = 500
    # the longest the broker holds a fetch that finds no new records. The consumer has one
    # fetch in flight per broker, for the partitions none of whose records are buffered: with
    # the busy partitions' records buffered, that fetch may cover idle partitions only (an
    # idle topic), and records arriving at the busy ones wait for it to come back. At the
    # client's default of 500 ms that was 235 ms at p50 on monitoring's worker
    # (bench/e2e_latency.py); an idle consumer pays one fetch per broker per wait
    fetch_max_wait_ms: int = 100
    max_attempts: int = 5
    backoff_initial: float = 0.2
    backoff_max: float = 30.0
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    kafka_timeout: float = 60.0  # a DLQ send or an offset commit that takes longer failed
    rejoin_timeout: float = 60.0  # out of the group this long: the consumer is replaced
    # replicas of `<group>.dlq` when the consumer creates it; None: the broker's default
    dlq_replication_factor: int | None = None
    # records of one partition from one poll handled in one transaction, up to this many
    # (1: a transaction per record), and a whole poll of several partitions in one when it
    # brings no more; a chunk that fails is rolled back and handled again partition by
    # partition, then one record per transaction, which retries, backs off and dead-letters
    # as with 1
    transaction_batch: int = 1
    after_commit: AfterCommit | None = field(default=None, repr=False)
