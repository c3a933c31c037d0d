"""The read path of the proposals service: what the GET routes return, read straight from the
engine (one short connection per query, no unit of work). Nothing here writes. A caller
limited to a region reads that region's proposals and rules only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import ColumnElement, and_, select, true
from sqlalchemy.ext.asyncio import AsyncEngine

from koshiqon.common.events.proposals import ProposalType
from koshiqon.common.messagebus import Actor
from koshiqon.proposals.adapters.repository.rows import proposal_of, rules_of, transition_of
from koshiqon.proposals.adapters.tables import proposal_history, proposals, regional_rules
from koshiqon.proposals.domain.errors import ProposalNotFound, RulesNotFound
from koshiqon.proposals.domain.model import AWAITING_REVIEW, Proposal, Status, Transition
from koshiqon.proposals.domain.rules import RegionalRules, diff


@dataclass(frozen=True)
class ProposalFilter:
    region: str | None = None
    status: Status | None = None
    type: ProposalType | None = None
    overdue: bool | None = None
    stuck: bool | None = None


def _overdue(now: datetime) -> ColumnElement[bool]:
    return and_(
        proposals.c.status.in_([s.value for s in AWAITING_REVIEW]),
        proposals.c.review_due_at < now,
    )


def _stuck(now: datetime, after: timedelta) -> ColumnElement[bool]:
    return and_(
        proposals.c.status == Status.APPROVED.value,
        proposals.c.effect.is_not(None),
        proposals.c.approved_at < now - after,
    )


async def list_proposals(
    engine: AsyncEngine,
    where: ProposalFilter,
    *,
    now: datetime,
    stuck_after: timedelta,
    after: UUID | None,
    limit: int,
) -> list[Proposal]:
    """Proposals by id after `after`, filtered (the region already limited to the caller's)."""
    conditions: list[ColumnElement[bool]] = [true()]
    if where.region is not None:
        conditions.append(proposals.c.region == where.region)
    if where.status is not None:
        conditions.append(proposals.c.status == where.status.value)
    if where.type is not None:
        conditions.append(proposals.c.type == where.type.value)
    if where.overdue is not None:
        conditions.append(_overdue(now) if where.overdue else ~_overdue(now))
    if where.stuck is not None:
        stuck = _stuck(now, stuck_after)
        conditions.append(stuck if where.stuck else ~stuck)
    if after is not None:
        conditions.append(proposals.c.id > after)
    statement = select(proposals).where(*conditions).order_by(proposals.c.id).limit(limit)
    async with engine.connect() as connection:
        return [proposal_of(r) for r in await connection.execute(statement)]


async def get_proposal(
    engine: AsyncEngine, proposal_id: UUID, actor: Actor
) -> tuple[Proposal, list[Transition]]:
    """The proposal with its history, or ProposalNotFound (also for another region's)."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(select(proposals).where(proposals.c.id == proposal_id))
        ).first()
        if row is None or not actor.may_act_in(row.region):
            raise ProposalNotFound(f"no proposal {proposal_id}")
        history = await connection.execute(
            select(proposal_history)
            .where(proposal_history.c.proposal_id == proposal_id)
            .order_by(proposal_history.c.id)
        )
        return proposal_of(row), [transition_of(r) for r in history]


async def list_rules(engine: AsyncEngine, region: str) -> list[RegionalRules]:
    """Every version of the region's rules, newest first."""
    statement = (
        select(regional_rules)
        .where(regional_rules.c.region == region)
        .order_by(regional_rules.c.version.desc())
    )
    async with engine.connect() as connection:
        return [rules_of(r) for r in await connection.execute(statement)]


async def get_rules(engine: AsyncEngine, region: str, rules_id: UUID) -> RegionalRules:
    statement = select(regional_rules).where(
        regional_rules.c.id == rules_id, regional_rules.c.region == region
    )
    async with engine.connect() as connection:
        row = (await connection.execute(statement)).first()
    if row is None:
        raise RulesNotFound(f"no version {rules_id} of region {region}'s rules")
    return rules_of(row)


async def rules_diff(
    engine: AsyncEngine, region: str, rules_id: UUID, against: UUID
) -> tuple[RegionalRules, RegionalRules, str]:
    """This version, the other, and the unified diff from the other to this one."""
    this = await get_rules(engine, region, rules_id)
    other = await get_rules(engine, region, against)
    return this, other, diff(other, this)
