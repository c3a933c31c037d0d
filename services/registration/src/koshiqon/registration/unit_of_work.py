"""The unit of work: one database transaction, its repositories, and the events it emits.

`commit` writes the collected events into the outbox in the same transaction as the state
change, then commits; leaving the block without `commit` rolls everything back. Handlers
see only the `UnitOfWork` protocol, so unit tests pass a fake through `bootstrap`.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from koshiqon.common import outbox
from koshiqon.common.events.contracts import EventPayload, make_event
from koshiqon.common.http.correlation import current_correlation_id, current_traceparent
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
    """A unit of work on a session of the service's schema (a new one per `async with`), or
    on a session someone else owns and commits (the consumer runner's)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        *,
        session: AsyncSession | None = None,
    ) -> None:
        if (sessions is None) == (session is None):
            raise ValueError("give either sessions or session")
        self._sessions = sessions
        self._borrowed = session
        self._events: list[EventPayload] = []

    async def __aenter__(self) -> Self:
        if self._borrowed is not None:
            self.session = self._borrowed
        else:
            assert self._sessions is not None
            self.session = self._sessions()
            await self.session.begin()
        self.persons = PersonRepository(self.session)
        self.residences = ResidenceRepository(self.session)
        self.applications = ApplicationRepository(self.session)
        self.audit = AuditRepository(self.session)
        self._events = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._borrowed is None:
            try:
                await self.session.rollback()  # a no-op after commit
            finally:
                await self.session.close()

    def emit(self, events: Sequence[EventPayload]) -> None:
        self._events.extend(events)

    async def commit(self) -> None:
        """Outbox rows, then the commit (a borrowed session is committed by its owner)."""
        await self._flush_events()
        if self._borrowed is None:
            await self.session.commit()

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
        await outbox.add(self.session, *envelopes)
