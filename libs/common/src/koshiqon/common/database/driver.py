"""The driver-level path to a service's schema: the asyncpg connection under a SQLAlchemy
transaction (`driver_connection`), and a plain asyncpg pool (`Database`).

SQLAlchemy's async layer costs several times the CPU of the driver on a short statement
(greenlet hops, result processing). Services run on their SQLAlchemy engine (one pool per
process); where `bench/registration_api.py` shows that cost matters (registration's
residence registrations), a repository runs plain SQL on the driver connection of the unit
of work's transaction, reached through `driver_connection`. `Database`, a pool of its own,
is for what runs beside a service rather than in it (tests, tools):

    database = await Database.open(dsn, schema="registration", application="a-tool")
    async with database.transaction() as conn:
        await conn.execute("UPDATE ...", ...)

A `Database`'s connections carry no session state between transactions: nothing `SET`s,
`LISTEN`s or takes session-level advisory locks on them (the outbox relay keeps its own).
So a connection going back to the pool only needs an open transaction rolled back, not
asyncpg's default reset (`RESET ALL`, `UNLISTEN *`, `pg_advisory_unlock_all()`), which is a
round trip per transaction.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from asyncpg.transaction import Transaction
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from koshiqon.common.database.roles import asyncpg_dsn, safe_identifier
from koshiqon.common.metrics import DB_POOL_CONNECTIONS, DB_POOL_WAIT_SECONDS

# a pooled connection is handed out behind a proxy; code that runs statements takes either
Pooled: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | Pooled"


class Database:
    """A fixed-size asyncpg pool whose connections work inside one schema. Its connections
    by state and the wait for one are on /metrics, under the pool's application name (one pool
    per application name in a process)."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], *, name: str, size: int) -> None:
        self._pool = pool
        self._name = name
        self._wait = DB_POOL_WAIT_SECONDS.labels(name)
        DB_POOL_CONNECTIONS.labels(name, "open").set_function(pool.get_size)
        DB_POOL_CONNECTIONS.labels(name, "idle").set_function(pool.get_idle_size)
        DB_POOL_CONNECTIONS.labels(name, "max").set(size)

    @classmethod
    async def open(cls, dsn: str, *, schema: str, application: str, size: int = 10) -> Database:
        """The pool; connections are opened on first use (`min_size=0`), so a service starts
        while PostgreSQL is away and its readiness check says so."""
        pool = await asyncpg.create_pool(
            asyncpg_dsn(dsn),
            min_size=0,
            max_size=size,
            max_inactive_connection_lifetime=1800,
            reset=_rollback_open_transaction,
            server_settings={
                "search_path": safe_identifier(schema),
                "application_name": application,
            },
        )
        return cls(pool, name=application, size=size)

    async def acquire(self) -> Pooled:
        """A pooled connection, outside any transaction, to give back with `release`
        whatever happens. Most callers want `begin` or `transaction` instead."""
        started = time.perf_counter()
        conn = await self._pool.acquire()
        self._wait.observe(time.perf_counter() - started)
        return conn

    async def release(self, conn: Pooled) -> None:
        await self._pool.release(conn)

    async def begin(self) -> PooledTransaction:
        """A pooled connection in a transaction of its own, for a caller whose commit is a
        decision (a unit of work): `commit()` it, and `close()` it whatever happens."""
        conn = await self.acquire()
        transaction = conn.transaction()
        try:
            await transaction.start()
        except BaseException:
            await self.release(conn)
            raise
        return PooledTransaction(self, conn, transaction)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A connection in a transaction, committed when the block ends normally and rolled
        back when it raises."""
        transaction = await self.begin()
        try:
            yield transaction.conn
            await transaction.commit()
        finally:
            await transaction.close()

    async def close(self) -> None:
        await self._pool.close()
        for state in ("open", "idle", "max"):
            with contextlib.suppress(KeyError):
                DB_POOL_CONNECTIONS.remove(self._name, state)


class PooledTransaction:
    """A transaction on a pooled connection (`Database.begin`). `close` rolls back what was
    not committed and gives the connection back; a COMMIT that failed has already ended the
    transaction in PostgreSQL, and its error is the one the caller sees, not a second one from
    a rollback that has nothing left to undo."""

    def __init__(self, database: Database, conn: Pooled, transaction: Transaction) -> None:
        self.conn = conn
        self._database = database
        self._transaction: Transaction | None = transaction  # None once committed or closed
        self._released = False

    async def commit(self) -> None:
        if self._transaction is None:
            raise RuntimeError("the transaction is closed")
        transaction, self._transaction = self._transaction, None
        await transaction.commit()  # on failure, PostgreSQL has rolled it back

    async def close(self) -> None:
        """Idempotent. A rollback that fails (the connection is gone) is not raised: the
        server drops the transaction with the connection, and the pool discards it."""
        transaction, self._transaction = self._transaction, None
        try:
            if transaction is not None and not self.conn.is_closed():
                with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    await transaction.rollback()
        finally:
            if not self._released:
                self._released = True
                await self._database.release(self.conn)


async def _rollback_open_transaction(conn: Connection) -> None:
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def driver_connection(target: AsyncSession | AsyncConnection | Connection) -> Connection:
    """The asyncpg connection under `target`'s transaction (a session's or a Core connection's;
    a driver connection is itself): statements run on it belong to that transaction and
    commit or roll back with it."""
    if not isinstance(target, AsyncSession | AsyncConnection):
        return target
    connection = await target.connection() if isinstance(target, AsyncSession) else target
    raw: Any = await connection.get_raw_connection()
    driver: Connection = raw.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy's adapter sends BEGIN lazily, with the first statement it runs itself:
        # run one, so that the transaction exists and is SQLAlchemy's to commit
        await connection.exec_driver_sql("SELECT 1")
    return driver


class Params:
    """Numbered parameters for a statement assembled from fixed fragments (optional filters):
    `p(value)` keeps the value and gives its placeholder, so values never enter the SQL text.

        p = Params()
        where = ["true"] if region is None else [f"region = {p(region)}"]
        rows = await conn.fetch(f"SELECT ... WHERE {' AND '.join(where)}", *p.values)
    """

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"
