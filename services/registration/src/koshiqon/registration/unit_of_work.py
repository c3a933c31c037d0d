"""The unit of work: one database transaction, its repositories, and the events it emits.

`commit` writes the collected events into the outbox in the same transaction as the state
change, then commits; leaving the block without `commit` rolls everything back. Handlers
see only the `UnitOfWork` protocol, so unit tests pass a fake through `bootstrap`.

The transaction runs on the driver (`koshiqon.common.database`): a pooled asyncpg
connection of its own, or the connection under a session someone else owns and commits
(the consumer runner's, which records the processed event in the same transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self

from sqlalchemy.ext.asyncio import AsyncSession

from koshiqon.common import outbox
from koshiqon.common.database.driver import Database, PooledTransaction, driver_connection
from koshiqon.common.events.contracts import EventPayload, make_event
from koshiqon.common.http.correlation import current_correlation_id, current_traceparent
from koshiqon.common.http.idempotency import commit_effect, settle_held
from koshiqon.registration.adapters.repository import (
    ApplicationRepository,
    AuditRepository,
    PersonRepository,
    ResidenceRepository,
)

SOURCE = "/koshiqon/registration"


def subject_of(payload: EventPayload) -> str:
    """The aggregate id: the application for resettlement events, else the person."""
    for name in ("application_id", "person_id"):
        value = getattr(payload, name, None)
        if value is not None:
            return str(value)
    raise ValueError(f"{type(payload).__name__} names no aggregate")


class UnitOfWork(Protocol):
    persons: PersonRepository
    residences: ResidenceRepository
    applications: ApplicationRepository
    audit: AuditRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def emit(self, events: Sequence[EventPayload]) -> None: ...

    async def commit(self) -> None: ...


class SqlUnitOfWork:
    """A unit of work in a transaction of its own (`database`, a new one per `async with`),
    or in the transaction of a session someone else owns and commits (`session`)."""

    def __init__(
        self, database: Database | None = None, *, session: AsyncSession | None = None
    ) -> None:
        if (database is None) == (session is None):
            raise ValueError("give either database or session")
        self._database = database
        self._borrowed = session
        self._events: list[EventPayload] = []

    async def __aenter__(self) -> Self:
        self._own: PooledTransaction | None = None
        if self._borrowed is not None:
            conn = await driver_connection(self._borrowed)
        else:
            assert self._database is not None
            await settle_held()  # an earlier unit of work of this request, held: commit it
            self._own = await self._database.begin()
            conn = self._own.conn
        self._conn = conn
        self.persons = PersonRepository(conn)
        self.residences = ResidenceRepository(conn)
        self.applications = ApplicationRepository(conn)
        self.audit = AuditRepository(conn)
        self._events = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Rolls back what was not committed, and gives the connection back to the pool."""
        if self._own is not None:
            own, self._own = self._own, None
            await own.close()

    def emit(self, events: Sequence[EventPayload]) -> None:
        self._events.extend(events)

    async def commit(self) -> None:
        """Outbox rows, then the commit; in a request under an Idempotency-Key, the request
        commits it together with its response (`commit_effect`). A borrowed session is
        committed by its owner."""
        await self._flush_events()
        if self._own is not None and await commit_effect(self._conn, self._own):
            self._own = None  # held by the request, which closes it

    async def _flush_events(self) -> None:
        events, self._events = self._events, []
        correlation, trace = current_correlation_id(), current_traceparent()
        envelopes = [
            make_event(
                payload,
                subject=subject_of(payload),
                source=SOURCE,
                correlation_id=correlation,
                traceparent=trace,
            )
            for payload in events
        ]
        await outbox.add(self._conn, *envelopes)
