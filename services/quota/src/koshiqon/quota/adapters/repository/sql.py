"""What the quota repositories and queries share: SQLAlchemy Core `text()` statements on the
unit of work's `AsyncConnection` (no ORM), each parsed once, and the rows mapped to domain
objects."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import asyncpg
from sqlalchemy import Row, TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from koshiqon.common.unit_of_work import Transaction
from koshiqon.quota.domain.model import (
    Category,
    DenialReason,
    HistoryEntry,
    Kind,
    Outcome,
    Period,
    Quota,
    QuotaStatus,
    ReleaseReason,
    Reservation,
    ReservationStatus,
    Territory,
    TerritoryKind,
    TerritoryStatus,
)

QUOTA_COLUMNS = (
    'id, kind, region, year_from, year_to, category, "limit", reserved, consumed, status, '
    "version, created_at"
)


class SqlRepository:
    """A repository in the unit of work's transaction, on its Core connection."""

    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def _one(self, sql: str, **params: Any) -> Row[Any] | None:
        return await one(await self.transaction.core(), sql, **params)

    async def _all(self, sql: str, **params: Any) -> Sequence[Row[Any]]:
        return await every(await self.transaction.core(), sql, **params)


async def one(connection: AsyncConnection, sql: str, **params: Any) -> Row[Any] | None:
    return (await connection.execute(_text(sql), params)).first()


async def every(connection: AsyncConnection, sql: str, **params: Any) -> Sequence[Row[Any]]:
    return (await connection.execute(_text(sql), params)).all()


@lru_cache(maxsize=256)
def _text(sql: str) -> TextClause:
    """The statement parsed once (its bind parameters found once) per distinct SQL."""
    return text(sql)


def attributes(record: asyncpg.Record) -> Any:
    """An asyncpg record (a `Transaction.read` or `last` row) read by attribute, as a Core
    row is, for the mappers below."""
    return SimpleNamespace(**dict(record.items()))


def quota_of(r: Row[Any]) -> Quota:
    return Quota(
        id=r.id,
        kind=Kind(r.kind),
        region=r.region,
        period=Period(r.year_from, r.year_to),
        category=Category(r.category) if r.category else None,
        limit=r.limit,
        reserved=r.reserved,
        consumed=r.consumed,
        status=QuotaStatus(r.status),
        version=r.version,
        created_at=r.created_at,
    )


def territory_of(r: Row[Any]) -> Territory:
    return Territory(
        id=r.id,
        kato=r.kato,
        region=r.region,
        kind=TerritoryKind(r.kind),
        effective_from=r.effective_from,
        decision=r.decision,
        status=TerritoryStatus(r.status),
        excluded_from=r.excluded_from,
        exclusion_decision=r.exclusion_decision,
        created_at=r.created_at,
    )


def reservation_of(r: Row[Any]) -> Reservation:
    return Reservation(
        application_id=r.application_id,
        quota_id=r.quota_id,
        kind=Kind(r.kind),
        region=r.region,
        year=r.year,
        category=Category(r.category) if r.category else None,
        persons=r.persons,
        status=ReservationStatus(r.status),
        outcome=Outcome(r.outcome or "reserved"),
        denial_reason=DenialReason(r.denial_reason) if r.denial_reason else None,
        remaining_at_denial=r.remaining_at_denial,
        release_reason=ReleaseReason(r.release_reason) if r.release_reason else None,
        requested_at=r.requested_at,
        updated_at=r.updated_at,
        remaining_at_reservation=r.remaining_at_reservation,
    )


def history_of(r: Row[Any]) -> HistoryEntry:
    return HistoryEntry(
        quota_id=r.quota_id,
        seq=r.id,
        action=r.action,
        previous_limit=r.previous_limit,
        limit=r.limit,
        delta=r.delta,
        reason=r.reason,
        reference=r.reference,
        proposal_id=r.proposal_id,
        actor=r.actor,
        recorded_at=r.recorded_at,
    )
