"""The read path of the quota service: what the GET routes return, read straight from the
engine (one short connection per query, no unit of work, no bus). Nothing here writes."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from koshiqon.quota.adapters.repository.sql import (
    QUOTA_COLUMNS,
    every,
    history_of,
    one,
    quota_of,
    reservation_of,
    territory_of,
)
from koshiqon.quota.domain.errors import QuotaNotFound
from koshiqon.quota.domain.model import (
    HistoryEntry,
    Kind,
    Quota,
    Reservation,
    Territory,
    TerritoryKind,
    TerritoryStatus,
)


async def get_quota(engine: AsyncEngine, quota_id: UUID) -> Quota:
    """The quota, or QuotaNotFound."""
    async with engine.connect() as connection:
        return await _quota(connection, quota_id)


async def list_quotas(
    engine: AsyncEngine,
    *,
    kind: Kind | None,
    region: str | None,
    year: int | None,
    after: UUID | None,
    limit: int,
) -> list[Quota]:
    """Quotas by id after `after`, filtered by kind, region and a year their period covers."""
    async with engine.connect() as connection:
        rows = await every(
            connection,
            f"SELECT {QUOTA_COLUMNS} FROM quotas WHERE (CAST(:kind AS text) IS NULL OR "
            "kind = :kind) AND (CAST(:region AS text) IS NULL OR region = :region) AND "
            "(CAST(:year AS integer) IS NULL OR :year BETWEEN year_from AND year_to) AND "
            "(CAST(:after AS uuid) IS NULL OR id > :after) ORDER BY id LIMIT :n",
            kind=kind,
            region=region,
            year=year,
            after=after,
            n=limit,
        )
    return [quota_of(r) for r in rows]


async def ledger(
    engine: AsyncEngine, quota_id: UUID, *, after: UUID | None, limit: int
) -> list[Reservation]:
    """A quota's ledger entries by application id after `after`; QuotaNotFound for none."""
    async with engine.connect() as connection:
        await _quota(connection, quota_id)
        rows = await every(
            connection,
            "SELECT * FROM reservations WHERE quota_id = :id AND "
            "(CAST(:after AS uuid) IS NULL OR application_id > :after) "
            "ORDER BY application_id LIMIT :n",
            id=quota_id,
            after=after,
            n=limit,
        )
    return [reservation_of(r) for r in rows]


async def history(
    engine: AsyncEngine, quota_id: UUID, *, after: int | None, limit: int
) -> list[HistoryEntry]:
    """A quota's limit changes in order, after sequence number `after`; QuotaNotFound for
    none."""
    async with engine.connect() as connection:
        await _quota(connection, quota_id)
        rows = await every(
            connection,
            'SELECT id, quota_id, action, previous_limit, "limit", delta, reason, reference, '
            "proposal_id, actor, recorded_at FROM quota_history WHERE quota_id = :id "
            "AND id > coalesce(CAST(:after AS bigint), 0) ORDER BY id LIMIT :n",
            id=quota_id,
            after=after,
            n=limit,
        )
    return [history_of(r) for r in rows]


async def list_territories(
    engine: AsyncEngine,
    *,
    region: str | None,
    kind: TerritoryKind | None,
    status: TerritoryStatus | None,
    after: UUID | None,
    limit: int,
) -> list[Territory]:
    """Designated (and excluded) territories by id after `after`, filtered."""
    async with engine.connect() as connection:
        rows = await every(
            connection,
            "SELECT * FROM territories WHERE (CAST(:region AS text) IS NULL OR region = :region) "
            "AND (CAST(:kind AS text) IS NULL OR kind = :kind) AND (CAST(:status AS text) IS NULL "
            "OR status = :status) AND (CAST(:after AS uuid) IS NULL OR id > :after) "
            "ORDER BY id LIMIT :n",
            region=region,
            kind=kind,
            status=status,
            after=after,
            n=limit,
        )
    return [territory_of(r) for r in rows]


async def _quota(connection: AsyncConnection, quota_id: UUID) -> Quota:
    row = await one(connection, f"SELECT {QUOTA_COLUMNS} FROM quotas WHERE id = :id", id=quota_id)
    if row is None:
        raise QuotaNotFound(f"no quota {quota_id}")
    return quota_of(row)
