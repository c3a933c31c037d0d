"""The unit of work every service's derives from: one transaction, the service's repositories
in it, and the events the use case produced, written to the outbox in that transaction.

A unit of work owns its transaction (API requests, scheduled jobs) or borrows one (the
consumer runner's, which records the consumed event in it and commits). Leaving the block
without `commit` rolls an owned transaction back.

Repositories reach the transaction through a `Transaction`: SQLAlchemy Core (`core()`, the
default) or the asyncpg connection under it (`driver()`, where a bench shows it pays). An
owned transaction (`database.owned`) is begun and ended on the driver, on a connection of
the service engine's pool (the process's one pool); its Core connection is made on first
use, in driver-level autocommit so that SQLAlchemy sends no BEGIN or COMMIT of its own
inside it. A transaction's cost is then a plain asyncpg one (about 100 us of CPU less than
SQLAlchemy's own connect-begin-commit-close, measured on the registration write path); a
unit of work that uses Core pays for its Core connection when it first asks for it.

An owned transaction sends its BEGIN with its first statement's need for it (`core()`,
`driver()`), not on entry. A unit of work whose whole effect is one statement, outbox rows
included, runs it with `Transaction.last`: when nothing ran before it and no keyed request
must hold the commit, it runs autocommitted, so its locks are released by the server in the
statement's own round trip (the quota reservation, `bench/quota_contention.py`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Protocol, Self

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from koshiqon.common import outbox
from koshiqon.common.database.driver import Connection as DriverConnection
from koshiqon.common.database.driver import driver_connection
from koshiqon.common.database.owned import OwnedTransaction
from koshiqon.common.events.contracts import EventPayload, make_event
from koshiqon.common.events.envelope import Envelope
from koshiqon.common.http.correlation import current_correlation_id, current_traceparent
from koshiqon.common.http.idempotency import commit_effect, keyed_request, settle_held


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


class Transaction(Protocol):
    """A unit of work's transaction, as its repositories reach it."""

    async def core(self) -> AsyncConnection: ...

    async def driver(self) -> DriverConnection: ...

    async def read(self, sql: str, *args: object) -> list[asyncpg.Record]:
        """A read (no locks, no writes): before the transaction has begun it runs on its own,
        with no BEGIN, since under READ COMMITTED a statement reads its own snapshot either
        way; after, inside the transaction."""
        ...

    async def last(self, sql: str, *args: object) -> list[asyncpg.Record]:
        """Run the unit of work's last statement and return its rows; nothing may run in the
        unit of work after it but `commit`. Autocommitted when it is also the first (see the
        module doc)."""
        ...


class _Borrowed:
    """Someone else's transaction (the consumer runner's), committed by its owner."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._driver: DriverConnection | None = None

    async def core(self) -> AsyncConnection:
        return self._connection

    async def driver(self) -> DriverConnection:
        if self._driver is None:
            self._driver = await driver_connection(self._connection)
        return self._driver

    async def read(self, sql: str, *args: object) -> list[asyncpg.Record]:
        return await (await self.driver()).fetch(sql, *args)

    async def last(self, sql: str, *args: object) -> list[asyncpg.Record]:
        return await (await self.driver()).fetch(sql, *args)


@dataclass(frozen=True, slots=True)
class Envelopes:
    """A unit of work's envelopes (`SqlUnitOfWork.envelope`): the ones `emit` writes, and the
    ones a statement that writes its outbox rows itself (`outbox.columns`) in the unit of
    work's `Transaction.last` is given; `unset` names the data fields the statement fills
    (`make_event`).

    A value of its own, not a bound method, so that a repository given it does not refer back
    to the unit of work: a unit of work and its repositories are then freed by reference
    counting when the request ends, not left as cyclic garbage to the collector."""

    source: str
    traceparent: str | None = None

    def __call__(
        self, payload: EventPayload, *, subject: object, unset: Collection[str] = ()
    ) -> Envelope:
        return make_event(
            payload,
            subject=str(subject),
            source=self.source,
            correlation_id=current_correlation_id(),
            traceparent=self.traceparent or current_traceparent(),
            unset=unset,
        )


class SqlUnitOfWork(ABC):
    """A unit of work on the service's engine (`within` an `AsyncEngine`: a transaction of its
    own per `async with`) or in a borrowed transaction (`within` an `AsyncConnection`,
    committed by its owner). A subclass names its event `source` and builds its repositories
    over the `Transaction` in `bind`."""

    source: ClassVar[str]
    envelope: Envelopes

    def __init__(
        self, within: AsyncEngine | AsyncConnection, *, traceparent: str | None = None
    ) -> None:
        self._engine = within if isinstance(within, AsyncEngine) else None
        self._borrowed = within if isinstance(within, AsyncConnection) else None
        self.envelope = Envelopes(self.source, traceparent)
        self._transaction: OwnedTransaction | _Borrowed | None = None
        self._events: list[Envelope] = []
        self._held = False

    @abstractmethod
    def bind(self, transaction: Transaction) -> None:
        """Build the repositories over `transaction`."""

    @property
    def transaction(self) -> Transaction:
        if self._transaction is None:
            raise RuntimeError("the unit of work is not open")
        return self._transaction

    async def __aenter__(self) -> Self:
        self._events, self._held = [], False
        if self._borrowed is not None:
            self._transaction = _Borrowed(self._borrowed)
        else:
            assert self._engine is not None
            await settle_held()  # an earlier unit of work of this request, held: commit it
            self._transaction = await OwnedTransaction.begin(
                self._engine, may_autocommit=not keyed_request()
            )
        self.bind(self._transaction)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Rolls back what an owned transaction did not commit and gives the connection back;
        a held one is the request's to commit and close."""
        transaction, self._transaction = self._transaction, None
        if isinstance(transaction, OwnedTransaction) and not self._held:
            await transaction.close()

    def emit(self, *payloads: EventPayload, subject: object) -> None:
        """Events of the aggregate `subject` (its id: the events' partition key), written to
        the outbox at `commit`."""
        self._events.extend(self.envelope(payload, subject=subject) for payload in payloads)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: on an exception its writes and its events are undone."""
        mark = len(self._events)
        driver = await self.transaction.driver()
        try:
            async with driver.transaction():  # SAVEPOINT ... RELEASE, or ROLLBACK TO
                yield
        except BaseException:
            del self._events[mark:]
            raise

    async def commit(self) -> None:
        """Outbox rows, then the commit. In a request under an Idempotency-Key the request
        commits it together with its response (`commit_effect`); a borrowed transaction is
        committed by its owner."""
        transaction = self.transaction
        events, self._events = self._events, []
        if isinstance(transaction, OwnedTransaction) and transaction.ended:
            if events:
                raise RuntimeError("events emitted after the autocommitted last statement")
            return
        driver = await transaction.driver()
        await outbox.add(driver, *events)
        if isinstance(transaction, OwnedTransaction):
            self._held = await commit_effect(driver, transaction)


__all__ = ["Envelopes", "SqlUnitOfWork", "Transaction", "UnitOfWork"]
