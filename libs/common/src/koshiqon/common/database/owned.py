"""A transaction of its own on a connection of an engine's pool, begun and ended on the
driver (asyncpg), and the single autocommitted statement made the same way.

The connection is taken in the order the callers asked for one (`database.admission`) and
given back, with the place in the admission, when the transaction is closed. The unit of
work (`koshiqon.common.unit_of_work`) runs its owned transactions on this; the
Idempotency-Key store runs its statements through `autocommitted`. Neither knows of the
other here: whether a unit of work's last statement may autocommit is the unit of work's
to say (`may_autocommit`).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from asyncpg.transaction import Transaction as DriverTransaction
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.util import greenlet_spawn

from koshiqon.common.database.admission import Admission, admission
from koshiqon.common.database.driver import Connection as DriverConnection


class OwnedTransaction:
    """A transaction of its own on a connection of `engine`'s pool, begun on the driver when
    a statement first needs it. Its `commit` and `close` make it the held transaction of a
    keyed request too (`http.idempotency.commit_effect`).

    `may_autocommit`: whether `last`, run before anything else, may run on its own, with no
    BEGIN; not when the commit must wait for something else (a keyed request's response)."""

    def __init__(
        self, engine: AsyncEngine, pooled: Any, admitted: Admission, *, may_autocommit: bool
    ) -> None:
        self._engine = engine
        self._pooled = pooled  # the pool's connection record (a `PoolProxiedConnection`)
        self._admitted = admitted  # left when the connection is given back
        self._may_autocommit = may_autocommit
        self._driver: DriverConnection = pooled.driver_connection
        self._transaction: DriverTransaction | None = None  # the one begun, till it ends
        self._state = "new"  # new -> begun -> ended, or new -> ended (autocommitted `last`)
        self._core: AsyncConnection | None = None
        self._released = False

    @classmethod
    async def begin(cls, engine: AsyncEngine, *, may_autocommit: bool = True) -> OwnedTransaction:
        """A connection of the pool, taken in the order the units of work asked for one
        (`database.admission`)."""
        admitted = admission(engine)
        await admitted.enter()
        try:
            pooled: Any = await greenlet_spawn(engine.sync_engine.pool.connect)
        except BaseException:
            admitted.leave()
            raise
        return cls(engine, pooled, admitted, may_autocommit=may_autocommit)

    async def _begun(self) -> None:
        if self._state == "begun":
            return
        if self._state == "ended":
            raise RuntimeError("the transaction is closed")
        transaction = self._driver.transaction()
        await transaction.start()
        self._transaction, self._state = transaction, "begun"

    async def core(self) -> AsyncConnection:
        await self._begun()
        if self._core is None:
            sync = await greenlet_spawn(_autocommit_connection, self._engine, self._pooled)
            self._core = AsyncConnection(self._engine, sync)
        return self._core

    async def driver(self) -> DriverConnection:
        await self._begun()
        return self._driver

    async def read(self, sql: str, *args: object) -> list[asyncpg.Record]:
        if self._state == "new":
            return await self._driver.fetch(sql, *args)
        return await (await self.driver()).fetch(sql, *args)

    async def last(self, sql: str, *args: object) -> list[asyncpg.Record]:
        if self._state == "new" and self._may_autocommit:
            self._state = "ended"  # one statement, its own implicit transaction
            return await self._driver.fetch(sql, *args)
        return await (await self.driver()).fetch(sql, *args)

    @property
    def ended(self) -> bool:
        return self._state == "ended"

    async def commit(self) -> None:
        if self._state == "new":  # nothing ran: nothing to commit
            self._state = "ended"
            return
        if self._transaction is None:
            raise RuntimeError("the transaction is closed")
        transaction, self._transaction, self._state = self._transaction, None, "ended"
        await transaction.commit()  # on failure, PostgreSQL has rolled it back

    async def close(self) -> None:
        """Idempotent: rolls back what was not committed and gives the connection back to
        the pool; a connection whose rollback failed is discarded, never pooled in a
        transaction."""
        if self._released:
            return
        self._released = True
        try:
            await self._give_back()
        finally:
            self._admitted.leave()

    async def _give_back(self) -> None:
        transaction, self._transaction, self._state = self._transaction, None, "ended"
        healthy = True
        if transaction is not None:
            try:
                await transaction.rollback()
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                healthy = False
        healthy = healthy and not self._driver.is_closed() and not self._driver.is_in_transaction()
        if self._core is not None:  # it gives the pooled connection back with it
            if not healthy and not self._core.invalidated:
                await self._core.invalidate()
            await self._core.close()
        elif healthy:
            await greenlet_spawn(self._pooled.close)
        else:
            await greenlet_spawn(self._pooled.invalidate)


async def autocommitted(engine: AsyncEngine, sql: str, *args: object) -> list[asyncpg.Record]:
    """One statement on its own, autocommitted on the driver (no BEGIN or COMMIT: one round
    trip), on a connection of `engine`'s pool taken in its turn like a unit of work's."""
    owned = await OwnedTransaction.begin(engine)
    try:
        return await owned.read(sql, *args)
    finally:
        await owned.close()


def _autocommit_connection(engine: AsyncEngine, pooled: Any) -> Connection:
    """A Core connection over the checked-out `pooled` connection that sends no BEGIN or
    COMMIT: the transaction is the driver's (see `koshiqon.common.unit_of_work`)."""
    connection = Connection(engine.sync_engine, connection=pooled)
    return connection.execution_options(isolation_level="AUTOCOMMIT")


__all__ = ["OwnedTransaction", "autocommitted"]
