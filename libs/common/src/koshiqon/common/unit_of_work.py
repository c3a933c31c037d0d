"""The unit of work every service's derives from: one transaction, the service's repositories
in it, and the events the use case produced, written to the outbox in that transaction.

A unit of work owns its transaction (made on the service's engine: API requests, scheduled
jobs) or borrows one (the consumer runner's, which records the consumed event in it and
commits). Leaving the block without `commit` rolls an owned transaction back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import ClassVar, Protocol, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from koshiqon.common import outbox
from koshiqon.common.database.driver import Connection as DriverConnection
from koshiqon.common.database.driver import driver_connection
from koshiqon.common.events.contracts import EventPayload, make_event
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.http.correlation import current_correlation_id, current_traceparent
from koshiqon.common.http.idempotency import commit_effect, settle_held


class UnitOfWork(Protocol):
    """What handlers see of a unit of work; a service's protocol adds its repositories."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def emit(self, *payloads: EventPayload, subject: object) -> None: ...

    def savepoint(self) -> AbstractAsyncContextManager[None]: ...

    async def commit(self) -> None: ...


class SqlUnitOfWork:
    """A unit of work on the service's engine (`within` an `AsyncEngine`: a transaction of its
    own per `async with`) or in a borrowed transaction (`within` an `AsyncConnection`,
    committed by its owner). A subclass names its event `source` and builds its repositories
    in `bind`."""

    source: ClassVar[str]

    def __init__(
        self, within: AsyncEngine | AsyncConnection, *, traceparent: str | None = None
    ) -> None:
        self._engine = within if isinstance(within, AsyncEngine) else None
        self._borrowed = within if isinstance(within, AsyncConnection) else None
        self._traceparent = traceparent
        self._connection: AsyncConnection | None = None
        self._events: list[Envelope] = []
        self._held = False

    def bind(self, connection: AsyncConnection) -> None:
        """Build the repositories over `connection`."""
        raise NotImplementedError

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    async def driver(self) -> DriverConnection:
        """The asyncpg connection under this transaction, for repositories in plain SQL where
        a bench shows SQLAlchemy's cost matters; its statements belong to the transaction."""
        return await driver_connection(self.connection)

    async def __aenter__(self) -> Self:
        self._events, self._held = [], False
        if self._borrowed is not None:
            self._connection = self._borrowed
        else:
            assert self._engine is not None
            await settle_held()  # an earlier unit of work of this request, held: commit it
            connection = await self._engine.connect()
            await connection.begin()  # SQLAlchemy sends BEGIN with the first statement
            self._connection = connection
        self.bind(self._connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Rolls back what an owned transaction did not commit and gives the connection back;
        a held one is the request's to commit and close."""
        connection, self._connection = self._connection, None
        if self._borrowed is None and connection is not None and not self._held:
            await connection.close()

    def emit(self, *payloads: EventPayload, subject: object) -> None:
        """Events of the aggregate `subject` (its id: the events' partition key), written to
        the outbox at `commit`."""
        correlation = current_correlation_id()
        traceparent = self._traceparent or current_traceparent()
        self._events.extend(
            make_event(
                payload,
                subject=str(subject),
                source=self.source,
                correlation_id=correlation,
                traceparent=traceparent,
            )
            for payload in payloads
        )

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: on an exception its writes and its events are undone."""
        mark = len(self._events)
        try:
            async with self.connection.begin_nested():
                yield
        except BaseException:
            del self._events[mark:]
            raise

    async def commit(self) -> None:
        """Outbox rows, then the commit. In a request under an Idempotency-Key the request
        commits it together with its response (`commit_effect`); a borrowed transaction is
        committed by its owner."""
        events, self._events = self._events, []
        await outbox.add(self.connection, *events)
        if self._borrowed is None:
            self._held = await commit_effect(self.connection, self.connection)
