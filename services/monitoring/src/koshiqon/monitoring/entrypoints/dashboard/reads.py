"""What the dashboard reads beyond `koshiqon.monitoring.queries`: a region's flows by month
and legal status, its flows by counterpart, its proposals with their states, and the active
alerts of every region. Plain functions over the engine, on the live projections (`p_*`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from koshiqon.monitoring.adapters.repository.sql import every, loads
from koshiqon.monitoring.domain.periods import Period

PROPOSALS_SHOWN = 200


@dataclass(frozen=True)
class MonthlyFlow:
    month: date
    scope: str
    direction: str
    legal_status: str
    persons: int


@dataclass(frozen=True)
class CounterpartFlow:
    scope: str
    direction: str
    counterpart: str
    persons: int


@dataclass(frozen=True)
class ProposalState:
    proposal_id: UUID
    type: str
    stage: str
    stage_at: datetime
    first_at: datetime


@dataclass(frozen=True)
class ActiveAlert:
    region: str
    period: str
    period_from: date
    period_to: date
    raised_at: datetime
    net_departures: int | None
    natural_increase: int | None


async def monthly_flows(engine: AsyncEngine, kato: str, period: Period) -> list[MonthlyFlow]:
    async with engine.connect() as connection:
        rows = await every(
            connection,
            "SELECT month, scope, direction, legal_status, sum(persons)::bigint AS persons "
            "FROM p_flows WHERE region = :kato AND month >= :start AND month <= :end "
            "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
            kato=kato, start=period.start.replace(day=1), end=period.end,
        )  # fmt: skip
    return [MonthlyFlow(r.month, r.scope, r.direction, r.legal_status, r.persons) for r in rows]


async def counterpart_flows(
    engine: AsyncEngine, kato: str, period: Period
) -> list[CounterpartFlow]:
    async with engine.connect() as connection:
        rows = await every(
            connection,
            "SELECT scope, direction, counterpart, sum(persons)::bigint AS persons FROM p_flows "
            "WHERE region = :kato AND month >= :start AND month <= :end GROUP BY 1, 2, 3 "
            "ORDER BY 4 DESC, 1, 2, 3",
            kato=kato, start=period.start.replace(day=1), end=period.end,
        )  # fmt: skip
    return [CounterpartFlow(r.scope, r.direction, r.counterpart, r.persons) for r in rows]


async def proposal_states(engine: AsyncEngine, kato: str) -> list[ProposalState]:
    """The region's proposals, the latest moved first (at most `PROPOSALS_SHOWN`)."""
    async with engine.connect() as connection:
        rows = await every(
            connection,
            "SELECT proposal_id, type, stage, stage_at, first_at FROM p_proposal_states "
            "WHERE region = :kato ORDER BY stage_at DESC, proposal_id LIMIT :limit",
            kato=kato, limit=PROPOSALS_SHOWN,
        )  # fmt: skip
    return [ProposalState(r.proposal_id, r.type, r.stage, r.stage_at, r.first_at) for r in rows]


async def active_alerts(engine: AsyncEngine, kato: str | None = None) -> list[ActiveAlert]:
    """The §8 alerts not cleared, of one region or of all, the latest raised first."""
    async with engine.connect() as connection:
        rows = await every(
            connection,
            "SELECT region, period, period_from, period_to, raised_at, figures::text AS figures "
            "FROM alerts WHERE active AND (CAST(:kato AS text) IS NULL OR region = :kato) "
            "ORDER BY raised_at DESC, alert_id",
            kato=kato,
        )  # fmt: skip
    out = []
    for r in rows:
        figures = loads(r.figures)
        out.append(
            ActiveAlert(
                r.region.strip(), r.period, r.period_from, r.period_to, r.raised_at,
                figures.get("net_departures"), figures.get("natural_increase"),
            )
        )  # fmt: skip
    return out
