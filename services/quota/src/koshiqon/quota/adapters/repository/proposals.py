"""Approved proposals whose effect was applied (or refused): each is applied once."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from koshiqon.quota.adapters.repository.sql import (
    SqlRepository,
)


class SqlProposalRepository(SqlRepository):
    async def claim_proposal(self, proposal_id: UUID, *, now: datetime) -> bool:
        """False when this proposal's effect was already applied or refused."""
        row = await self._one(
            "INSERT INTO applied_proposals (proposal_id, outcome, applied_at) "
            "VALUES (:id, 'applied', :now) ON CONFLICT DO NOTHING RETURNING proposal_id",
            id=proposal_id,
            now=now,
        )
        return row is not None

    async def mark_proposal_refused(self, proposal_id: UUID) -> None:
        await self._one(
            "UPDATE applied_proposals SET outcome = 'refused' WHERE proposal_id = :id "
            "RETURNING proposal_id",
            id=proposal_id,
        )
