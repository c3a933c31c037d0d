"""What the monitoring repositories and queries share: SQLAlchemy Core `text()` statements
(each parsed once) on a Core connection, and the projection tables' prefix (`p_` live,
`rb_` while a rebuild fills fresh copies)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from koshiqon.common.database.driver import Connection as DriverConnection
from koshiqon.common.unit_of_work import Transaction
from koshiqon.monitoring.adapters.tables import LIVE, REBUILD

# pg_advisory_xact_lock key of the projections' gate: every projecting transaction holds it
# shared, the rebuild's swap exclusive (adapters/rebuild.py)
PROJECTION_GATE = 0x6D6F6E69746F72  # "monitor"


def checked_prefix(prefix: str) -> str:
    if prefix not in (LIVE, REBUILD):
        raise ValueError(f"unknown projection prefix {prefix!r}")
    return prefix


@lru_cache(maxsize=512)
def sql(statement: str) -> TextClause:
    return text(statement)


async def one(connection: AsyncConnection, statement: str, **params: Any) -> Row[Any] | None:
    return (await connection.execute(sql(statement), params)).first()


async def every(connection: AsyncConnection, statement: str, **params: Any) -> Sequence[Row[Any]]:
    return (await connection.execute(sql(statement), params)).all()


async def run(connection: AsyncConnection, statement: str, **params: Any) -> int:
    result = await connection.execute(sql(statement), params)
    return int(result.rowcount or 0)


_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


@lru_cache(maxsize=256)
def positional(statement: str) -> tuple[str, tuple[str, ...]]:
    """`statement` with its `:name` parameters as asyncpg's `$n`, and the names in order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAMED.sub(number, statement), tuple(names)


async def execute(driver: DriverConnection, statement: str, **params: Any) -> None:
    """`statement` on the asyncpg connection itself (the projections' hot path: about half
    the CPU of the same statement through SQLAlchemy, bench/monitoring_projection.py)."""
    query, names = positional(statement)
    await driver.execute(query, *(params[n] for n in names))


async def execute_many(
    driver: DriverConnection, statement: str, rows: Sequence[dict[str, Any]]
) -> None:
    """`statement` once per row, in order, in one asyncpg `executemany` (one round trip for
    all of them rather than one each)."""
    if rows:
        query, names = positional(statement)
        await driver.executemany(query, [tuple(row[n] for n in names) for row in rows])


async def fetch(driver: DriverConnection, statement: str, **params: Any) -> list[Any]:
    query, names = positional(statement)
    return list(await driver.fetch(query, *(params[n] for n in names)))


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def loads(value: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    loaded: dict[str, Any] = json.loads(value)
    return loaded


class SqlRepository:
    """A repository in the unit of work's transaction, on its Core connection."""

    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def connection(self) -> AsyncConnection:
        return await self.transaction.core()
