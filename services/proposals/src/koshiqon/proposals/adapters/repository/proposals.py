"""Proposals and their history, in SQLAlchemy Core constructs on the unit of work's
transaction (the JSONB columns as Python values)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from koshiqon.common.unit_of_work import Transaction
from koshiqon.proposals.adapters.repository.rows import (
    proposal_of,
    proposal_values,
    transition_of,
    transition_values,
)
from koshiqon.proposals.adapters.tables import proposal_history, proposals
from koshiqon.proposals.domain.model import Proposal, Transition


class SqlProposalRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def add(self, proposal: Proposal, transition: Transition) -> bool:
        """The new proposal and its first history entry; False (nothing written) when a
        proposal of its alert exists already."""
        connection = await self.transaction.core()
        statement = (
            pg_insert(proposals)
            .values(proposal_values(proposal))
            .on_conflict_do_nothing(index_elements=["alert_id"])
            .returning(proposals.c.id)
        )
        if (await connection.execute(statement)).first() is None:
            return False
        await self.record(proposal.id, transition)
        return True

    async def get(self, proposal_id: UUID, *, lock: bool = True) -> Proposal | None:
        """The proposal, its row locked until the transaction ends (unless `lock` is False)."""
        connection = await self.transaction.core()
        statement = select(proposals).where(proposals.c.id == proposal_id)
        row = (await connection.execute(statement.with_for_update() if lock else statement)).first()
        return None if row is None else proposal_of(row)

    async def by_alert(self, alert_id: UUID) -> Proposal | None:
        connection = await self.transaction.core()
        statement = select(proposals).where(proposals.c.alert_id == alert_id).with_for_update()
        row = (await connection.execute(statement)).first()
        return None if row is None else proposal_of(row)

    async def save(self, proposal: Proposal, transition: Transition) -> None:
        """The proposal's new state and the history entry that led to it."""
        connection = await self.transaction.core()
        values = proposal_values(proposal)
        del values["id"]
        await connection.execute(
            update(proposals).where(proposals.c.id == proposal.id).values(values)
        )
        await self.record(proposal.id, transition)

    async def record(self, proposal_id: UUID, transition: Transition) -> None:
        connection = await self.transaction.core()
        await connection.execute(
            insert(proposal_history).values(transition_values(proposal_id, transition))
        )

    async def history(self, proposal_id: UUID) -> list[Transition]:
        connection = await self.transaction.core()
        statement = (
            select(proposal_history)
            .where(proposal_history.c.proposal_id == proposal_id)
            .order_by(proposal_history.c.id)
        )
        return [transition_of(r) for r in await connection.execute(statement)]

    async def pending_evidence(self, *, limit: int) -> list[Proposal]:
        """Submitted proposals still without their snapshot, oldest first, locked (others
        running the same job skip them)."""
        connection = await self.transaction.core()
        statement = (
            select(proposals)
            .where(proposals.c.evidence_status == "pending")
            .order_by(proposals.c.submitted_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [proposal_of(r) for r in await connection.execute(statement)]

    async def stuck(
        self, *, approved_before: datetime, published_before: datetime, limit: int
    ) -> list[Proposal]:
        """Approved proposals quota has not answered since `approved_before`, whose approval
        was last sent before `published_before`, locked."""
        connection = await self.transaction.core()
        statement = (
            select(proposals)
            .where(
                and_(
                    proposals.c.status == "approved",
                    proposals.c.effect.is_not(None),
                    proposals.c.approved_at < approved_before,
                    or_(
                        proposals.c.published_at.is_(None),
                        proposals.c.published_at < published_before,
                    ),
                )
            )
            .order_by(proposals.c.approved_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [proposal_of(r) for r in await connection.execute(statement)]

    async def count_stuck(self, *, approved_before: datetime) -> int:
        connection = await self.transaction.core()
        statement = select(func.count()).where(
            proposals.c.status == "approved",
            proposals.c.effect.is_not(None),
            proposals.c.approved_at < approved_before,
        )
        return int((await connection.execute(statement)).scalar_one())
