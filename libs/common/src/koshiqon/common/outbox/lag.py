"""How far a service's outbox is behind: unpublished rows (parked ones aside) and the age
of the oldest."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from koshiqon.common.database.roles import asyncpg_dsn


@dataclass(frozen=True)
class Lag:
    unpublished: int
    oldest_age_seconds: float


async def lag(conn: asyncpg.Connection) -> Lag:
    row = await conn.fetchrow(
        "SELECT count(*) AS n, "
        "coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age "
        "FROM outbox WHERE published_at IS NULL AND parked_at IS NULL"
    )
    assert row is not None
    return Lag(unpublished=int(row["n"]), oldest_age_seconds=float(row["age"]))


async def outbox_lag(dsn: str, *, schema: str) -> Lag:
    """The lag of one service's outbox, on a connection of its own (for health and tests)."""
    conn = await asyncpg.connect(asyncpg_dsn(dsn), server_settings={"search_path": schema})
    try:
        return await lag(conn)
    finally:
        await conn.close()
