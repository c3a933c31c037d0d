"""What the monitoring repositories and queries share: SQLAlchemy Core `text()` statements
(each parsed once) on a Core connection, and the projection tables' prefix (`p_` live,
`rb_` while a rebuild fills fresh copies)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

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
