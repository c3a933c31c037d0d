"""The unit of work: one database transaction, the repository working in it, and the events
the use case produced, written to the outbox in that same transaction at commit.

`SqlUnitOfWork` owns its transaction (API requests, the expiry worker). `EventUnitOfWork`
borrows the consumer runner's session: the runner commits it together with the
`processed_events` row, so its `commit` writes the outbox and leaves the commit to the runner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from koshiqon.common import outbox
from koshiqon.common.events.contracts import EventPayload, make_event
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.http.correlation import current_correlation_id, current_traceparent
from koshiqon.common.http.idempotency import commit_effect, settle_held
from koshiqon.quota.adapters.repository import (
    LedgerRepository,
    ProposalRepository,
    QuotaRepository,
    Repositories,
    TerritoryRepository,
)

SOURCE = "/koshiqon/quota"


class UnitOfWork:
    """What handlers use: the repositories (`quotas`, `ledger`, `territories`, `proposals`),
    `emit`, `commit`, `savepoint`."""

    session: AsyncSession
    quotas: QuotaRepository
    ledger: LedgerRepository
    territories: TerritoryRepository
    proposals: ProposalRepository

    def __init__(self, *, traceparent: str | None = None) -> None:
        self.events: list[Envelope] = []
        self._traceparent = traceparent

    def emit(self, payload: EventPayload, *, subject: object) -> None:
        self.events.append(
            make_event(
                payload,
                subject=str(subject),
                source=SOURCE,
                correlation_id=current_correlation_id(),
                traceparent=self._traceparent or current_traceparent(),
            )
        )

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: on an exception its writes and its events are undone."""
        mark = len(self.events)
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            del self.events[mark:]
            raise

    def _use(self, repositories: Repositories) -> None:
        self.quotas = repositories.quotas
        self.ledger = repositories.ledger
        self.territories = repositories.territories
        self.proposals = repositories.proposals

    async def _flush_events(self) -> None:
        await outbox.add(self.session, *self.events)
        self.events.clear()


class SqlUnitOfWork(UnitOfWork):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        super().__init__()
        self._sessions = sessions

    async def __aenter__(self) -> Self:
        await settle_held()  # an earlier unit of work of this request, held: commit it
        self.session = self._sessions()
        await self.session.begin()
        self._use(Repositories(self.session))
        self.events = []
        self._held = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._held:
            return  # the request commits or rolls it back, and closes it
        try:
            if self.session.in_transaction():
                await self.session.rollback()  # not committed: nothing of it stays
        finally:
            await self.session.close()

    async def commit(self) -> None:
        """Outbox rows, then the commit; in a request under an Idempotency-Key, the request
        commits it together with its response (`commit_effect`)."""
        await self._flush_events()
        self._held = await commit_effect(self.session, self.session)


class EventUnitOfWork(UnitOfWork):
    """Inside a consumed event's transaction (see module doc)."""

    def __init__(self, session: AsyncSession, *, traceparent: str | None = None) -> None:
        super().__init__(traceparent=traceparent)
        self.session = session
        self._use(Repositories(session))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        await self._flush_events()


AnyUnitOfWork = SqlUnitOfWork | EventUnitOfWork
